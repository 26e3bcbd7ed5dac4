"""The passages' vectors: one vec0 table (sqlite-vec), one vector per passage.

The table holds float32 vectors, as the model gives them: the exact home of every vector. The
in-memory index (core/vector_index.py) scans int8 copies, each scaled so that its largest
component is 127 (cosine similarity does not depend on length): 384 dimensions in 384 bytes,
a quarter of float32, and the same ranking on both development sets (docs/search-quality.md).
Its best candidates are scored again with these float vectors, read from the saved copy of the
index (core/indexes.py). A library made before float storage has an int8 table (migration 7
stored int8); it is read the same way, and keeps int8 until it is embedded anew (a new
embedding model makes the table again as float32).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import apsw
import numpy as np
import numpy.typing as npt

TABLE = "passage_vectors"
# vec0's own tables, read directly to load a whole library: one row per chunk of vectors
# (sqlite-vec 0.1.x layout) is ~9x quicker than one row per vector through vec0.
CHUNKS = f"SELECT chunk_id, size, validity, rowids FROM {TABLE}_chunks ORDER BY chunk_id"

Ids = npt.NDArray[np.int64]
Int8s = npt.NDArray[np.int8]
Floats = npt.NDArray[np.float32]
TYPES = {"float": np.float32, "int8": np.int8}  # vec0's element types, as declared


def create_table(db: apsw.Connection, dim: int) -> None:
    db.execute(f"CREATE VIRTUAL TABLE {TABLE} USING vec0("
               f"passage_id INTEGER PRIMARY KEY, embedding float[{int(dim)}])")


def drop_table(db: apsw.Connection) -> None:
    db.execute(f"DROP TABLE IF EXISTS {TABLE}")


def quantize(matrix: npt.NDArray[np.float32]) -> Int8s:
    """Each row scaled to a largest |component| of 127 and rounded (a zero row stays zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    matrix = matrix.reshape(len(matrix), matrix.shape[-1] if matrix.ndim > 1 else -1)
    peak = np.abs(matrix).max(axis=1, keepdims=True) if matrix.size else np.ones((len(matrix), 1))
    peak[peak == 0] = 1.0
    return np.rint(matrix * (127.0 / peak)).astype(np.int8)


def insert(db: apsw.Connection, ids: Sequence[int], matrix: npt.NDArray[np.float32]) -> None:
    """Store the float vectors (rows of matrix) of passages ids (quantized in an int8 table)."""
    if element_type(db) == "int8":
        rows, wrap = quantize(matrix), "vec_int8(?)"
    else:
        rows, wrap = np.ascontiguousarray(matrix, dtype=np.float32), "?"
    db.executemany(f"INSERT INTO {TABLE} (passage_id, embedding) VALUES (?, {wrap})",
                   [(int(pid), row.tobytes()) for pid, row in zip(ids, rows, strict=True)])


def delete(db: apsw.Connection, ids: Sequence[int]) -> None:
    db.executemany(f"DELETE FROM {TABLE} WHERE passage_id = ?", [(int(p),) for p in ids])


def delete_of_document(db: apsw.Connection, doc_id: int) -> None:
    db.execute(f"DELETE FROM {TABLE} WHERE passage_id IN "
               "(SELECT id FROM passages WHERE document_id = ?)", (doc_id,))


def vector_of(db: apsw.Connection, passage_id: int) -> Floats | None:
    """The passage's vector as stored (float32; an int8 table's as float32 of its int8)."""
    row = db.execute(f"SELECT embedding FROM {TABLE} WHERE passage_id = ?",
                     (passage_id,)).fetchone()
    if row is None:
        return None
    stored = np.frombuffer(row[0], dtype=TYPES[element_type(db) or "float"])
    return stored.astype(np.float32)


def ids(db: apsw.Connection) -> list[int]:
    return [int(r[0]) for r in db.execute(f"SELECT passage_id FROM {TABLE}")]


def count(db: apsw.Connection) -> int:
    row = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


def _declared(db: apsw.Connection) -> tuple[str, int] | None:
    """The vector column's element type ("float" or "int8") and dimension, as declared."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone()
    if row is None:
        return None
    declared = str(row[0])
    for kind in TYPES:
        start = declared.find(f" {kind}[")
        if start >= 0:
            start += len(kind) + 2
            return kind, int(declared[start:declared.index("]", start)])
    return None


def width(db: apsw.Connection) -> int | None:
    """The declared dimension of the vector column (None if the table is missing)."""
    declared = _declared(db)
    return None if declared is None else declared[1]


def element_type(db: apsw.Connection) -> str | None:
    """"float" (float32, the exact vectors) or "int8" (a library made before float storage)."""
    declared = _declared(db)
    return None if declared is None else declared[0]


@dataclass(frozen=True)
class Loaded:
    """Vectors read from the table, by passage id: int8 rows for the in-memory index, and the
    float32 rows too when the table holds them (None for an int8 table)."""

    ids: Ids
    int8: Int8s
    floats: Floats | None


def some(db: apsw.Connection, wanted: Sequence[int], dim: int) -> Loaded:
    """Those of wanted that have a vector, by id."""
    rows = db.execute(f"SELECT passage_id, embedding FROM {TABLE} "
                      "WHERE passage_id IN (SELECT value FROM json_each(?)) ORDER BY passage_id",
                      ("[" + ",".join(str(int(p)) for p in wanted) + "]",)).fetchall()
    found = np.array([int(cast(int, r[0])) for r in rows], dtype=np.int64)
    blob = b"".join(cast(bytes, r[1]) for r in rows)
    if element_type(db) == "int8":
        return Loaded(found, np.frombuffer(blob, dtype=np.int8).reshape(len(rows), dim).copy(),
                      None)
    floats = np.frombuffer(blob, dtype=np.float32).reshape(len(rows), dim).copy()
    return Loaded(found, quantize(floats), floats)


def every(db: apsw.Connection, dim: int) -> Loaded:
    """Every stored vector, by id: from vec0's chunks when they read as expected (as many valid
    rows as vec0 counts), else one row at a time."""
    kind = element_type(db) or "float"
    try:
        found = _from_chunks(db, dim, kind)
    except (apsw.SQLError, ValueError):
        found = None
    if found is not None:
        return found
    return _row_by_row(db, dim, kind)


def _from_chunks(db: apsw.Connection, dim: int, kind: str) -> Loaded | None:
    """Straight into arrays of the final size (vec0's count): one chunk's blob at a time, so a
    load holds the matrix once, not its chunks and a concatenated copy besides."""
    element = np.dtype(TYPES[kind])
    total = count(db)
    ids_out = np.empty(total, dtype=np.int64)
    int8_out = np.empty((total, dim), dtype=np.int8)
    floats_out = np.empty((total, dim), dtype=np.float32) if kind == "float" else None
    filled = 0
    for chunk_id, size, validity, rowids in db.execute(CHUNKS):
        size = int(size)
        row = db.execute(f"SELECT vectors FROM {TABLE}_vector_chunks00 WHERE rowid = ?",
                         (chunk_id,)).fetchone()
        if (row is None or len(row[0]) != size * dim * element.itemsize
                or len(rowids) != size * 8):
            return None
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[:size]
        keep = np.flatnonzero(valid)
        if filled + len(keep) > total:
            return None
        at = slice(filled, filled + len(keep))
        ids_out[at] = np.frombuffer(rowids, dtype=np.int64)[keep]
        chunk = np.frombuffer(row[0], dtype=element).reshape(size, dim)[keep]
        if floats_out is None:
            int8_out[at] = chunk
        else:
            floats_out[at] = chunk
            int8_out[at] = quantize(chunk)
        filled += len(keep)
    if filled != total:
        return None
    if len(ids_out) > 1 and not bool((ids_out[1:] > ids_out[:-1]).all()):
        order = np.argsort(ids_out, kind="stable")
        return Loaded(ids_out[order], int8_out[order],
                      None if floats_out is None else floats_out[order])
    return Loaded(ids_out, int8_out, floats_out)


def _row_by_row(db: apsw.Connection, dim: int, kind: str) -> Loaded:
    found: list[int] = []
    blob = bytearray()
    for pid, vector in db.execute(f"SELECT passage_id, embedding FROM {TABLE} ORDER BY passage_id"):
        found.append(int(pid))
        blob += vector
    ids = np.array(found, dtype=np.int64)
    stored = np.frombuffer(bytes(blob), dtype=TYPES[kind]).reshape(len(found), dim).copy()
    if kind == "int8":
        return Loaded(ids, stored, None)
    return Loaded(ids, quantize(stored), stored)
