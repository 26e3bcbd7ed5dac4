"""The in-memory indexes of one library file, shared by every connection to it in a process.

The Engine (core/engine.py) keeps one LibraryIndexes per library file. Each index is built on
first use and, on every later use, brought up to date from the library's change log
(core/store/changes.py): a search reads the log's position (one indexed lookup) and patches
in what another connection or process wrote since. No per-connection state, no fingerprints.

Both indexes keep a copy beside the library file (core/index_file.py), saved after a whole
build and read back memory-mapped by the next process: library.db.keywords.npz
(core/keyword_index.py) and library.db.vectors.npz (here). A saved copy names the position it
was made at, so it is patched from the log like a live index, and another library or epoch
never uses it.
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw
import numpy as np

from core import index_file
from core.keyword_index import KeywordIndex
from core.paths import VECTOR_INDEX_SUFFIX
from core.store import changes, vectors
from core.vector_index import VectorIndex

REBUILD_SHARE = 0.5  # vectors: more changed passages than this share, and the index is rebuilt
SAVE_AGAIN_SHARE = 0.05  # a saved copy patched by more than this share is saved anew
VECTOR_FORMAT = "folio vector index 1"


class LibraryIndexes:
    """The vector index and the keyword index of one library file, each behind its own lock
    (a multi-second keyword build never holds up a meaning search)."""

    def __init__(self) -> None:
        self._vector_lock = threading.Lock()
        self._keyword_lock = threading.Lock()
        self._vectors: tuple[changes.Position, VectorIndex] | None = None
        self._keywords: KeywordIndex | None = None
        self.vector_loads = 0  # whole loads from SQLite, for tests and benchmarks
        self.vector_file_loads = 0  # loads of the saved copy
        self.keyword_loads = 0

    def vectors(self, db: apsw.Connection) -> VectorIndex:
        """The vector index, up to date with what db sees. It is never changed once returned
        (an update makes a new one), so it may be used without a lock."""
        inside_write = db.in_transaction  # uncommitted rows: used, never kept
        with self._vector_lock, changes.snapshot(db):
            now = changes.position(db)
            if self._vectors is None:
                self._vectors = self._saved_vectors(db, now)
            index = self._updated_vectors(db, now, save=not inside_write)
            if not inside_write:
                self._vectors = (now, index)
            return index

    def _updated_vectors(self, db: apsw.Connection, now: changes.Position,
                         save: bool) -> VectorIndex:
        if self._vectors is not None:
            seen, index = self._vectors
            changed = changes.changed_between(db, seen, now)
            if changed == []:
                return index
            if changed is not None and len(changed) <= REBUILD_SHARE * max(1, len(index.ids)):
                ids, rows = vectors.some(db, changed, index.dim)
                patched = index.patched(changed, ids, rows)
                if save and seen.oldest < 0 and len(changed) > SAVE_AGAIN_SHARE * len(index.ids):
                    _save_vectors(db, now, patched)  # the saved copy was far behind
                return patched
        dim = vectors.width(db) or 0
        ids, rows = vectors.every(db, dim)
        self.vector_loads += 1
        index = VectorIndex(ids, rows, dim)
        if save:
            _save_vectors(db, now, index)
        return index

    def _saved_vectors(self, db: apsw.Connection,
                       now: changes.Position) -> tuple[changes.Position, VectorIndex] | None:
        """The saved copy of the vector index and the position it was made at (its `oldest`
        is -1: it came from the file), if it is this library's, of this epoch and format."""
        path = _vectors_path(db)
        if path is None:
            return None
        index_file.sweep_temporaries(path)
        try:
            saved = index_file.load(path)
            if (saved is None or str(saved["format"]) != VECTOR_FORMAT
                    or str(saved["epoch"]) != now.epoch or int(saved["seq"]) > now.seq):
                return None
            index = VectorIndex.of(saved)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        self.vector_file_loads += 1
        return changes.Position(now.epoch, int(saved["seq"]), -1), index

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


def _vectors_path(db: apsw.Connection) -> Path | None:
    """library.db.vectors.npz beside library.db (None for an in-memory database)."""
    name = db.filename
    return Path(name).with_name(Path(name).name + VECTOR_INDEX_SUFFIX) if name else None


def _save_vectors(db: apsw.Connection, at: changes.Position, index: VectorIndex) -> None:
    """Best effort: a library that cannot be written still searches, from memory."""
    path = _vectors_path(db)
    if path is not None and len(index.ids):
        index_file.save(path, {**index.arrays(), "format": np.array(VECTOR_FORMAT),
                               "epoch": np.array(at.epoch), "seq": np.array(at.seq)})
