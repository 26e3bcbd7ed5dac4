"""Untrusted documents are parsed in a child process with time, memory and CPU limits.

A MuPDF crash, an endless loop or a decompression bomb then costs one file, not the app. The
child is started once (with `spawn`, which is safe in a process that has threads and works in
a PyInstaller bundle) and reused for file after file; it is killed and started again after a
file that broke it.

Time is judged by progress, not by length: for a paged document (PDF, EPUB, XPS, FB2) the
child sends ("page", 0, 0, "") when it starts reading and ("page", done, total, what) after
every page, and the parent fails the file only when one page makes no progress for
`page_timeout_s`, naming that page; a 2,000-page document read at a steady pace is never
refused. After the last page, the wait for the result grows with the page count. Formats
without pages (text, Markdown, HTML) keep a limit for the whole file.

The child dies with its parent: PR_SET_PDEATHSIG on Linux (the child is always started from
one long-lived thread, since the signal follows the thread that started it, not the process),
and everywhere a watchdog thread waiting on the parent's multiprocessing sentinel. Its CPU
limit (RLIMIT_CPU) follows its progress too: each page may use the wall-clock limit times the
number of cores, so the limit never judges before the parent does and only ends a reader whose
parent can no longer judge it (one spinning inside MuPDF, holding the GIL, with no PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from core.errors import IngestError
from core.readers import READER_MODULES, PageCallback
from core.types import FailureKind, ReadOptions, ReadResult

DEFAULT_PAGE_TIMEOUT_S = 30
# Formats without pages have no progress to judge. The parent refuses more than max-text-mb
# (32 M characters) of text anyway, and reading 32 MB of Markdown, HTML or text took 9-13 s on
# this (busy, 2-core) machine: 60 s leaves a margin of 4-6 and still ends a reader that hangs.
DEFAULT_TIMEOUT_S = 60
DEFAULT_MEMORY_MB = 2048
# After its last page a document's pages are put together (running headers, headings, reading
# order, page labels) and sent back: measured 0.004 s a page on a 267-page 10-K, 0.0001 s on
# 4,096 one-line pages. The wait grows with the page count, at ten times the measured cost.
FINISH_S_PER_PAGE = 0.05
CPU_MARGIN_S = 2  # RLIMIT_CPU counts whole seconds
START_TIMEOUT_S = 60.0  # a cold start imports PyMuPDF, slow on a busy machine
_MEMORY_WORDS = ("memory", "malloc", "cannot allocate", "out of mem")
_PR_SET_PDEATHSIG = 1
_DIED: tuple[Any, ...] = ("died",)
WORDS = "words"  # a request for one page's words, not a file to read (never a path: not absolute)
# Whether a child asks Linux to kill it with its parent (ReaderProcess's pdeathsig; a test
# turns it off to check the watchdog that other systems rely on).
HAS_PDEATHSIG = sys.platform.startswith("linux")


@dataclass(frozen=True)
class Limits:
    timeout_s: float = DEFAULT_TIMEOUT_S  # a whole file without pages (text, Markdown, HTML)
    memory_mb: int = DEFAULT_MEMORY_MB
    page_timeout_s: float = DEFAULT_PAGE_TIMEOUT_S  # one page of a paged document

    def wait_s(self, paged: bool, done: int, total: int) -> float:
        """How long the reader may go without news, `done` of `total` pages into a file."""
        if not paged:
            return self.timeout_s
        if done < 0:  # PyMuPDF is imported on the first paged file: as slow as a cold start
            return max(START_TIMEOUT_S, self.page_timeout_s)
        if total == 0 or done < total:  # the next page (page 1 includes opening the file)
            return self.page_timeout_s
        return self.page_timeout_s + total * FINISH_S_PER_PAGE

    def timeout_reason(self, paged: bool, done: int, total: int) -> str:
        if not paged:
            return (f"Reading the file took longer than {self.timeout_s:g} s; it was left out "
                    "(`folio config reader-timeout-s` changes the limit).")
        hint = "(`folio config reader-page-timeout-s` changes the limit)."
        if done < 0:
            return (f"The reader could not start on the file within {self.wait_s(True, done, 0):g}"
                    " s; it was left out.")
        if total == 0 or done < total:
            return (f"Page {done + 1} took longer than {self.page_timeout_s:g} s to read; "
                    f"the file was left out {hint}")
        return (f"Putting its {total} pages together took longer than "
                f"{self.wait_s(True, done, total):g} s; the file was left out {hint}")


def _limit_memory(memory_mb: int) -> None:
    """Cap the child's address space (Linux and macOS; Windows has no RLIMIT_AS)."""
    try:
        import resource
    except ImportError:
        return
    limit = memory_mb * 2**20
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _memory_message(memory_mb: int) -> str:
    size = f"{memory_mb / 1024:g} GB" if memory_mb >= 1024 else f"{memory_mb} MB"
    return (f"Reading the file needs more than {size} of memory (a decompression bomb?); "
            "`folio config reader-memory-mb` raises the limit.")


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity is not None else os.cpu_count() or 1)


