"""Background work: the only module that starts threads; results reach the GUI thread by signal.

Three kinds of thread, all made once and kept until shutdown (Anki's taskman shape):
  - ONE writer: tasks that change the library (add, remove, settings, the embedding model) run
    there one after another, in order, on a Library the writer keeps open (and prepares once).
  - a small fixed pool of readers: search, ask, loading a document, listing; each reader keeps
    its own Library (its own WAL connection) open across tasks, reopening only when the library
    folder changes, so the engine's caches (the vector index, Ollama's context lengths) stay warm.
  - ONE watcher: every WATCH_INTERVAL_S it reads `PRAGMA data_version` on its own long-lived
    connection; when another connection committed, it compares what the library holds
    (documents, conversations, settings, watched folders) with what the panels last read
    (shown()) and emits the Change where they differ, so the CLI's writes show up in the open
    app, and the app's own writes, which its panels have read already, are not announced again.
    Reads do not move data_version, so the refreshes an event causes cannot make another event.
Every Library is closed when its thread ends; shutdown() is bounded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.app_events import AppEvents, Change
from desktop.tasks import BaseTask, Question, StreamTask, Task

if TYPE_CHECKING:
    from core.engine import Engine
    from core.library import Library

__all__ = ["Question", "StreamTask", "Task", "Workers"]

log = logging.getLogger(__name__)

READERS = 3  # an answer streaming, a document loading and a list refreshing at once
WATCH_INTERVAL_S = 1.0
REOPEN = "reopen"  # put on a queue: its thread closes a Library of a folder no longer chosen


WATCHED = ("documents", "conversations", "settings", "folders")  # what the watcher compares


def canonical(value: object) -> object:
    """A read's result in a form that compares by content (a list, a settings dict)."""
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value


def library_state(library: Library) -> dict[str, object]:
    """What the panels show of a library, as the watcher compares it."""
    return {"documents": canonical(library.documents()),
            "conversations": canonical(library.conversations()),
            "settings": canonical(library.settings()),
            "folders": canonical(library.folders())}


