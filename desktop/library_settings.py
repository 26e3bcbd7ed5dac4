"""The library's settings in the app: read on a reader, written by the writer, one store.

The Ollama host and model and the sources per answer live in the library (core
Library.settings() / set_setting), so `folio config` and this app read and write the same
values. `values` is the app's copy, read again after every change of settings (the app's own
and, through the workers' watcher, other processes'); the settings dialog opens on it.
QSettings keeps only the library folder and the window's layout; what an older Folio kept there
is moved into the library once (where the library still has its default), then removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core.answer_types import OllamaStatus, PullProgress
from desktop import loading
from desktop.app_events import SETTINGS, AppEvents, Change
from desktop.chat_panel import ChatPanel
from desktop.documents import DocumentList
from desktop.embedding_models import OllamaChoices, is_ollama_model, ollama_check, ollama_choices
from desktop.ingest import PROGRESS_INTERVAL_S, Ingest
from desktop.live_read import LiveRead
from desktop.settings_dialog import (
    UNKNOWN,
    AppSettings,
    LibraryValues,
    SettingsDialog,
    SettingsValues,
)
from desktop.tasks import Task
from desktop.workers import Workers

if TYPE_CHECKING:
    from core.library import Library


def default_of(name: str) -> str:
    """The default of a library setting (core declares them once)."""
    from core.settings import setting

    return setting(name).default


def move_legacy(library: Library, legacy: dict[str, str]) -> list[str]:
    """Set each legacy value the library still has at its default; the names set."""
    from core.errors import FolioError

    current = library.settings()
    moved = []
    for name, value in legacy.items():
        if current.get(name) != default_of(name) or value == current.get(name):
            continue
        try:
            library.set_setting(name, value)
        except FolioError:  # a value the library refuses is not worth keeping
            continue
        moved.append(name)
    return moved


def embedding_check(name: str) -> Task[str]:
    """Can the picked model be loaded (bundled, cached or downloadable)? "" if it can."""
    def work(_lib: object, _task: Task[str]) -> str:
        from core.embedding import model_problem
        from core.engine import model_cache_dir

        return model_problem(name, model_cache_dir()) or ""
    return Task(work, "embedding-check", needs_library=False)


class LibrarySettings(QObject):
    """The library's settings, Ollama's status for them, and the settings dialog."""

    ollama_checked = Signal(OllamaStatus)
    library_chosen = Signal(Path)  # the dialog named another library folder

    def __init__(self, workers: Workers, events: AppEvents, app_settings: AppSettings,
                 chat: ChatPanel, documents: DocumentList, ingest: Ingest,
                 dialog_parent: QWidget, library_root: Callable[[], Path],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.app_settings = app_settings
        self.chat = chat
        self.documents = documents
        self.ingest = ingest
        self.dialog_parent = dialog_parent
        self.library_root = library_root
        self.values: LibraryValues | None = None  # None until read
        self.ollama: OllamaStatus | None = None
        self._waiting: list[SettingsDialog] = []  # dialogs opened before values were read
        self._read: LiveRead[dict[str, str]] = LiveRead(
            workers, "settings", lambda lib: lib.settings(), self._on_settings, watched=True)
        self._status: LiveRead[OllamaStatus] = LiveRead(
            workers, "ollama", lambda lib: lib.ollama_status(), self._on_status)
        events.library_changed.connect(self._on_library_changed)

    def start(self) -> None:
        """At start: move an older Folio's settings in first, then read and check them."""
        legacy = self.app_settings.legacy_values()
        if not legacy:
            self._on_library_changed(SETTINGS)
            return
        # The task's change event has them read and Ollama checked, once they are in.
        task: Task[list[str]] = Task(lambda lib, _t: move_legacy(lib, legacy), "settings-move",
                                     change=SETTINGS, cancellable=False)
        task.on_success(lambda _moved: self.app_settings.forget_legacy())
        self.workers.write(task)

    def _on_library_changed(self, change: Change) -> None:
        if change.touches_settings:
            self._read.refresh()
            self.check_ollama()

    def _on_settings(self, settings: dict[str, str]) -> None:
        self.values = LibraryValues.of(settings)
        for dialog in self._waiting:
            dialog.set_library_values(self.values)
        self._waiting.clear()

    # --- Ollama -------------------------------------------------------------------------------

    def check_ollama(self) -> None:
        self._status.refresh()

    def _on_status(self, status: OllamaStatus) -> None:
        self.ollama = status
        self.chat.set_ollama_status(status)
        self.ollama_checked.emit(status)

    def pull_model(self, name: str, host: str | None = None,
                   show: Callable[[PullProgress | None, str | None], object] | None = None,
                   failed: Callable[[str], object] | None = None) -> Task[bool]:
        """Pull name from the library's Ollama (or the one at host); show(progress, message)
        is given the progress (the chat panel's by default) and None at the end, failed (else
        show) the reason a pull failed. Cancelled by the task's cancel."""
        shown = show or self.chat.set_pull_progress

        def work(lib: Library, task: Task[bool]) -> bool:
            return lib.pull_model(name, host or None,
                                  progress=lambda p: task.report(p, force=False),
                                  cancel=task.cancel)

        def pulled(ok: bool) -> None:
            shown(None, None if ok or show is None else f"Stopped pulling {name}.")
            self.check_ollama()
        shown(PullProgress(f"Pulling {name}"), None)
        task: Task[bool] = Task(work, "pull", PROGRESS_INTERVAL_S)
        task.on_progress(lambda value: shown(value, None)
                         if isinstance(value, PullProgress) else None)
        task.on_failure(failed or (lambda message: shown(None, message)))
        self.workers.read(task.on_success(pulled))
        return task

    # --- the dialog ---------------------------------------------------------------------------

    def open_dialog(self) -> SettingsDialog:
        known = self.values or UNKNOWN
        current = SettingsValues(self.app_settings.library, known.ollama_host,
                                 known.ollama_model, known.sources, known.embedding_model,
                                 known.prompt_sources)
        models = [m.name for m in (self.ollama.models if self.ollama else ()) if m.chat]
        passages = sum(d.passages for d in self.documents.documents)
        dialog = SettingsDialog(current, loading.library_dir(""), models, passages,
                                self.dialog_parent)
        if self.values is None:
            dialog.set_library_pending()
            self._waiting.append(dialog)
            self._read.refresh()
        self.workers.read(Task(loading.embedding_choices, "models", needs_library=False)
                          .on_success(dialog.set_embedding_models))
        # dialog.initial, not current: the library's values may be filled in after opening.
        dialog.accepted.connect(lambda: self.apply(dialog.values(), dialog.initial))
        dialog.embedding_check_requested.connect(lambda name: self._check(dialog, name))
        dialog.ollama_models_requested.connect(lambda host: self._list_ollama(dialog, host))
        dialog.pull_requested.connect(lambda name: self._pull_for(dialog, name))
        dialog.request_ollama_models()
        dialog.open()
        return dialog

    def _check(self, dialog: SettingsDialog, name: str) -> None:
        """Can name be used now? Asked of fastembed's catalog, or of Ollama for ollama:NAME (at
        the host the dialog names: its settings are written before the switch runs)."""
        if is_ollama_model(name):
            task = ollama_check(name, dialog.host.text().strip())
            # A check that could not run says nothing: the switch itself still says why.
            self.workers.read(task.on_success(lambda problem: dialog.embedding_checked(name, problem))
                              .on_failure(lambda _message: dialog.embedding_checked(name, "")))
            return
        self.workers.read(
            embedding_check(name)
            .on_success(lambda problem: dialog.embedding_checked(name, problem))
            .on_failure(lambda _message: dialog.embedding_checked(name, "")))

    def _list_ollama(self, dialog: SettingsDialog, host: str,
                     then: Callable[[OllamaChoices], object] | None = None) -> None:
        task = ollama_choices(host).on_success(dialog.set_ollama_choices)
        task.on_failure(lambda message: dialog.set_ollama_choices(OllamaChoices(
            host, (), (), f"Ollama's embedding models cannot be listed: {message}")))
        if then is not None:
            task.on_success(then)
        self.workers.read(task)

    def _pull_for(self, dialog: SettingsDialog, name: str) -> None:
        """Pull an embedding model from the dialog, with its progress there; once it is in,
        the list is read again and the model picked (so it is checked, and OK switches)."""
        host = dialog.host.text().strip()

        def pulled(ok: bool) -> None:
            if ok and dialog.isVisible():
                dialog.set_pull_progress(None, f"Pulled {name}.")
                self._list_ollama(dialog, host, lambda _choices: dialog.select_embedding_model(
                    f"ollama:{name}"))
        task = self.pull_model(name, host, dialog.set_pull_progress, dialog.pull_failed)
        task.on_success(pulled)
        stop = task.cancel.set
        dialog.pull_cancel_requested.connect(stop)

        def ended() -> None:
            with contextlib.suppress(RuntimeError, TypeError):  # the dialog may be gone
                dialog.pull_cancel_requested.disconnect(stop)
        task.on_finished(ended)

    def apply(self, values: SettingsValues, before: SettingsValues) -> None:
        """A new folder is switched to first, so the values shown are written to the library
        the app now uses (the writer runs its tasks in order)."""
        if values.library != before.library:
            self.app_settings.set_library(values.library)
            self.library_chosen.emit(loading.library_dir(values.library))
        wanted, shown = values.of_library.as_settings(), before.of_library.as_settings()
        changed = {k: v for k, v in wanted.items() if v != shown[k]}
        if changed:
            self.write(changed)
            if self.values is not None:  # what the library holds once the write is done
                self.values = LibraryValues.of({**self.values.as_settings(), **changed,
                                                "embedding-model": self.values.embedding_model})
        if values.embedding_model not in (before.embedding_model, "…"):
            name = values.embedding_model
            task = self.ingest.change_embedding_model(name)
            # The switch announces a change of documents, not of settings: the model is noted
            # here at once (a dialog opened next shows it), then read again.
            task.on_success(lambda ok: self._switched(name) if ok else None)

    def _switched(self, name: str) -> None:
        if self.values is not None:
            self.values = replace(self.values, embedding_model=name)
        self._read.refresh()

    def write(self, settings: dict[str, str]) -> Task[None]:
        """Set library settings through the writer (core validates them)."""
        def work(lib: Library, _task: Task[None]) -> None:
            for name, value in settings.items():
                lib.set_setting(name, value)
        task: Task[None] = Task(work, "settings", change=SETTINGS, cancellable=False)
        task.on_failure(self.ingest.failed.emit)
        task.on_failure(lambda _message: self._read.refresh())  # what the library kept after all
        self.workers.write(task)
        return task