class _CpuBudget:
    """RLIMIT_CPU that moves with progress: a step may use its wall-clock wait times the cores.

    RLIMIT_CPU counts the whole life of the child, which reads file after file, so one fixed
    limit would either end a healthy long batch or never matter. Instead the soft limit is set
    again at each page to the CPU time used so far plus the step's allowance (the hard limit
    stays, so the child may raise its soft limit). Past it the kernel sends SIGXCPU, which ends
    the process even while MuPDF holds the GIL. No core file: RLIMIT_CORE is 0.
    """

    def __init__(self, cores: int | None = None) -> None:
        """cores: what a second of waiting may use in CPU seconds (None: the cores this
        process may run on)."""
        try:
            import resource
        except ImportError:  # Windows: the parent and the watchdog are all there is
            self._hard = None
            return
        self._hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        self._cores = cores if cores is not None else _cores()

    def allow(self, wait_s: float) -> None:
        if self._hard is None:
            return
        import resource

        soft = math.ceil(time.process_time() + wait_s * self._cores + CPU_MARGIN_S)
        if self._hard != resource.RLIM_INFINITY:
            soft = min(soft, self._hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CPU, (soft, self._hard))


def _die_with_parent(pdeathsig: bool) -> None:
    """End this child when the parent ends, even by kill -9, rather than read on as an orphan."""
    if pdeathsig:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    parent = multiprocessing.parent_process()  # spawn gives it a sentinel: ready when it ends
    if parent is not None and not parent.is_alive():  # it died before prctl took hold
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent, os.getppid()), daemon=True,
                     name="folio-reader-watchdog").start()


def _watch_parent(parent: BaseProcess | None, parent_pid: int) -> None:
    """Exit when the parent is gone. Runs when the GIL is free: between pages, in Python code."""
    if parent is not None:
        parent.join()
    else:  # no sentinel (should not happen with spawn): an orphan gets a new parent pid
        while os.getppid() == parent_pid:
            time.sleep(0.5)
    os._exit(0)


def _send(conn: multiprocessing.connection.Connection, message: tuple[Any, ...]) -> None:
    try:
        conn.send(message)
    except (OSError, EOFError):  # the parent closed the pipe or died: nobody waits for this
        os._exit(0)


def _read(request: tuple[Any, ...], limits: Limits, on_page: PageCallback) -> tuple[Any, ...]:
    from core.readers import read_document

    path, doc_type, title_hint, password, options = request
    try:
        result = read_document(Path(path), doc_type, title_hint, password, options, on_page)
        return ("ok", result)
    except IngestError as exc:
        return ("failed", exc.kind.value, exc.message)
    except MemoryError:
        return ("failed", FailureKind.MEMORY.value, _memory_message(limits.memory_mb))
    except Exception as exc:  # a reader's bug or a library's surprise costs one file
        text = str(exc)
        if any(word in text.lower() for word in _MEMORY_WORDS):
            return ("failed", FailureKind.MEMORY.value, _memory_message(limits.memory_mb))
        detail = f"{type(exc).__name__}: {text[:120]}"
        traceback.print_exc(file=sys.stderr)
        return ("failed", FailureKind.DAMAGED.value, f"The file could not be read ({detail}).")


