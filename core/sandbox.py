"""Untrusted documents are parsed in a child process with a time and a memory limit.

A MuPDF crash, an endless loop or a decompression bomb then costs one file, not the app. The
child is started once (with `spawn`, which is safe in a process that has threads and works in
a PyInstaller bundle) and reused for file after file; it is killed and started again after a
file that broke it. The parent waits for each reply with a deadline.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from core.errors import IngestError
from core.types import FailureKind, ReadOptions, ReadResult

DEFAULT_TIMEOUT_S = 60
DEFAULT_MEMORY_MB = 2048
START_TIMEOUT_S = 60.0  # a cold start imports PyMuPDF, slow on a busy machine
_MEMORY_WORDS = ("memory", "malloc", "cannot allocate", "out of mem")


@dataclass(frozen=True)
class Limits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB


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


def _serve(conn: multiprocessing.connection.Connection, memory_mb: int) -> None:
    """The child's loop: read one file per request, reply with the result or the failure."""
    from core.readers import read_document

    _limit_memory(memory_mb)
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        path, doc_type, title_hint, password, options = request
        try:
            result = read_document(Path(path), doc_type, title_hint, password, options)
            reply: tuple[Any, ...] = ("ok", result)
        except IngestError as exc:
            reply = ("failed", exc.kind.value, exc.message)
        except MemoryError:
            reply = ("failed", FailureKind.MEMORY.value, _memory_message(memory_mb))
        except Exception as exc:  # a reader's bug or a library's surprise costs one file
            text = str(exc)
            if any(word in text.lower() for word in _MEMORY_WORDS):
                reply = ("failed", FailureKind.MEMORY.value, _memory_message(memory_mb))
            else:
                detail = f"{type(exc).__name__}: {text[:120]}"
                traceback.print_exc(file=sys.stderr)
                reply = ("failed", FailureKind.DAMAGED.value,
                         f"The file could not be read ({detail}).")
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("failed", FailureKind.MEMORY.value, _memory_message(memory_mb)))


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


class ReaderProcess:
    """The child that reads documents; one request at a time (a lock serialises callers)."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._process: BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._lock = threading.Lock()

    def _start(self) -> multiprocessing.connection.Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.limits.memory_mb),
                                  name="folio-reader", daemon=True)
        with _main_module_hidden():
            process.start()
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

    def close(self) -> None:
        with self._lock:
            self._stop()

    def read(self, path: Path, doc_type: str, title_hint: str,
             password: str | None = None, options: ReadOptions | None = None) -> ReadResult:
        """The document's paragraphs, or IngestError: the reader's own, or a limit hit."""
        with self._lock:
            try:
                conn = self._start()
            except IngestError:
                raise
            except Exception as exc:  # cannot start a process: one sentence, the batch goes on
                self._stop()
                raise IngestError(FailureKind.CRASHED, "The document reader could not be "
                                  f"started ({type(exc).__name__}: {exc}).") from exc
            try:
                conn.send((str(path), doc_type, title_hint, password, options or ReadOptions()))
                ready = conn.poll(self.limits.timeout_s)
                reply = conn.recv() if ready else None
            except (EOFError, OSError, BrokenPipeError):
                reply = ("died",)
            if reply is None:
                self._stop()
                raise IngestError(FailureKind.TIMEOUT,
                                  f"Reading the file took longer than {self.limits.timeout_s:g} s; "
                                  "it was left out (`folio config reader-timeout-s` changes "
                                  "the limit).")
            if reply[0] == "ok":
                result: ReadResult = reply[1]
                return result
            if reply[0] == "failed":
                raise IngestError(FailureKind(reply[1]), reply[2])
            code = self._process.exitcode if self._process is not None else None
            self._stop()
            raise IngestError(FailureKind.CRASHED,
                              f"The document reader crashed on this file (exit code {code}); "
                              "the file is probably damaged.")


_shared: dict[Limits, ReaderProcess] = {}
_shared_lock = threading.Lock()


def shared_reader(limits: Limits) -> ReaderProcess:
    """One reader process per set of limits per app: starting one costs about a second."""
    with _shared_lock:
        if limits not in _shared:
            for old in _shared.values():  # the limits changed: the old child is not needed
                old.close()
            _shared.clear()
            _shared[limits] = ReaderProcess(limits)
        return _shared[limits]
