"""The main window's settings: the dialog, what its changes start, and the models it names.

Opening the dialog fills in the library's embedding model and its choices from a worker; a
picked embedding model is checked (bundled, cached or downloadable) before it can be chosen, and
accepting re-embeds the library for it. A chat model is pulled from Ollama here too. Each
function takes the MainWindow it works for; every slow call runs in its workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.answer_types import PullProgress
from core.types import AddProgress
from desktop import loading
from desktop.settings_dialog import SettingsDialog, SettingsValues
from desktop.workers import Task

if TYPE_CHECKING:
    from core.library import Library
    from desktop.main_window import MainWindow

PROGRESS_INTERVAL_S = 0.1  # indexing progress reaches the GUI at most ten times a second


def open_settings(window: MainWindow) -> SettingsDialog:
    settings = window.settings
    current = SettingsValues(settings.library, settings.ollama_host, settings.ollama_model,
                             settings.sources, window.embedding_model or "…")
    models = [m.name for m in (window.ollama.models if window.ollama else ()) if m.chat]
    passages = sum(getattr(d, "passages", 0) for d in window.documents)
    dialog = SettingsDialog(current, window.library_root, models, passages, window)
    window.workers.read(Task(loading.embedding_choices, "models")
                        .on_success(lambda names: _fill_embedding(window, dialog, names)))
    # dialog.initial, not current: the library's model is filled in once it is known, and
    # "…" against it read as a change of model (Loading… for the model already in use).
    dialog.accepted.connect(lambda: apply_settings(window, dialog.values(), dialog.initial))
    dialog.embedding_check_requested.connect(lambda name: _check_embedding(window, dialog, name))
    dialog.open()
    return dialog


def _check_embedding(window: MainWindow, dialog: SettingsDialog, name: str) -> None:
    """Can the picked model be loaded (bundled, cached or downloadable)? The dialog is told."""
    def work(_lib: object, _task: Task) -> str | None:
        from core.embedding import model_problem
        from core.library import model_cache_dir

        return model_problem(name, model_cache_dir())
    window.workers.read(Task(work, "embedding-check")
                        .on_success(lambda problem: dialog.embedding_checked(name, problem or ""))
                        .on_failure(lambda _message: dialog.embedding_checked(name, "")),
                        needs_library=False)


def _fill_embedding(window: MainWindow, dialog: SettingsDialog,
                    names: tuple[str, list[tuple[str, str]]]) -> None:
    current, choices = names
    window.embedding_model = current
    if dialog.initial.embedding_model == "…":
        dialog.initial = SettingsValues(**{**dialog.initial.__dict__,
                                           "embedding_model": current})
        dialog.embedding.setItemText(0, current)
        dialog.embedding.setItemData(0, current)
    dialog.set_embedding_models(choices)


def apply_settings(window: MainWindow, values: SettingsValues, before: SettingsValues) -> None:
    window.settings.save(values)
    if values.library != before.library:
        window.switch_library(loading.library_dir(values.library))
    if (values.ollama_host, values.ollama_model) != (before.ollama_host, before.ollama_model):
        window.check_ollama()
    if values.embedding_model not in (before.embedding_model, "…"):
        change_embedding_model(window, values.embedding_model)


def change_embedding_model(window: MainWindow, name: str) -> Task:
    def work(lib: Library, task: Task) -> bool:
        return lib.set_embedding_model(
            name, progress=lambda done, total: task.report((done, total), force=False),
            cancel=task.cancel)

    def progressed(value: object) -> None:
        if isinstance(value, tuple):
            done, total = value
            window.library_panel.set_progress(AddProgress(0, 1, f"Re-embedding for {name}",
                                                          done, total, 0))
    task = Task(work, "embedding-model", PROGRESS_INTERVAL_S).on_progress(progressed)
    task.on_success(lambda ok: window.statusBar().showMessage(
        f"Embedding model: {name}." if ok else "Embedding model unchanged.", 10000))
    return window.start_ingest(task, f"Loading {name}…")


def pull_model(window: MainWindow, name: str) -> None:
    """Pull name from the configured Ollama; the chat panel shows the progress."""
    host = window.settings.ollama_host or None

    def work(lib: Library, task: Task) -> bool:
        return lib.pull_model(name, host, progress=lambda p: task.report(p, force=False),
                              cancel=task.cancel)

    def progressed(value: object) -> None:
        if isinstance(value, PullProgress):
            window.chat.set_pull_progress(value)

    def failed(message: str) -> None:
        window.chat.set_pull_progress(None, message)

    def pulled(_ok: object) -> None:
        window.chat.set_pull_progress(None)
        window.check_ollama()

    window.chat.set_pull_progress(PullProgress(f"Pulling {name}"))
    window.workers.read(Task(work, "pull", PROGRESS_INTERVAL_S).on_progress(progressed)
                        .on_failure(failed).on_success(pulled))
