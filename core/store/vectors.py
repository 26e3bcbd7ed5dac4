"""The passages' vectors: one vec0 table (sqlite-vec), one int8 vector per passage.

A vector is stored scaled so that its largest component is 127 (cosine similarity does not
depend on length), which keeps 384 dimensions in 384 bytes: a quarter of float32, on disk and
in the in-memory index (core/vector_index.py). Measured against float32 on both development
sets: docs/search-quality.md.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def create_table(db: apsw.Connection, dim: int) -> None:
    db.execute(f"CREATE VIRTUAL TABLE {TABLE} USING vec0("
               f"passage_id INTEGER PRIMARY KEY, embedding int8[{int(dim)}])")


def drop_table(db: apsw.Connection) -> None:
    db.execute(f"DROP TABLE IF EXISTS {TABLE}")


def quantize(matrix: npt.NDArray[np.float32]) -> Int8s:
    """Each row scaled to a largest |component| of 127 and rounded (a zero row stays zero)."""
    matrix = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    peak = np.abs(matrix).max(axis=1, keepdims=True) if matrix.size else np.ones((len(matrix), 1))
    peak[peak == 0] = 1.0
    return np.rint(matrix * (127.0 / peak)).astype(np.int8)


def insert(db: apsw.Connection, ids: Sequence[int], matrix: npt.NDArray[np.float32]) -> None:
    """Store the float vectors (rows of matrix) of passages ids, quantized."""
    codes = quantize(matrix)
    db.executemany(f"INSERT INTO {TABLE} (passage_id, embedding) VALUES (?, vec_int8(?))",
                   [(int(pid), row.tobytes()) for pid, row in zip(ids, codes, strict=True)])


def delete(db: apsw.Connection, ids: Sequence[int]) -> None:
    db.executemany(f"DELETE FROM {TABLE} WHERE passage_id = ?", [(int(p),) for p in ids])


def delete_of_document(db: apsw.Connection, doc_id: int) -> None:
    db.execute(f"DELETE FROM {TABLE} WHERE passage_id IN "
               "(SELECT id FROM passages WHERE document_id = ?)", (doc_id,))


def vector_of(db: apsw.Connection, passage_id: int) -> Int8s | None:
    row = db.execute(f"SELECT embedding FROM {TABLE} WHERE passage_id = ?",
                     (passage_id,)).fetchone()
    return None if row is None else np.frombuffer(row[0], dtype=np.int8).copy()


def ids(db: apsw.Connection) -> list[int]:
    return [int(r[0]) for r in db.execute(f"SELECT passage_id FROM {TABLE}")]


def count(db: apsw.Connection) -> int:
    row = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


def width(db: apsw.Connection) -> int | None:
    """The declared dimension of the vector column (None if the table is missing)."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone()
    if row is None:
        return None
    declared = str(row[0])
    start = declared.find("int8[")
    if start < 0:
        return None
    return int(declared[start + 5:declared.index("]", start)])


def some(db: apsw.Connection, wanted: Sequence[int], dim: int) -> tuple[Ids, Int8s]:
    """(passage ids, their vectors as rows) of those of wanted that have a vector, by id."""
    rows = db.execute(f"SELECT passage_id, embedding FROM {TABLE} "
                      "WHERE passage_id IN (SELECT value FROM json_each(?)) ORDER BY passage_id",
                      ("[" + ",".join(str(int(p)) for p in wanted) + "]",)).fetchall()
    found = np.array([int(cast(int, r[0])) for r in rows], dtype=np.int64)
    blob = b"".join(cast(bytes, r[1]) for r in rows)
    return found, np.frombuffer(blob, dtype=np.int8).reshape(len(rows), dim).copy()


def every(db: apsw.Connection, dim: int) -> tuple[Ids, Int8s]:
    """(passage ids, vectors as rows) of every stored vector, by id: from vec0's chunks when
    they read as expected (as many valid rows as vec0 counts), else one row at a time."""
    try:
        found = _from_chunks(db, dim)
    except (apsw.SQLError, ValueError):
        found = None
    if found is not None:
        return found
    return _row_by_row(db, dim)


def _from_chunks(db: apsw.Connection, dim: int) -> tuple[Ids, Int8s] | None:
    """Straight into arrays of the final size (vec0's count): one chunk's blob at a time, so a
    load holds the matrix once, not its chunks and a concatenated copy besides."""
    total = count(db)
    ids_out = np.empty(total, dtype=np.int64)
    vectors_out = np.empty((total, dim), dtype=np.int8)
    filled = 0
    for chunk_id, size, validity, rowids in db.execute(CHUNKS):
        size = int(size)
        row = db.execute(f"SELECT vectors FROM {TABLE}_vector_chunks00 WHERE rowid = ?",
                         (chunk_id,)).fetchone()
        if row is None or len(row[0]) != size * dim or len(rowids) != size * 8:
            return None
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[:size]
        keep = np.flatnonzero(valid)
        if filled + len(keep) > total:
            return None
        ids_out[filled:filled + len(keep)] = np.frombuffer(rowids, dtype=np.int64)[keep]
        vectors_out[filled:filled + len(keep)] = np.frombuffer(
            row[0], dtype=np.int8).reshape(size, dim)[keep]
        filled += len(keep)
    if filled != total:
        return None
    if len(ids_out) > 1 and not bool((ids_out[1:] > ids_out[:-1]).all()):
        order = np.argsort(ids_out, kind="stable")
        return ids_out[order], vectors_out[order]
    return ids_out, vectors_out


def _row_by_row(db: apsw.Connection, dim: int) -> tuple[Ids, Int8s]:
    found: list[int] = []
    blob = bytearray()
    for pid, vector in db.execute(f"SELECT passage_id, embedding FROM {TABLE} ORDER BY passage_id"):
        found.append(int(pid))
        blob += vector
    return (np.array(found, dtype=np.int64),
            np.frombuffer(bytes(blob), dtype=np.int8).reshape(len(found), dim).copy())
