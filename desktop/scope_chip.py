"""The chip above the question box that says which documents a question is asked within."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

CHIP_STYLE = ("#scopeChip { border: 1px solid palette(mid); border-radius: 10px; "
              "background: palette(alternate-base); }")
CHIP_TITLE_CHARS = 40


class ScopeChip(QWidget):
    """Hidden while questions go to the whole library; ✕ removes the scope."""

    cleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scopeChip")
        self.setStyleSheet(CHIP_STYLE)
        self.label = QLabel(self)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Ask the whole library again")
        self.close_button.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 1, 2, 1)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.ids: list[int] = []
        self.hide()

    def set_scope(self, ids: Sequence[int], titles: Sequence[str]) -> None:
        self.ids = list(ids)
        if not self.ids:
            self.clear()
            return
        first = titles[0] if titles else "1 document"
        if len(first) > CHIP_TITLE_CHARS:
            first = first[:CHIP_TITLE_CHARS - 1] + "…"
        more = f" and {len(self.ids) - 1} more" if len(self.ids) > 1 else ""
        self.label.setText(f"In {first}{more} only")
        self.setToolTip("Questions are answered from these documents only:\n" + "\n".join(titles))
        self.show()

    def clear(self) -> None:
        was = bool(self.ids)
        self.ids = []
        self.hide()
        if was:
            self.cleared.emit()
