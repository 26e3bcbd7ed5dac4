"""Background work: the only module that starts threads; results reach the GUI thread by signal.

Each Task runs a function `fn(library, task)` away from the GUI thread. Writes (add, remove,
changing the embedding model) go through ONE writer thread, one task after another, because the
library allows a single writer; reads (search, ask, Ollama status, loading a document's text) get a
thread each with their own Library, since a Library is not shared across threads and SQLite in WAL
mode lets readers run beside the writer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot

from core.errors import FolioError

if TYPE_CHECKING:
    from core.library import Library

log = logging.getLogger(__name__)

TaskFn = Callable[["Library", "Task"], Any]
# Opening a library may migrate it; two threads migrating a new library at once collide
# ("table ... already exists"), so opens take turns. An open is a few milliseconds.
_open_lock = threading.Lock()


def open_library(root: Path) -> Library:
    from core.library import Library  # imported off the GUI thread: it is slow

    with _open_lock:
        return Library.open(root)
_PROGRESS, _SUCCESS, _FAILURE = "progress", "success", "failure"


class Question:
    """A question a worker puts to the user; the GUI thread answers it with reply()."""

    def __init__(self, payload: object) -> None:
        self.payload = payload
        self.answer: object = None
        self.answered = threading.Event()

    def reply(self, value: object) -> None:
        self.answer = value
        self.answered.set()


class Task(QObject):
    """One piece of background work. Connect callbacks, then hand it to Workers."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()
    # Emitted from the worker thread; the Task lives on the GUI thread, so the relay slot (and
    # every public signal after it) runs there: callbacks may touch widgets.
    _relay = Signal(str, object)
    _question = Signal(object)

    def __init__(self, fn: TaskFn, name: str = "task", min_interval_s: float = 0.0) -> None:
        super().__init__()
        self.fn = fn
        self.name = name
        self.cancel = threading.Event()
        self.done = False
        self._min_interval_s = min_interval_s
        self._last_report = 0.0
        self._answerer: Callable[[Any], object] | None = None
        self._relay.connect(self._on_relay)
        self._question.connect(self._on_question)

    # --- the call-site style: workers.read(task.on_success(...).on_failure(...)) --------------

    def on_success(self, callback: Callable[[Any], object]) -> Task:
        self.succeeded.connect(callback)
        return self

    def on_failure(self, callback: Callable[[str], object]) -> Task:
        self.failed.connect(callback)
        return self

    def on_progress(self, callback: Callable[[Any], object]) -> Task:
        self.progressed.connect(callback)
        return self

    def on_question(self, answerer: Callable[[Any], object]) -> Task:
        """answerer(payload) runs on the GUI thread (it may show a dialog) when the work asks."""
        self._answerer = answerer
        return self

    def on_finished(self, callback: Callable[[], object]) -> Task:
        self.finished.connect(callback)
        return self

    # --- called from the worker thread --------------------------------------------------------

    def report(self, value: object, force: bool = True) -> None:
        """Send value to the GUI; with force=False at most one report per min_interval_s."""
        now = time.monotonic()
        if not force and now - self._last_report < self._min_interval_s:
            return
        self._last_report = now
        self._relay.emit(_PROGRESS, value)

    def ask(self, payload: object) -> object:
        """Ask the GUI thread and wait for the answer; None if nobody answers or on cancel."""
        question = Question(payload)
        self._question.emit(question)
        while not question.answered.wait(0.1):
            if self.cancel.is_set():
                return None
        return question.answer

    @Slot(object)
    def _on_question(self, question: Question) -> None:
        question.reply(self._answerer(question.payload) if self._answerer is not None else None)

    def run(self, library: Library | None) -> None:
        try:
            result = self.fn(library, self)  # type: ignore[arg-type]
        except FolioError as exc:
            self._relay.emit(_FAILURE, str(exc))
        except Exception as exc:  # a bug must not kill the worker thread silently
            log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self._relay.emit(_FAILURE, f"Unexpected error: {exc}")
        else:
            self._relay.emit(_SUCCESS, result)

    @Slot(str, object)
    def _on_relay(self, kind: str, value: object) -> None:
        if kind == _PROGRESS:
            if not self.done:
                self.progressed.emit(value)
            return
        self.done = True
        if kind == _SUCCESS:
            self.succeeded.emit(value)
        else:
            self.failed.emit(str(value))
        self.finished.emit()


class Workers(QObject):
    """Owns the threads: one writer queue and short-lived reader threads."""

    def __init__(self, root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self._tasks: set[Task] = set()  # referenced until finished, so Python does not drop them
        self._threads: list[threading.Thread] = []
        self._writes: queue.Queue[Task | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="folio-writer", daemon=True)
        self._writer.start()
        self._closed = False

    def set_root(self, root: Path) -> None:
        """Use another library folder from the next task on (the writer reopens before its next)."""
        self.root = root

    def _keep(self, task: Task) -> None:
        self._tasks.add(task)
        task.finished.connect(lambda: self._tasks.discard(task))

    def write(self, task: Task) -> Task:
        """Queue a task that changes the library; tasks run one at a time, in order."""
        self._keep(task)
        self._writes.put(task)
        return task

    def read(self, task: Task, needs_library: bool = True) -> Task:
        """Run a task that only reads, on its own thread with its own Library."""
        self._keep(task)
        root = self.root

        def target() -> None:
            if not needs_library:
                task.run(None)
                return
            try:
                library = open_library(root)
            except Exception as exc:  # the library cannot be used: say why, end the task
                task._relay.emit(_FAILURE, f"Cannot open the library: {exc}")
                return
            try:
                task.run(library)
            finally:
                library.close()

        thread = threading.Thread(target=target, name=f"folio-{task.name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return task

    def _write_loop(self) -> None:
        library: Library | None = None
        while True:
            task = self._writes.get()
            if task is None:
                break
            if task.cancel.is_set():
                task._relay.emit(_SUCCESS, None)
                continue
            try:
                if library is None or library.root != self.root:
                    if library is not None:
                        library.close()
                    library = None
                    library = open_library(self.root)
            except Exception as exc:
                task._relay.emit(_FAILURE, f"Cannot open the library: {exc}")
                continue
            task.run(library)
        if library is not None:
            library.close()

    @property
    def busy(self) -> bool:
        return any(not t.done for t in self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel.set()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Cancel everything and wait (bounded) for the threads, so the library closes cleanly."""
        if self._closed:
            return
        self._closed = True
        self.cancel_all()
        self._writes.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in [self._writer, *self._threads]:
            thread.join(max(0.0, deadline - time.monotonic()))