def _serve(conn: multiprocessing.connection.Connection, limits: Limits, pdeathsig: bool,
           cpu_cores: int | None) -> None:
    """The child's loop: read one file per request, report its pages, reply with the result."""
    _die_with_parent(pdeathsig)
    _limit_memory(limits.memory_mb)
    budget = _CpuBudget(cpu_cores)
    _send(conn, ("ready",))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request[0] == WORDS:  # one page's words of a stored document (core/span_rects.py)
            budget.allow(limits.wait_s(True, -1, 0))
            _send(conn, importlib.import_module("core.span_rects").child_words(*request[1:]))
            continue
        paged = READER_MODULES.get(request[1]) == "paged"
        if paged:
            # PyMuPDF (480 MB of address space with the layout package it imports) is imported
            # on the first paged file, so that a reader of text files stays small; the import
            # must not count against page 1, so the parent hears when reading starts.
            budget.allow(limits.wait_s(True, -1, 0))
            importlib.import_module("core.readers.paged")
            _send(conn, ("page", 0, 0, ""))
        budget.allow(limits.wait_s(paged, 0, 0))

        def on_page(done: int, total: int, what: str) -> None:
            # about 40 us a page, measured: 0.4% of a page read at 100 pages/s
            budget.allow(limits.wait_s(True, done, total))
            _send(conn, ("page", done, total, what))

        reply = _read(request, limits, on_page)
        try:
            conn.send(reply)
        except MemoryError:
            _send(conn, ("failed", FailureKind.MEMORY.value, _memory_message(limits.memory_mb)))
        except (OSError, EOFError):
            return


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start the child without re-running the parent's main script.

    `spawn` imports the parent's __main__ in the child, which fails for a script read from stdin
    and re-runs the top level of any script without an `if __name__ == "__main__"` guard. The
    child needs only core.readers, so while it starts, __main__ shows no file to import.
    A frozen app (PyInstaller) starts its children through freeze_support() and is left as is.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(sys, "frozen", False):
        yield
        return
    had_file, file, spec = hasattr(main, "__file__"), getattr(main, "__file__", None), main.__spec__
    if had_file:
        del main.__file__
    main.__spec__ = None
    try:
        yield
    finally:
        main.__spec__ = spec
        if had_file:
            main.__file__ = file


_Job = tuple[Callable[[], None], "Future[None]"] | None


def _run_jobs(jobs: queue.SimpleQueue[_Job]) -> None:
    while (job := jobs.get()) is not None:
        fn, future = job
        try:
            fn()
        except BaseException as exc:  # handed to the caller's thread, raised there
            future.set_exception(exc)
        else:
            future.set_result(None)


