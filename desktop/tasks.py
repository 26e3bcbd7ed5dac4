"""Units of background work and how their results reach the GUI thread, typed.

`Task[T]` runs `fn(library, task) -> T` and its success carries the T; `StreamTask[Y]` runs a
generator `fn(library, task) -> Iterator[Y]` and emits each value as it comes (`yielded`), in
order (napari's GeneratorWorker). Both can be cancelled (`task.cancel`), report progress at most
once per min_interval_s, ask the GUI a question and wait (a password), and say what they changed
in the library (`Change`, emitted by the Workers on the app's event bus). Workers
(desktop/workers.py) decide which thread runs them.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from core.errors import FolioError
from desktop.app_events import Change

if TYPE_CHECKING:
    from core.library import Library

log = logging.getLogger(__name__)

T = TypeVar("T")
Y = TypeVar("Y")
_PROGRESS, _YIELDED, _CHANGED, _SUCCESS, _FAILURE, _CANCELLED = (
    "progress", "yielded", "changed", "success", "failure", "cancelled")


class Question:
    """A question a worker puts to the user; the GUI thread answers it with reply()."""

    def __init__(self, payload: object) -> None:
        self.payload = payload
        self.answer: object = None
        self.answered = threading.Event()

    def reply(self, value: object) -> None:
        self.answer = value
        self.answered.set()


class BaseTask(QObject):
    """What every task has: cancel, progress, questions, changes, and the end (`finished`)."""

    progressed = Signal(object)
    failed = Signal(str)
    library_changed = Signal(Change)
    finished = Signal()  # after succeeded or failed, or alone when cancelled before it ran
    # Emitted from the worker thread; the task lives on the GUI thread, so the relay slot (and
    # every public signal after it) runs there: callbacks may touch widgets.
    _relay = Signal(str, object)
    _question = Signal(object)

    def __init__(self, name: str, min_interval_s: float = 0.0, change: Change | None = None,
                 needs_library: bool = True, cancellable: bool = True) -> None:
        super().__init__()
        self.name = name
        self.cancel = threading.Event()
        self.done = False
        self.change = change  # what the task changes when it runs (a write), emitted at its end
        self.needs_library = needs_library
        # False for quick writes the user asked for (a setting): they run even at shutdown.
        self.cancellable = cancellable
        self._min_interval_s = min_interval_s
        self._last_report = 0.0
        self._answerer: Callable[[object], object] | None = None
        self._relay.connect(self._on_relay)
        self._question.connect(self._on_question)

    def on_failure(self, callback: Callable[[str], object]) -> BaseTask:
        self.failed.connect(callback)
        return self

    def on_progress(self, callback: Callable[[object], object]) -> BaseTask:
        self.progressed.connect(callback)
        return self

    def on_finished(self, callback: Callable[[], object]) -> BaseTask:
        self.finished.connect(callback)
        return self

    def on_question(self, answerer: Callable[[object], object]) -> BaseTask:
        """answerer(payload) runs on the GUI thread (it may show a dialog) when the work asks."""
        self._answerer = answerer
        return self

    # --- called from the worker thread --------------------------------------------------------

    def report(self, value: object, force: bool = True) -> None:
        """Send value to the GUI; with force=False at most one report per min_interval_s."""
        now = time.monotonic()
        if not force and now - self._last_report < self._min_interval_s:
            return
        self._last_report = now
        self._relay.emit(_PROGRESS, value)

    def changed(self, change: Change) -> None:
        """Say that the work committed a change (panels refresh on the event it becomes)."""
        self._relay.emit(_CHANGED, change)

    def ask(self, payload: object) -> object:
        """Ask the GUI thread and wait for the answer; None if nobody answers or on cancel."""
        question = Question(payload)
        self._question.emit(question)
        while not question.answered.wait(0.1):
            if self.cancel.is_set():
                return None
        return question.answer

    def run(self, library: Library | None) -> None:
        """Run the work on the calling (worker) thread; the outcome is relayed to the GUI."""
        try:
            result = self._work(library)
        except FolioError as exc:
            self._end_change()
            self._relay.emit(_FAILURE, str(exc))
        except Exception as exc:  # a bug must not kill the worker thread silently
            log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self._end_change()
            self._relay.emit(_FAILURE, f"Unexpected error: {exc}")
        else:
            self._end_change()
            self._relay.emit(_SUCCESS, result)

    def skip(self) -> None:
        """End a task that was cancelled before it started: only `finished` is emitted."""
        self._relay.emit(_CANCELLED, None)

    def fail(self, message: str) -> None:
        self._relay.emit(_FAILURE, message)

    def _end_change(self) -> None:
        # A write that failed half-way may still have committed (one transaction per document).
        if self.change:
            self.changed(self.change)

    def _work(self, library: Library | None) -> object:
        raise NotImplementedError

    # --- on the GUI thread ------------------------------------------------------------------

    @Slot(object)
    def _on_question(self, question: Question) -> None:
        question.reply(self._answerer(question.payload) if self._answerer is not None else None)

    @Slot(str, object)
    def _on_relay(self, kind: str, value: object) -> None:
        if kind == _CHANGED:
            assert isinstance(value, Change)
            self.library_changed.emit(value)
            return
        if kind in (_PROGRESS, _YIELDED):
            if not self.done:
                self._deliver(kind, value)
            return
        self.done = True
        if kind == _SUCCESS:
            self._deliver(kind, value)
        elif kind == _FAILURE:
            self.failed.emit(str(value))
        self.finished.emit()

    def _deliver(self, kind: str, value: object) -> None:
        if kind == _PROGRESS:
            self.progressed.emit(value)


class Task(BaseTask, Generic[T]):
    """`fn(library, task) -> T` off the GUI thread; `succeeded` carries the T."""

    succeeded = Signal(object)  # T

    def __init__(self, fn: Callable[[Library, Task[T]], T], name: str = "task",
                 min_interval_s: float = 0.0, change: Change | None = None,
                 needs_library: bool = True, cancellable: bool = True) -> None:
        super().__init__(name, min_interval_s, change, needs_library, cancellable)
        self.fn = fn

    def on_success(self, callback: Callable[[T], object]) -> Task[T]:
        self.succeeded.connect(callback)
        return self

    def _work(self, library: Library | None) -> object:
        return self.fn(library, self)  # type: ignore[arg-type]  # None only when not needed

    def _deliver(self, kind: str, value: object) -> None:
        if kind == _SUCCESS:
            self.succeeded.emit(value)
        else:
            super()._deliver(kind, value)


class StreamTask(BaseTask, Generic[Y]):
    """`fn(library, task) -> Iterator[Y]` off the GUI thread; `yielded` carries each Y in order.

    The generator sees task.cancel and ends itself (core's ask still yields its last event, the
    stopped answer); `finished` follows the last value.
    """

    yielded = Signal(object)  # Y

    def __init__(self, fn: Callable[[Library, StreamTask[Y]], Iterator[Y]], name: str = "stream",
                 change: Change | None = None) -> None:
        super().__init__(name, 0.0, change)
        self.fn = fn

    def on_yielded(self, callback: Callable[[Y], object]) -> StreamTask[Y]:
        self.yielded.connect(callback)
        return self

    def _work(self, library: Library | None) -> object:
        assert library is not None
        for value in self.fn(library, self):
            self._relay.emit(_YIELDED, value)
        return None

    def _deliver(self, kind: str, value: object) -> None:
        if kind == _YIELDED:
            self.yielded.emit(value)
        elif kind == _PROGRESS:
            super()._deliver(kind, value)
