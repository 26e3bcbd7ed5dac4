"""The in-memory indexes of one library file, shared by every connection to it in a process.

The Engine (core/engine.py) keeps one LibraryIndexes per library file. Each index is built on
first use and, on every later use, brought up to date from the library's change log
(core/store/changes.py): a search reads the log's position (one indexed lookup) and patches
in what another connection or process wrote since. No per-connection state, no fingerprints.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import apsw

from core.keyword_index import KeywordIndex
from core.store import changes, vectors
from core.vector_index import VectorIndex

REBUILD_SHARE = 0.5  # vectors: more changed passages than this share, and the index is rebuilt


class LibraryIndexes:
    """The vector index and the keyword index of one library file, each behind its own lock
    (a multi-second keyword build never holds up a meaning search)."""

    def __init__(self) -> None:
        self._vector_lock = threading.Lock()
        self._keyword_lock = threading.Lock()
        self._vectors: tuple[changes.Position, VectorIndex] | None = None
        self._keywords: KeywordIndex | None = None
        self.vector_loads = 0  # whole loads from SQLite, for tests and benchmarks
        self.keyword_loads = 0

    def vectors(self, db: apsw.Connection) -> VectorIndex:
        """The vector index, up to date with what db sees. It is never changed once returned
        (an update makes a new one), so it may be used without a lock."""
        inside_write = db.in_transaction  # uncommitted rows: used, never kept
        with self._vector_lock, changes.snapshot(db):
            now = changes.position(db)
            index = self._updated_vectors(db, now)
            if not inside_write:
                self._vectors = (now, index)
            return index

    def _updated_vectors(self, db: apsw.Connection, now: changes.Position) -> VectorIndex:
        if self._vectors is not None:
            seen, index = self._vectors
            changed = changes.changed_between(db, seen, now)
            if changed == []:
                return index
            if changed is not None and len(changed) <= REBUILD_SHARE * max(1, len(index.ids)):
                ids, rows = vectors.some(db, changed, index.dim)
                return index.patched(changed, ids, rows)
        dim = vectors.width(db) or 0
        ids, rows = vectors.every(db, dim)
        self.vector_loads += 1
        return VectorIndex(ids, rows, dim)

    @contextmanager
    def keywords(self, db: apsw.Connection) -> Iterator[KeywordIndex]:
        """The keyword index, up to date with what db sees, held for the caller's use (it is
        patched in place, so its lock is held until the with block ends)."""
        if db.in_transaction:  # uncommitted rows: an index of its own, never kept
            yield KeywordIndex(db, save=False)
            return
        with self._keyword_lock:
            with changes.snapshot(db):
                if self._keywords is None:
                    self._keywords = KeywordIndex(db)
                    self.keyword_loads += 1
                else:
                    refreshed = self._keywords.refresh(db)
                    if refreshed is not self._keywords:
                        self.keyword_loads += 1
                    self._keywords = refreshed
            yield self._keywords
