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
from core.vector_index import FileVectors, MemoryVectors, VectorIndex

REBUILD_SHARE = 0.5  # vectors: more changed passages than this share, and the index is rebuilt
SAVE_AGAIN_SHARE = 0.05  # a saved copy patched by more than this share is saved anew,
SAVE_AGAIN_AT_LEAST = 10_000  # passages, and more than this many (15 MB of float vectors)
FLOATS_IN_MEMORY_MAX = 64 << 20  # bytes of float vectors kept when the index cannot be saved
VECTOR_FORMAT = "folio vector index 2"  # 2: with the float vectors


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
            behind = (REBUILD_SHARE * len(index.ids) if seen.oldest >= 0
                      else _save_again_above(len(index.ids)))
            if changed is not None and len(changed) <= max(1, behind):
                loaded = vectors.some(db, changed, index.dim)
                patched = index.patched(changed, loaded.ids, loaded.int8, loaded.floats)
                if not save or patched.floats_patched_in <= _save_again_above(len(patched.ids)):
                    return patched
        # a whole load: none yet, another epoch, a saved copy far behind, or too many float
        # vectors patched in on top of it (in memory, 1.5 kB each): saved anew here
        dim = vectors.width(db) or 0
        loaded = vectors.every(db, dim)
        self.vector_loads += 1
        exact = None if loaded.floats is None else MemoryVectors(loaded.ids, loaded.floats)
        index = VectorIndex(loaded.ids, loaded.int8, dim, exact)
        if save and _save_vectors(db, now, index, loaded.floats):
            # the saved copy, mapped, replaces this one: its float vectors stay on disk
            reopened = self._saved_vectors(db, now, count=False)
            if reopened is not None:
                return reopened[1]
        if loaded.floats is not None and loaded.floats.nbytes > FLOATS_IN_MEMORY_MAX:
            index.exact = None  # not saved (a read-only folder): the int8 order, not 1.5 kB each
        return index

    def _saved_vectors(self, db: apsw.Connection, now: changes.Position,
                       count: bool = True) -> tuple[changes.Position, VectorIndex] | None:
        """The saved copy of the vector index and the position it was made at (its `oldest`
        is -1: it came from the file), if it is this library's, of this epoch and format."""
        path = _vectors_path(db)
        if path is None:
            return None
        index_file.sweep_temporaries(path)
        try:
            saved = index_file.open_saved(path, row_members=("floats",))
            if saved is None:
                return None
            arrays = saved.arrays
            if (str(arrays["format"]) != VECTOR_FORMAT or str(arrays["epoch"]) != now.epoch
                    or int(arrays["seq"]) > now.seq):
                return None
            floats = saved.rows["floats"]
            exact = (FileVectors(arrays["ids"], floats) if floats.shape[0] == len(arrays["ids"])
                     and floats.shape[1] == int(arrays["dim"]) else None)
            index = VectorIndex.of(arrays, exact)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        if count:
            self.vector_file_loads += 1
        return changes.Position(now.epoch, int(arrays["seq"]), -1), index

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


def _save_again_above(passages: int) -> float:
    """Changes on top of a saved copy past which the index is loaded whole and saved anew."""
    return max(SAVE_AGAIN_SHARE * passages, SAVE_AGAIN_AT_LEAST)


def _vectors_path(db: apsw.Connection) -> Path | None:
    """library.db.vectors.npz beside library.db (None for an in-memory database)."""
    name = db.filename
    return Path(name).with_name(Path(name).name + VECTOR_INDEX_SUFFIX) if name else None


def _save_vectors(db: apsw.Connection, at: changes.Position, index: VectorIndex,
                  floats: vectors.Floats | None) -> bool:
    """Save the index and its float vectors (rows in the index's order; an int8 library has
    none: an empty matrix). Best effort: a library that cannot be written still searches,
    from memory."""
    path = _vectors_path(db)
    if path is None or not len(index.ids):
        return False
    if floats is None:
        floats = np.zeros((0, index.dim), dtype=np.float32)
    return index_file.save(path, {**index.arrays(), "floats": floats,
                                  "format": np.array(VECTOR_FORMAT),
                                  "epoch": np.array(at.epoch), "seq": np.array(at.seq)})
