"""The question panel's Ollama line: its state, "Check again", "Pull" a model, the pull's progress."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.answer_types import OllamaStatus, PullProgress
from desktop.pull_bar import show_pull_progress


class OllamaStatusRow(QWidget):
    """Shows Ollama's state; asks (by signal) for a new check or a model's download."""

    pull_requested = Signal(str)  # the model to pull
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Checking Ollama…", self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.label.linkActivated.connect(self._on_link)
        self.suggested_model = ""
        self.pull_button = QPushButton("Pull a model", self)
        self.pull_button.clicked.connect(lambda: self.pull_requested.emit(self.suggested_model))
        self.pull_button.hide()
        self.pull_bar = QProgressBar(self)
        self.pull_bar.hide()
        row = QHBoxLayout()
        row.addWidget(self.label, 1)
        row.addWidget(self.pull_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)  # laid out as rows of the panel's own layout
        layout.addLayout(row)
        layout.addWidget(self.pull_bar)
        self.status: OllamaStatus | None = None

    def show_status(self, status: OllamaStatus) -> None:
        # Imported here, not at the top: core.llm loads the ollama client (~0.6 s), and by the
        # time a status arrives a worker has imported it already.
        from core.llm import SUGGESTED_MODEL

        self.suggested_model = SUGGESTED_MODEL
        self.pull_button.setText(f"Pull {SUGGESTED_MODEL}")
        self.status = status
        if status.reachable and status.model:
            text = (f"<span style='color:#2e7d32'>●</span> Ollama {html.escape(status.version or '')}"
                    f" with <b>{html.escape(status.model)}</b>")
        else:
            text = (f"<span style='color:#c62828'>●</span> {html.escape(status.message)} "
                    "<a href='refresh:'>Check again</a>")
        self.label.setText(text)
        self.label.setToolTip(status.message)
        self.pull_button.setVisible(status.reachable and status.model is None)

    def show_pull_progress(self, progress: PullProgress | None, message: str | None = None) -> None:
        """A download's progress; None when it ended, with message saying how, if given."""
        if progress is None:
            self.pull_bar.hide()
            self.pull_button.setEnabled(True)
            if message:
                self.label.setText(html.escape(message))
            return
        self.pull_button.setEnabled(False)
        show_pull_progress(self.pull_bar, progress)

    def _on_link(self, link: str) -> None:
        if link.startswith("refresh:"):
            self.label.setText("Checking Ollama…")
            self.refresh_requested.emit()
