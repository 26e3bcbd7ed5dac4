"""Settings: the per-machine ones QSettings keeps, the library's, and the dialog for both."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QMetaMethod, QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.answer_types import PullProgress
from core.prompt import BRIEF, sources_wanted
from core.settings import setting as core_setting
from desktop.embedding_models import (
    KNOWN_MODELS,
    OllamaChoices,
    is_ollama_model,
    label_of,
    short_name,
)
from desktop.pull_bar import show_pull_progress

DEFAULT_SOURCES = 6
PROMPT_SOURCES = (("passages", "Whole passages"),
                  ("brief", "Evidence brief: the sentences that matter, twice the sources"))
DEFAULT_PROMPT_SOURCES = core_setting("prompt-sources").default
AUTOMATIC_MODEL = "Automatic (first installed)"
# Not for a text library: image-and-text models (CLIP, SigLIP: their text side reads 64-77
# tokens) and models that are one half of a pair (a query-only or document-only encoder).
NOT_FOR_TEXT = re.compile(r"text\s*&\s*image|\bclip\b|siglip|query-side|document side",
                          re.IGNORECASE)
_LANGUAGES = re.compile(r"multi-?lingual(?: \([^)]*\))?|supports mixed [\w-]+|"
                        r"(?:supports )?(?:English|Chinese)(?: only)?", re.IGNORECASE)


def model_languages(description: str) -> str:
    """The languages a fastembed catalog description names ("English", "Multilingual (~50
    languages)", "Chinese and English")."""
    found = _LANGUAGES.search(description)
    if found is None:
        return "languages not stated"
    text = found.group(0)
    mixed = re.match(r"supports mixed ([\w]+)-(\w+)", text, re.IGNORECASE)
    if mixed:
        return f"{mixed.group(1)} and {mixed.group(2)}"
    text = re.sub(r"^supports |\s+only$", "", text, flags=re.IGNORECASE)
    return text[0].upper() + text[1:]


def embedding_options(catalog: Sequence[dict[str, Any]], bundled: str) -> list[tuple[str, str]]:
    """(name, label) of the text embedding models one can switch to, the bundled one first;
    the label gives the download size and the languages."""
    options = [(bundled, f"{bundled} — bundled, English")]
    for model in catalog:
        name = str(model.get("model", ""))
        description = str(model.get("description", ""))
        if not name or name == bundled or NOT_FOR_TEXT.search(f"{name} {description}"):
            continue
        size = model.get("size_in_GB")
        size_text = f"{float(size) * 1000:.0f} MB" if isinstance(size, int | float) and size < 1 \
            else f"{float(size):.1f} GB" if isinstance(size, int | float) else "size unknown"
        options.append((name, f"{name} — {size_text}, {model_languages(description)}"))
    return options


@dataclass(frozen=True)
class LibraryValues:
    """What the dialog shows of the library's own settings (core Library.settings())."""

    ollama_host: str  # "" for $OLLAMA_HOST, else Ollama's default
    ollama_model: str  # "" for the first installed chat model
    sources: int
    embedding_model: str
    prompt_sources: str = DEFAULT_PROMPT_SOURCES  # what each source in the prompt carries

    @classmethod
    def of(cls, settings: dict[str, str]) -> LibraryValues:
        try:
            sources = max(1, int(settings.get("answer-sources", "")))
        except ValueError:
            sources = DEFAULT_SOURCES
        return cls(settings.get("ollama-host", ""), settings.get("ollama-model", ""), sources,
                   settings.get("embedding-model", ""),
                   settings.get("prompt-sources", DEFAULT_PROMPT_SOURCES))

    def as_settings(self) -> dict[str, str]:
        """The library settings these values set (not the embedding model: it re-embeds)."""
        return {"ollama-host": self.ollama_host, "ollama-model": self.ollama_model,
                "answer-sources": str(self.sources), "prompt-sources": self.prompt_sources}


UNKNOWN = LibraryValues("", "", DEFAULT_SOURCES, "…")  # until the library has been read


