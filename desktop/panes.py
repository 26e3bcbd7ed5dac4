"""The window's three panes side by side: when the window narrows, the side panes give way first."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSplitter, QWidget

# Below these widths a side pane stops giving way, and only then does the viewer shrink.
SIDE_FLOORS = (200, 300)  # the library list, the question panel
VIEWER_MINIMUM = 320


def share(sizes: Sequence[int], total: int, floors: Sequence[int]) -> list[int]:
    """New pane sizes for a total width: growth goes to the middle pane; shrinking takes from
    the side panes down to their floors (from the wider above its floor first), then from
    the middle, then from the sides again."""
    left, middle, right = sizes
    delta = total - (left + middle + right)
    if delta >= 0:
        return [left, middle + delta, right]
    need = -delta
    spare = [max(0, left - floors[0]), max(0, right - floors[1])]
    taken = [0, 0]
    while need > 0 and any(spare[i] - taken[i] > 0 for i in (0, 1)):
        i = 0 if spare[0] - taken[0] >= spare[1] - taken[1] else 1
        other = 1 - i
        step = max(1, (spare[i] - taken[i]) - (spare[other] - taken[other]))
        step = min(step, spare[i] - taken[i], need)
        taken[i] += step
        need -= step
    left, right = left - taken[0], right - taken[1]
    from_middle = min(need, max(0, middle - VIEWER_MINIMUM))
    middle -= from_middle
    need -= from_middle
    if need > 0:  # all three at their floors: the sides shrink in proportion
        cut_left = need * left // max(1, left + right)
        left, right = left - cut_left, right - (need - cut_left)
    return [left, middle, right]


class Panes(QSplitter):
    """A horizontal splitter whose middle pane (the viewer) is the last to shrink."""

    def __init__(self, widgets: Sequence[QWidget], parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        for widget in widgets:
            self.addWidget(widget)
        self.setChildrenCollapsible(False)
        self.setStretchFactor(1, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        before = self.sizes()
        super().resizeEvent(event)
        if len(before) != 3 or sum(before) <= 0 or event.oldSize().width() <= 0:
            return
        total = sum(self.sizes())
        if total != sum(before):
            self.setSizes(share(before, total, SIDE_FLOORS))
