"""What a process keeps once, whatever libraries it opens: the Engine.

The CLI makes one per command and the desktop app one per run; every Library is opened with
it (Library.open(root, engine=engine)). It holds what is slow to make or worth keeping warm:
  - the embedding models, one Embedder per model (an ONNX session; thread-safe to run), or
    per model and host for a model served by Ollama (core/ollama_embedding.py);
  - the document reader child process (core/sandbox.py), one at a time, for its limits;
  - the thread that embeds a query while the keyword side of a hybrid search runs;
  - one OllamaService per host (it remembers each model's context length: one /api/show);
  - the in-memory vector and keyword indexes, one LibraryIndexes per library file, shared by
    every connection to that file (core/indexes.py).
Nothing here is module-level: two Engines (two tests) share nothing. Making one also fixes
glibc's mmap threshold for the process (`return_big_allocations`).
"""

from __future__ import annotations

import ctypes
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import platformdirs

from core.embedding import Embedder
from core.indexes import LibraryIndexes
from core.llm import OllamaService, resolve_host
from core.ollama_embedding import OllamaEmbedder, is_ollama_model
from core.sandbox import Limits, ReaderProcess

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
BIG_ALLOCATION = 1 << 20  # bytes: a block at least this big is its own mapping, freed at once


def return_big_allocations() -> None:
    """Make glibc give every block of BIG_ALLOCATION bytes or more back to the system when it is
    freed. By default glibc raises that threshold after each big free (up to 32 MB), so the
    per-search temporaries of a large library (score arrays, float blocks of the vector scan,
    tens of MB each) then come from the heap, which keeps them: at 1M passages 40 hybrid searches
    left a peak RSS of 1,078 MB, 987 MB with this (tests/bench/app.py measures the app's path).
    Process-wide and idempotent; nothing on other C libraries."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, BIG_ALLOCATION)


def model_cache_dir() -> Path:
    """Where models that are not bundled are kept once downloaded."""
    return Path(platformdirs.user_cache_dir("Folio", appauthor=False)) / "models"


class Engine:
    """The process-wide parts of Folio; thread-safe. close() ends the reader process."""

    def __init__(self, model_cache: Path | None = None) -> None:
        self.model_cache = model_cache if model_cache is not None else model_cache_dir()
        return_big_allocations()
        self._lock = threading.Lock()
        self._embedders: dict[str, Embedder] = {}
        self._reader: ReaderProcess | None = None
        self._query_pool: ThreadPoolExecutor | None = None
        self._ollama: dict[str, OllamaService] = {}
        self._indexes: dict[str, LibraryIndexes] = {}
        self._closed = False

    def embedder(self, model: str, ollama_host: str | None = None) -> Embedder:
        """The Embedder of model (loaded on its first use); an `ollama:NAME` model is served by
        the Ollama at ollama_host (a resolved address; None: the default)."""
        if is_ollama_model(model):
            service = self.ollama(resolve_host(ollama_host))
            key = f"{model}@{service.host}"
            with self._lock:
                if key not in self._embedders:
                    self._embedders[key] = OllamaEmbedder(model, service)
                return self._embedders[key]
        with self._lock:
            if model not in self._embedders:
                self._embedders[model] = Embedder(model, cache_dir=self.model_cache)
            return self._embedders[model]

    def reader(self, limits: Limits) -> ReaderProcess:
        """The reader child process for limits (starting one costs about a second); a change of
        limits ends the old one."""
        with self._lock:
            if self._reader is None or self._reader.limits != limits:
                if self._reader is not None:
                    self._reader.close()
                self._reader = ReaderProcess(limits)
            return self._reader

    def query_pool(self) -> ThreadPoolExecutor:
        """One thread that embeds queries beside the keyword search (core/search.py)."""
        with self._lock:
            if self._query_pool is None:
                self._query_pool = ThreadPoolExecutor(max_workers=1,
                                                      thread_name_prefix="folio-embed")
            return self._query_pool

    def ollama(self, host: str) -> OllamaService:
        """The OllamaService of host (a resolved address, core/llm.resolve_host)."""
        with self._lock:
            if host not in self._ollama:
                self._ollama[host] = OllamaService(host)
            return self._ollama[host]

    def indexes(self, db_path: Path | str) -> LibraryIndexes:
        """The shared in-memory indexes of the library file at db_path."""
        key = str(Path(db_path).resolve())
        with self._lock:
            if key not in self._indexes:
                self._indexes[key] = LibraryIndexes()
            return self._indexes[key]

    def forget(self, db_path: Path | str) -> None:
        """Drop the indexes of a library file (another library was chosen, memory is freed)."""
        with self._lock:
            self._indexes.pop(str(Path(db_path).resolve()), None)

    def close(self) -> None:
        """End the reader process and the query thread; the engine can still be used (they are
        made again), so a late task after close does not fail."""
        with self._lock:
            reader, self._reader = self._reader, None
            pool, self._query_pool = self._query_pool, None
        if reader is not None:
            reader.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # at most one query's embedding

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