@dataclass(frozen=True)
class SettingsValues:
    library: str  # "" for the default folder
    ollama_host: str
    ollama_model: str
    sources: int
    embedding_model: str
    prompt_sources: str = DEFAULT_PROMPT_SOURCES

    @property
    def of_library(self) -> LibraryValues:
        return LibraryValues(self.ollama_host, self.ollama_model, self.sources,
                             self.embedding_model, self.prompt_sources)


# Where versions before the one settings store kept the library's settings, and their names.
LEGACY_KEYS = {"ollama/host": "ollama-host", "ollama/model": "ollama-model",
               "answer/sources": "answer-sources"}


class AppSettings:
    """Typed access to QSettings: which library folder to open and the window's layout (what
    belongs to this machine). The QSettings object is given, so tests use their own file."""

    def __init__(self, settings: QSettings) -> None:
        self.qsettings = settings

    @property
    def library(self) -> str:
        value = self.qsettings.value("library/folder", "")
        return value if isinstance(value, str) else ""

    def set_library(self, folder: str) -> None:
        self.qsettings.setValue("library/folder", folder)
        self.qsettings.sync()

    def legacy_values(self) -> dict[str, str]:
        """Library settings an older Folio kept here (library setting name -> value)."""
        found = {}
        for key, name in LEGACY_KEYS.items():
            value = self.qsettings.value(key)
            if value is not None and str(value).strip():
                found[name] = str(value).strip()
        return found

    def forget_legacy(self) -> None:
        for key in LEGACY_KEYS:
            self.qsettings.remove(key)
        self.qsettings.sync()

    def bytes(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.qsettings.setValue(key, value)

    def sizes(self, key: str) -> list[int] | None:
        value = self.qsettings.value(key)
        if isinstance(value, list) and value:
            try:
                return [int(v) for v in value]
            except (TypeError, ValueError):
                return None
        return None

    def set_sizes(self, key: str, sizes: Sequence[int]) -> None:
        self.qsettings.setValue(key, list(sizes))


class SettingsDialog(QDialog):
    """Edits SettingsValues; asks before a change of embedding model (it re-embeds everything)."""

    # A model was picked: can it be loaded now? The answer comes back by embedding_checked(), so
    # a model that cannot be downloaded is said here, where it was chosen, and not taken.
    embedding_check_requested = Signal(str)
    # The embedding models of the Ollama at this host are wanted (at opening, and when the host
    # field is changed); the answer comes back by set_ollama_choices().
    ollama_models_requested = Signal(str)
    pull_requested = Signal(str)  # pull this model into Ollama; set_pull_progress() follows
    pull_cancel_requested = Signal()

    def __init__(self, values: SettingsValues, default_library: Path, chat_models: Sequence[str],
                 passages: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Folio settings")
        self.initial = values
        self.passages = passages

        self.library = QLineEdit(values.library, self)
        self.library.setPlaceholderText(str(default_library))
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        library_row = QHBoxLayout()
        library_row.addWidget(self.library, 1)
        library_row.addWidget(browse)

        self.host = QLineEdit(values.ollama_host, self)
        self.host.setPlaceholderText("http://127.0.0.1:11434")
        self.model = QComboBox(self)
        self.model.setEditable(True)
        self.model.addItem(AUTOMATIC_MODEL, "")
        for name in chat_models:
            self.model.addItem(name, name)
        self._set_model(values.ollama_model)

        self.sources = QSpinBox(self)
        self.sources.setRange(1, 20)
        self.sources.setValue(values.sources)
        self.sources.setToolTip(
            "How many sources an answer is written from, in passages: 6 sends six whole "
            "passages, or twelve evidence briefs (each about half a passage)")
        self.sources_sent = QLabel(self)  # what the model is sent, with "Each source gives"
        self.sources_sent.setStyleSheet("color: gray;")
        self.prompt_sources = QComboBox(self)
        for value, label in PROMPT_SOURCES:
            self.prompt_sources.addItem(label, value)
        self._set_prompt_sources(values.prompt_sources)
        self.prompt_sources.setToolTip(
            "What the model reads of each source: its whole passage, or only the passage's "
            "sentences that matter for the question (so twice the sources fit)")
        self.sources.valueChanged.connect(self._show_sources_sent)
        self.prompt_sources.currentIndexChanged.connect(self._show_sources_sent)
        self._show_sources_sent()

        self.embedding = QComboBox(self)
        self.embedding.addItem(values.embedding_model, values.embedding_model)
        self.embedding.setToolTip("Changing it re-embeds every passage of the library")
        self.embedding_problem = QLabel(self)
        self.embedding_problem.setWordWrap(True)
        self.embedding_problem.hide()
        self._embedding_checked: dict[str, str] = {}  # model -> why it cannot be used ("": it can)
        self._accept_when_checked = False
        self.embedding.currentIndexChanged.connect(self._on_embedding_picked)
        self.ollama_note = QLabel("", self)  # what the host's Ollama has, or why it cannot say
        self.ollama_note.setWordWrap(True)
        self.ollama_note.setStyleSheet("color: gray;")
        self.ollama_note.hide()
        self._ollama_host_asked: str | None = None
        self.host.editingFinished.connect(self._on_host_edited)

        # Pulling an embedding model into Ollama: a known good one, or any name typed.
        self.pull_name = QComboBox(self)
        self.pull_name.setEditable(True)
        self.pull_name.addItems(KNOWN_MODELS)
        self.pull_name.setToolTip("An embedding model from ollama.com/search?c=embedding")
        self.pull_button = QPushButton("Pull", self)
        self.pull_button.setToolTip("Have Ollama download this embedding model")
        self.pull_button.clicked.connect(self._on_pull)
        self.pull_stop = QPushButton("Stop", self)
        self.pull_stop.clicked.connect(self.pull_cancel_requested.emit)
        self.pull_stop.hide()
        self.pull_bar = QProgressBar(self)
        self.pull_bar.hide()
        self.pull_message = QLabel("", self)
        self.pull_message.setWordWrap(True)
        self.pull_message.hide()
        self.pulling: str | None = None
        pull_row = QHBoxLayout()
        pull_row.addWidget(self.pull_name, 1)
        pull_row.addWidget(self.pull_button)
        pull_row.addWidget(self.pull_stop)

        form = QFormLayout(self)
        form.addRow("Library folder:", library_row)
        form.addRow("Ollama host:", self.host)
        form.addRow("Ollama model:", self.model)
        sources_row = QHBoxLayout()
        sources_row.addWidget(self.sources)
        sources_row.addWidget(self.sources_sent, 1)
        form.addRow("Sources per answer:", sources_row)
        form.addRow("Each source gives:", self.prompt_sources)
        form.addRow("Embedding model:", self.embedding)
        form.addRow("", self.embedding_problem)
        form.addRow("", self.ollama_note)
        form.addRow("Pull from Ollama:", pull_row)
        form.addRow("", self.pull_bar)
        form.addRow("", self.pull_message)
        note = QLabel("A new library folder takes effect at once; an empty one starts empty.", self)
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        form.addRow(buttons)

    def set_library_pending(self) -> None:
        """The library's settings are being read: their fields wait for set_library_values()."""
        for widget in (self.host, self.model, self.sources, self.prompt_sources, self.embedding):
            widget.setEnabled(False)

    def set_library_values(self, values: LibraryValues) -> None:
        """Show the library's settings (read after the dialog opened) as the starting point."""
        self.initial = SettingsValues(self.initial.library, values.ollama_host,
                                      values.ollama_model, values.sources, values.embedding_model,
                                      values.prompt_sources)
        self.host.setText(values.ollama_host)
        self._set_model(values.ollama_model)
        self.sources.setValue(values.sources)
        self._set_prompt_sources(values.prompt_sources)
        self.embedding.setItemText(0, label_of(values.embedding_model)
                                   if is_ollama_model(values.embedding_model)
                                   else values.embedding_model)
        self.embedding.setItemData(0, values.embedding_model)
        for widget in (self.host, self.model, self.sources, self.prompt_sources, self.embedding):
            widget.setEnabled(True)
        if self._ollama_host_asked is None or self._ollama_host_asked != values.ollama_host:
            self.request_ollama_models()  # now that the host is known

    def _set_prompt_sources(self, value: str) -> None:
        self.prompt_sources.setCurrentIndex(max(0, self.prompt_sources.findData(value)))

    def _show_sources_sent(self) -> None:
        kind = str(self.prompt_sources.currentData() or DEFAULT_PROMPT_SOURCES)
        sent = sources_wanted(self.sources.value(), kind)
        noun = "evidence brief" if kind == BRIEF else "passage"
        self.sources_sent.setText(f"{sent} {noun}{'s' if sent != 1 else ''} sent")

    def _set_model(self, name: str) -> None:
        if not name:
            self.model.setCurrentIndex(0)
            return
        index = self.model.findData(name)
        if index < 0:
            self.model.addItem(name, name)
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def set_embedding_models(self, options: Sequence[tuple[str, str]]) -> None:
        """Offer these (name, label) models; the current one takes its label too."""
        for name, label in options:
            index = self.embedding.findData(name)
            if index < 0:
                self.embedding.addItem(label, name)
            else:
                self.embedding.setItemText(index, label)

    # --- Ollama's embedding models -----------------------------------------------------------

    def request_ollama_models(self) -> None:
        """Ask for the embedding models of the Ollama the host field names (once the library's
        host is known: an empty field means $OLLAMA_HOST or Ollama's default)."""
        if not self.host.isEnabled():
            return  # set_library_values() asks
        self._ollama_host_asked = self.host.text().strip()
        self.ollama_note.setText("Asking Ollama for its embedding models…")
        self.ollama_note.show()
        self.ollama_models_requested.emit(self._ollama_host_asked)

    def _on_host_edited(self) -> None:
        if self._ollama_host_asked is not None and \
                self.host.text().strip() != self._ollama_host_asked:
            # Another Ollama: what was checked against the old one no longer holds.
            for name in [n for n in self._embedding_checked if is_ollama_model(n)]:
                del self._embedding_checked[name]
            self.request_ollama_models()

    def set_ollama_choices(self, choices: OllamaChoices) -> None:
        """Offer the host's installed embedding models (and what is worth pulling); models of
        an Ollama asked before are dropped, unless chosen or the library's."""
        wanted = dict(choices.options)
        keep = {self.initial.embedding_model, str(self.embedding.currentData() or "")}
        for index in reversed(range(self.embedding.count())):
            name = str(self.embedding.itemData(index) or "")
            if is_ollama_model(name) and name not in wanted and name not in keep:
                self.embedding.removeItem(index)
        self.set_embedding_models(list(choices.options))
        self.ollama_note.setText(choices.message)
        self.ollama_note.show()
        typed = self.pull_name.currentText()
        self.pull_name.clear()
        self.pull_name.addItems(list(choices.pullable))
        if typed and typed not in KNOWN_MODELS:
            self.pull_name.setEditText(typed)

    def select_embedding_model(self, name: str) -> bool:
        """Pick name in the list (as the user would: it is checked); False if not listed."""
        index = self.embedding.findData(name)
        if index >= 0:
            self.embedding.setCurrentIndex(index)
        return index >= 0

    def _on_pull(self) -> None:
        name = short_name(self.pull_name.currentText())
        if not name or self.pulling:
            return
        self.pulling = name
        self.pull_requested.emit(name)

    def set_pull_progress(self, progress: PullProgress | None, message: str | None = None) -> None:
        """A pull's progress; None when it ended (message: why it failed, or how it went)."""
        if progress is None:
            self.pulling = None
            self.pull_bar.hide()
            self.pull_stop.hide()
            self.pull_button.setEnabled(True)
            self.pull_name.setEnabled(True)
            self.pull_message.setStyleSheet("")
            self.pull_message.setText(message or "")
            self.pull_message.setVisible(bool(message))
            return
        self.pull_button.setEnabled(False)
        self.pull_name.setEnabled(False)
        self.pull_stop.show()
        self.pull_message.hide()
        show_pull_progress(self.pull_bar, progress)

    def pull_failed(self, message: str) -> None:
        self.set_pull_progress(None, message)
        self.pull_message.setStyleSheet("color: red;")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder",
                                                  self.library.text() or str(Path.home()))
        if folder:
            self.library.setText(folder)

    def values(self) -> SettingsValues:
        model = self.model.currentData()
        text = self.model.currentText().strip()
        if model is None or (text and text != self.model.itemText(self.model.currentIndex())):
            model = text
        if text == AUTOMATIC_MODEL:
            model = ""
        return SettingsValues(
            library=self.library.text().strip(), ollama_host=self.host.text().strip(),
            ollama_model=str(model or ""), sources=self.sources.value(),
            embedding_model=str(self.embedding.currentData() or self.initial.embedding_model),
            prompt_sources=str(self.prompt_sources.currentData() or DEFAULT_PROMPT_SOURCES))

    def _on_embedding_picked(self, _index: int) -> None:
        name = str(self.embedding.currentData() or "")
        self._accept_when_checked = False
        self.ok_button.setEnabled(True)
        if is_ollama_model(name):  # Ollama may have stopped or started since: ask again
            self._embedding_checked.pop(name, None)
        if not name or name == self.initial.embedding_model:
            self.embedding_problem.hide()
        elif name in self._embedding_checked:
            self._show_embedding_problem(self._embedding_checked[name])
        elif self.isSignalConnected(QMetaMethod.fromSignal(self.embedding_check_requested)):
            self.embedding_problem.setStyleSheet("")
            self.embedding_problem.setText(
                f"Checking that Ollama can embed with {short_name(name)}…"
                if is_ollama_model(name) else f"Checking that {name} can be loaded…")
            self.embedding_problem.show()
            self.embedding_check_requested.emit(name)

    def embedding_checked(self, name: str, problem: str) -> None:
        """The answer to embedding_check_requested: why name cannot be used, or "" if it can."""
        self._embedding_checked[name] = problem
        if name != self.embedding.currentData():
            return
        self._show_embedding_problem(problem)
        if self._accept_when_checked:  # OK was pressed while the check ran
            self._accept_when_checked = False
            self.ok_button.setEnabled(True)
            if not problem:
                self.accept()

    def _show_embedding_problem(self, problem: str) -> None:
        self.embedding_problem.setStyleSheet("color: red;" if problem else "")
        self.embedding_problem.setText(problem)
        self.embedding_problem.setVisible(bool(problem))

    def accept(self) -> None:
        chosen = self.values().embedding_model
        if chosen != self.initial.embedding_model:
            if self.embedding_problem.isVisible() and chosen not in self._embedding_checked:
                self._accept_when_checked = True  # still checking: accept when it answers
                self.ok_button.setEnabled(False)
                return
            if self._embedding_checked.get(chosen):  # shown under the list; the dialog stays
                self.embedding.setFocus()
                return
            answer = QMessageBox.question(
                self, "Change the embedding model", self._switch_question(chosen))
            if answer != QMessageBox.StandardButton.Yes:
                return
        if self.pulling:  # the dialog's pull ends with it
            self.pull_cancel_requested.emit()
        super().accept()

    def reject(self) -> None:
        if self.pulling:
            self.pull_cancel_requested.emit()
        super().reject()

    def _switch_question(self, chosen: str) -> str:
        if is_ollama_model(chosen):
            host = self.host.text().strip() or "its usual address"
            return (f"Switching to {short_name(chosen)} re-embeds all {self.passages} passages "
                    f"of the library through Ollama at {host}. This can take a while; "
                    "searching keeps working with the old model until it is done. Afterwards, "
                    "while Ollama is not running, search finds passages by their words only "
                    "and documents cannot be added. Continue?")
        return (f"Switching to {chosen} re-embeds all {self.passages} passages of the library "
                "(and downloads the model the first time). This can take a while; searching "
                "keeps working with the old model until it is done. Continue?")