class _Opener:
    """Opens Libraries with the process's engine and counts those open (shutdown closes all)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self.open_count = 0

    def open(self, root: Path) -> Library:
        from core.library import Library  # imported off the GUI thread: it is slow

        # Opening a library first migrates it; two threads migrating a new library at once
        # would collide, so opens take turns (an open of an up-to-date library is cheap).
        with self._lock:
            library = Library.open(root, engine=self.engine)
            self.open_count += 1
            return library

    def close(self, library: Library | None) -> None:
        if library is None:
            return
        try:
            library.close()
        finally:
            with self._lock:
                self.open_count -= 1


class Workers(QObject):
    """Owns the threads: one writer, READERS readers and the watcher, until shutdown()."""

    _watch_saw = Signal(Change)  # from the watcher thread to the GUI thread

    def __init__(self, root: Path, events: AppEvents, engine: Engine,
                 parent: QObject | None = None, readers: int = READERS,
                 watch_interval_s: float = WATCH_INTERVAL_S) -> None:
        super().__init__(parent)
        self.root = root
        self.events = events
        self.engine = engine
        self._opener = _Opener(engine)
        self._tasks: set[BaseTask] = set()  # referenced until finished, so Python keeps them
        self._writes: queue.Queue[BaseTask | str | None] = queue.Queue()
        self._reads: queue.Queue[BaseTask | str | None] = queue.Queue()
        self._writes_done = 0  # write tasks run (the watcher reads it; an int is atomic)
        self._stop = threading.Event()
        self._shown_lock = threading.Lock()
        self._shown: dict[str, object] = {}  # what the panels last read, by WATCHED name
        self._watch_interval_s = watch_interval_s
        self._watch_saw.connect(events.library_changed)
        self._threads = [threading.Thread(target=self._write_loop, name="folio-writer",
                                          daemon=True)]
        self._readers = readers
        self._threads += [threading.Thread(target=self._read_loop, name=f"folio-reader-{n}",
                                           daemon=True) for n in range(readers)]
        self._threads.append(threading.Thread(target=self._watch_loop, name="folio-watcher",
                                              daemon=True))
        for thread in self._threads:
            thread.start()
        self._closed = False

    def set_root(self, root: Path) -> None:
        """Use another library folder from the next task on (each thread reopens before it);
        the engine lets go of the old library's in-memory indexes."""
        old, self.root = self.root, root
        if old != root:
            self.engine.forget(old / "library.db")
            for _ in range(self._readers):  # idle readers let go of the old library now
                self._reads.put(REOPEN)

    @property
    def running_threads(self) -> list[str]:
        """The names of this object's threads still running."""
        return [t.name for t in self._threads if t.is_alive()]

    @property
    def open_libraries(self) -> int:
        """How many Libraries the threads hold open now."""
        return self._opener.open_count

    # --- handing out work ---------------------------------------------------------------------

    def _keep(self, task: BaseTask) -> None:
        self._tasks.add(task)
        task.library_changed.connect(self.events.library_changed)
        task.finished.connect(lambda: self._tasks.discard(task))

    def write(self, task: BaseTask) -> BaseTask:
        """Queue a task that changes the library; tasks run one at a time, in order."""
        self._keep(task)
        self._writes.put(task)
        return task

    def read(self, task: BaseTask) -> BaseTask:
        """Run a task that only reads (or a stream, such as ask) on the next free reader."""
        self._keep(task)
        self._reads.put(task)
        return task

    # --- the threads --------------------------------------------------------------------------

    def _run(self, task: BaseTask, library: Library | None) -> None:
        if task.cancel.is_set():
            task.skip()
            return
        task.run(library if task.needs_library else None)

    def _write_loop(self) -> None:
        self._serve(self._writes, prepare=True)

    def _read_loop(self) -> None:
        self._serve(self._reads, prepare=False)

    def _serve(self, tasks: queue.Queue[BaseTask | str | None], prepare: bool) -> None:
        library: Library | None = None
        try:
            while (task := tasks.get()) is not None:
                if isinstance(task, str):  # REOPEN: another folder was chosen
                    if library is not None and library.root != self.root:
                        self._opener.close(library)  # its indexes are freed with it
                        library = None
                    continue
                if task.needs_library and (library is None or library.root != self.root):
                    self._opener.close(library)
                    library = None
                    try:
                        library = self._opener.open(self.root)
                        if prepare:
                            library.prepare()  # the writer's housekeeping, once per open
                    except Exception as exc:  # the library cannot be used: say why, end the task
                        task.fail(f"Cannot open the library: {exc}")
                        continue
                self._run(task, library)
                if prepare:
                    self._writes_done += 1  # the watcher lets the panels' refresh land first
        finally:
            self._opener.close(library)

    def shown(self, name: str, value: object) -> None:
        """What a panel now shows (one of WATCHED, a read's result): the watcher announces a
        commit only where the library holds something else, so this app's own writes, which
        its panels have read already, are not announced twice."""
        with self._shown_lock:
            self._shown[name] = canonical(value)

    def _watch_loop(self) -> None:
        library: Library | None = None
        version: int | None = None
        writes_seen = 0
        last_problem = ""
        try:
            while not self._stop.wait(self._watch_interval_s):
                try:
                    if library is None or library.root != self.root:
                        self._opener.close(library)
                        library, version = None, None
                        library = self._opener.open(self.root)
                    now = library.data_version()
                    if now == version:
                        continue
                    if self._writes_done != writes_seen:
                        # This app wrote since the last look: its own Change is refreshing the
                        # panels now. Compare at the next look, once they show the result, so
                        # its own write is not announced again (another process's write still
                        # is, a look later).
                        writes_seen = self._writes_done
                        continue
                    version = now
                    state = library_state(library)
                    with self._shown_lock:
                        differ = {name for name in WATCHED
                                  if name in self._shown and self._shown[name] != state[name]}
                    if differ:
                        self._watch_saw.emit(Change(documents="documents" in differ,
                                                    conversations="conversations" in differ,
                                                    settings="settings" in differ,
                                                    folders="folders" in differ))
                except Exception as exc:  # busy, or the folder went away: look again later
                    if str(exc) != last_problem:  # said once, not every second
                        last_problem = str(exc)
                        log.warning("watching the library for changes: %s", exc)
                    self._opener.close(library)
                    library, version = None, None
        finally:
            self._opener.close(library)

    # --- the end ------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return any(not t.done for t in self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            if task.cancellable:
                task.cancel.set()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel everything, wait (bounded) for the threads, which close their Libraries, then
        close the engine. True if every thread ended in time."""
        if self._closed:
            return True
        self._closed = True
        self.cancel_all()
        self._stop.set()
        self._writes.put(None)
        for _ in range(sum(t.name.startswith("folio-reader") for t in self._threads)):
            self._reads.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = self.running_threads
        if alive:
            log.warning("still running at shutdown: %s", ", ".join(alive))
        self.engine.close()
        return not alive
