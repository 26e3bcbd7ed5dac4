"""A read that is asked for again and again (a list to refresh): at most one runs at a time.

A refresh asked for while one runs is not lost: one more runs after it, so what is shown last
was read after the last request. Many requests in a burst (a folder of files added, the watcher
and the writer both announcing a change) cost at most two reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from desktop.tasks import Task

if TYPE_CHECKING:
    from core.library import Library
    from desktop.workers import Workers

T = TypeVar("T")


class LiveRead(Generic[T]):
    """Runs read(library) on a reader when refresh() is called; then(result) on the GUI thread."""

    def __init__(self, workers: Workers, name: str, read: Callable[[Library], T],
                 then: Callable[[T], object],
                 failed: Callable[[str], object] | None = None, watched: bool = False) -> None:
        """watched: name is one of the workers' WATCHED reads, and each result is what the
        panel shows (the watcher compares the library with it)."""
        self.workers = workers
        self.name = name
        self._read = read
        self._then = then
        self._failed = failed
        self._watched = watched
        self._running = False
        self._again = False

    def refresh(self) -> None:
        if self._running:
            self._again = True
            return
        self._running = True
        read = self._read
        task: Task[T] = Task(lambda lib, _task: read(lib), self.name)
        if self._watched:
            task.on_success(lambda result: self.workers.shown(self.name, result))
        task.on_success(self._then)
        if self._failed is not None:
            task.on_failure(self._failed)
        task.on_finished(self._ended)
        self.workers.read(task)

    def _ended(self) -> None:
        self._running = False
        if self._again:
            self._again = False
            self.refresh()
