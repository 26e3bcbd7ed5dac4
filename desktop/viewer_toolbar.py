"""The viewer's controls: zoom in and out, actual size, fit width, fit page, and the page box."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.25, 8.0


def clamp_zoom(factor: float) -> float:
    return max(MIN_ZOOM, min(MAX_ZOOM, factor))


def _action(parent: QWidget, text: str, tip: str, keys: list[str], slot: Callable[[], object],
            context: Qt.ShortcutContext) -> QAction:
    action = QAction(text, parent)
    action.setToolTip(f"{tip} ({keys[0]})" if keys else tip)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(context)
    action.triggered.connect(slot)
    parent.addAction(action)
    return action


class ViewerToolbar(QWidget):
    """Buttons over the PDF; the keys work as well (zoom anywhere in the window, paging in the
    viewer only, so that Home and End still move the cursor in the question box)."""

    page_entered = Signal(str)  # what was typed in the page box: a page label or a number

    def __init__(self, viewer: QWidget, zoom_in: Callable[[], object],
                 zoom_out: Callable[[], object], actual_size: Callable[[], object],
                 fit_width: Callable[[], object], fit_page: Callable[[], object],
                 previous: Callable[[], object], following: Callable[[], object],
                 first: Callable[[], object], last: Callable[[], object]) -> None:
        super().__init__(viewer)
        window = Qt.ShortcutContext.WindowShortcut
        local = Qt.ShortcutContext.WidgetWithChildrenShortcut
        # Ctrl+= as well as Ctrl++: on most keyboards + needs Shift, and people press Ctrl+=.
        self.zoom_in = _action(viewer, "+", "Zoom in", ["Ctrl++", "Ctrl+="], zoom_in, window)
        self.zoom_out = _action(viewer, "−", "Zoom out", ["Ctrl+-"], zoom_out, window)
        self.actual_size = _action(viewer, "100%", "Actual size", ["Ctrl+0"], actual_size, window)
        self.fit_width = _action(viewer, "Fit width", "Fit the page's width", [], fit_width,
                                 window)
        self.fit_page = _action(viewer, "Fit page", "Show the whole page", [], fit_page, window)
        for fit in (self.fit_width, self.fit_page):
            fit.setCheckable(True)
        self.previous = _action(viewer, "◀", "Previous page", ["PgUp"], previous, local)
        self.following = _action(viewer, "▶", "Next page", ["PgDown"], following, local)
        self.first = _action(viewer, "First page", "First page", ["Home"], first, local)
        self.last = _action(viewer, "Last page", "Last page", ["End"], last, local)

        self.page_box = QLineEdit(self)
        self.page_box.setFixedWidth(56)
        self.page_box.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.page_box.setToolTip("Page: type a page number or the page's own label, then Enter")
        self.page_box.returnPressed.connect(lambda: self.page_entered.emit(self.page_box.text()))
        self.page_count = QLabel(self)
        self.zoom_label = QLabel(self)
        self.zoom_label.setMinimumWidth(40)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(2)
        layout.addWidget(self._button(self.previous))
        layout.addWidget(self.page_box)
        layout.addWidget(self.page_count)
        layout.addWidget(self._button(self.following))
        layout.addStretch(1)
        for action in (self.zoom_out,):
            layout.addWidget(self._button(action))
        layout.addWidget(self.zoom_label)
        for action in (self.zoom_in, self.actual_size, self.fit_width, self.fit_page):
            layout.addWidget(self._button(action))

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        return button

    def show_page(self, label: str, number: int, count: int) -> None:
        """The page box shows the page's label ("iv"); the count says which page that is."""
        if not self.page_box.hasFocus():
            self.page_box.setText(label)
        self.page_count.setText(f"of {count}" if label == str(number)
                                else f"({number} of {count})")

    def show_zoom(self, factor: float, mode: str) -> None:
        self.zoom_label.setText(f"{round(factor * 100)}%")
        self.fit_width.setChecked(mode == "width")
        self.fit_page.setChecked(mode == "page")
