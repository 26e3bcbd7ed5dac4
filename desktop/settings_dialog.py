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
    QPushButton,
    QSpinBox,
    QWidget,
)

DEFAULT_SOURCES = 6
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

    @classmethod
    def of(cls, settings: dict[str, str]) -> LibraryValues:
        try:
            sources = max(1, int(settings.get("answer-sources", "")))
        except ValueError:
            sources = DEFAULT_SOURCES
        return cls(settings.get("ollama-host", ""), settings.get("ollama-model", ""), sources,
                   settings.get("embedding-model", ""))

    def as_settings(self) -> dict[str, str]:
        """The library settings these values set (not the embedding model: it re-embeds)."""
        return {"ollama-host": self.ollama_host, "ollama-model": self.ollama_model,
                "answer-sources": str(self.sources)}


UNKNOWN = LibraryValues("", "", DEFAULT_SOURCES, "…")  # until the library has been read


@dataclass(frozen=True)
class SettingsValues:
    library: str  # "" for the default folder
    ollama_host: str
    ollama_model: str
    sources: int
    embedding_model: str

    @property
    def of_library(self) -> LibraryValues:
        return LibraryValues(self.ollama_host, self.ollama_model, self.sources,
                             self.embedding_model)


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
        self.sources.setToolTip("How many passages an answer is written from")

        self.embedding = QComboBox(self)
        self.embedding.addItem(values.embedding_model, values.embedding_model)
        self.embedding.setToolTip("Changing it re-embeds every passage of the library")
        self.embedding_problem = QLabel(self)
        self.embedding_problem.setWordWrap(True)
        self.embedding_problem.hide()
        self._embedding_checked: dict[str, str] = {}  # model -> why it cannot be used ("": it can)
        self._accept_when_checked = False
        self.embedding.currentIndexChanged.connect(self._on_embedding_picked)

        form = QFormLayout(self)
        form.addRow("Library folder:", library_row)
        form.addRow("Ollama host:", self.host)
        form.addRow("Ollama model:", self.model)
        form.addRow("Sources per answer:", self.sources)
        form.addRow("Embedding model:", self.embedding)
        form.addRow("", self.embedding_problem)
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
        for widget in (self.host, self.model, self.sources, self.embedding):
            widget.setEnabled(False)

    def set_library_values(self, values: LibraryValues) -> None:
        """Show the library's settings (read after the dialog opened) as the starting point."""
        self.initial = SettingsValues(self.initial.library, values.ollama_host,
                                      values.ollama_model, values.sources, values.embedding_model)
        self.host.setText(values.ollama_host)
        self._set_model(values.ollama_model)
        self.sources.setValue(values.sources)
        self.embedding.setItemText(0, values.embedding_model)
        self.embedding.setItemData(0, values.embedding_model)
        for widget in (self.host, self.model, self.sources, self.embedding):
            widget.setEnabled(True)

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
            embedding_model=str(self.embedding.currentData() or self.initial.embedding_model))

    def _on_embedding_picked(self, _index: int) -> None:
        name = str(self.embedding.currentData() or "")
        self._accept_when_checked = False
        self.ok_button.setEnabled(True)
        if not name or name == self.initial.embedding_model:
            self.embedding_problem.hide()
        elif name in self._embedding_checked:
            self._show_embedding_problem(self._embedding_checked[name])
        elif self.isSignalConnected(QMetaMethod.fromSignal(self.embedding_check_requested)):
            self.embedding_problem.setStyleSheet("")
            self.embedding_problem.setText(f"Checking that {name} can be loaded…")
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
                self, "Change the embedding model",
                f"Switching to {chosen} re-embeds all {self.passages} passages of the library "
                "(and downloads the model the first time). This can take a while; searching "
                "keeps working with the old model until it is done. Continue?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        super().accept()