class ReaderProcess:
    """The child that reads documents; one request at a time (a lock serialises callers)."""

    def __init__(self, limits: Limits = Limits(), pdeathsig: bool = HAS_PDEATHSIG,
                 cpu_cores: int | None = None) -> None:
        """pdeathsig: the child asks Linux to kill it with this process (else only its
        watchdog thread ends an orphan). cpu_cores: the cores its CPU limit allows for (None:
        those it may run on; a test pins it)."""
        self.limits = limits
        self.pdeathsig = pdeathsig
        self.cpu_cores = cpu_cores
        self._process: BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._starter: threading.Thread | None = None

    def _on_starter(self, fn: Callable[[], None]) -> None:
        """Run fn on this reader's starter thread, which lives as long as the reader.

        Linux sends PR_SET_PDEATHSIG when the *thread* that started the child ends: started from
        a worker thread that then finished, the child would be killed while Folio lives on (and
        mid-read, if another thread was using it). A thread of its own that never ends until
        close() makes the signal mean "the process died". (An exception to DESIGN's "only
        desktop/workers.py starts threads", for that reason.)
        """
        if self._starter is None or not self._starter.is_alive():
            self._starter = threading.Thread(target=_run_jobs, args=(self._jobs,), daemon=True,
                                             name="folio-reader-starter")
            self._starter.start()
        future: Future[None] = Future()
        self._jobs.put((fn, future))
        future.result()

    def _start(self) -> multiprocessing.connection.Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.limits, self.pdeathsig,
                                                      self.cpu_cores),
                                  name="folio-reader", daemon=True)

        def start() -> None:
            with _main_module_hidden():
                process.start()

        self._on_starter(start)
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            process.kill()
            raise IngestError(FailureKind.CRASHED, "The document reader could not be started.")
        try:
            parent.recv()
        except EOFError as exc:
            raise IngestError(FailureKind.CRASHED,
                              "The document reader could not be started.") from exc
        self._process, self._conn = process, parent
        return parent

    def _stop(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first read or after a failure)."""
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """End the child and the starter thread (waited for: nothing of the reader outlives
        close)."""
        with self._lock:
            self._stop()
            starter, self._starter = self._starter, None
            if starter is not None:
                self._jobs.put(None)
                starter.join(timeout=5)

    def page_words(self, path: Path, page: int, wait_s: float) -> list[Any]:
        """The words of one page of a PDF (PyMuPDF's get_text("words") rows), read in the child
        with its limits; waits at most wait_s for a file being read to finish (IngestError)."""
        if not self._lock.acquire(timeout=wait_s):
            raise IngestError(FailureKind.TIMEOUT, "The document reader is busy with a file.")
        try:
            conn = self._start()
            with contextlib.suppress(EOFError, OSError):
                conn.send((WORDS, str(path), page))
                if conn.poll(self.limits.wait_s(True, -1, 0)):
                    reply = conn.recv()
                    if reply[0] == "ok":
                        words: list[Any] = reply[1]
                        return words
                    raise IngestError(FailureKind(reply[1]), reply[2])
            self._stop()  # no reply in time, or the child died: start afresh next time
            raise IngestError(FailureKind.CRASHED, f"Reading the words of page {page} failed.")
        finally:
            self._lock.release()

    def read(self, path: Path, doc_type: str, title_hint: str,
             password: str | None = None, options: ReadOptions | None = None,
             on_page: PageCallback | None = None) -> ReadResult:
        """The document's paragraphs, or IngestError: the reader's own, or a limit hit.

        on_page(done, total, what) is called here, in the caller's thread, after each page of a
        paged document ("what" is "OCR" for a page read by OCR, else ""). If it raises (to
        cancel, say), the child is stopped and the exception goes on to the caller.
        """
        with self._lock:
            try:
                conn = self._start()
            except IngestError:
                raise
            except Exception as exc:  # cannot start a process: one sentence, the batch goes on
                self._stop()
                raise IngestError(FailureKind.CRASHED, "The document reader could not be "
                                  f"started ({type(exc).__name__}: {exc}).") from exc
            paged = READER_MODULES.get(doc_type) == "paged"
            done, total = -1, 0  # -1: not started (("page", 0, 0, "") says it has)
            reply: tuple[Any, ...] | None = _DIED
            with contextlib.suppress(EOFError, OSError):
                conn.send((str(path), doc_type, title_hint, password, options or ReadOptions()))
                reply = None
            while reply is None:
                try:  # a deadline for the next news, not for the file
                    ready = conn.poll(self.limits.wait_s(paged, done, total))
                    reply = conn.recv() if ready else None
                except (EOFError, OSError):
                    reply = _DIED
                if reply is None:
                    break
                if reply[0] == "page":
                    done, total, what = reply[1], reply[2], reply[3]
                    reply = None
                    if on_page is not None and total > 0:
                        try:
                            on_page(done, total, what)
                        except BaseException:
                            self._stop()  # the child reads on and its messages would be stale
                            raise
            if reply is None:
                self._stop()
                raise IngestError(FailureKind.TIMEOUT,
                                  self.limits.timeout_reason(paged, done, total))
            if reply[0] == "ok":
                result: ReadResult = reply[1]
                return result
            if reply[0] == "failed":
                raise IngestError(FailureKind(reply[1]), reply[2])
            if self._process is not None:
                self._process.join(timeout=1)  # the pipe may close before the exit is seen
            code = self._process.exitcode if self._process is not None else None
            self._stop()
            if code is not None and code == -getattr(signal, "SIGXCPU", 0):
                # the CPU limit never acts before the parent's deadline unless the parent was
                # held up; say what it was about all the same
                raise IngestError(FailureKind.TIMEOUT,
                                  self.limits.timeout_reason(paged, done, total))
            raise IngestError(FailureKind.CRASHED,
                              f"The document reader crashed on this file (exit code {code}); "
                              "the file is probably damaged.")
