"""SQL of search: the passages the keyword and vector indexes are built from, FTS5 phrase
matches, and the details of passages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import apsw
import numpy as np
import numpy.typing as npt

from core.store.queries import EMBEDDING_TABLE
from core.types import Rect

FTS_TOKENIZER = ("porter", ["unicode61", "remove_diacritics", "2"])  # as in migration 2

# The in-memory keyword index (core/keyword_index.py): every passage's columns as FTS5 indexes
# them, and the (id, document id) pairs that tell it what another connection changed.
PASSAGE_TEXTS = "SELECT id, document_id, context, text FROM passages {where} ORDER BY id"
PASSAGE_IDS = "SELECT id, document_id FROM passages"
PASSAGE_SIGNATURES = ("SELECT id, document_id, octet_length(context) + octet_length(text) "
                      "FROM passages")
PASSAGE_CHANGE_LOG_SETUP = [
    "CREATE TEMP TABLE IF NOT EXISTS folio_passage_changes (passage_id INTEGER NOT NULL)",
    "CREATE TEMP TRIGGER IF NOT EXISTS folio_passage_insert AFTER INSERT ON main.passages "
    "BEGIN INSERT INTO folio_passage_changes VALUES (new.id); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS folio_passage_delete AFTER DELETE ON main.passages "
    "BEGIN INSERT INTO folio_passage_changes VALUES (old.id); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS folio_passage_update AFTER UPDATE ON main.passages "
    "BEGIN INSERT INTO folio_passage_changes VALUES (old.id), (new.id); END",
]
# A passage without page, rectangles or vector (core/evaluation.keyword_only_db).
INSERT_BARE_PASSAGE = """
INSERT INTO passages (document_id, ordinal, text, heading_path, context, page_start, page_end,
                      token_count)
VALUES (:document_id, 0, :text, '', :context, 1, 1, 0)
"""
# Quoted phrases are required (when some passage holds them all): FTS5 finds those passages.
PHRASE_MATCHES = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH :query"

# The in-memory vector index (core/search.py): every float vector, and the passages' documents
# (from the covering index on (document_id, ordinal): a join would read every passage's text).
ALL_EMBEDDINGS = f"SELECT passage_id, embedding FROM {EMBEDDING_TABLE} {{where}} ORDER BY passage_id"
PASSAGE_DOCUMENTS = "SELECT id, document_id FROM passages {where}"
# What tells this connection that another one changed the passages (PRAGMA data_version says
# that something changed): counts and sums over the passages' (document_id, ordinal) index,
# the newest document and the embedding model. A removed document and a new one with the same
# ids, passage count and second of adding, between two searches, would go unnoticed.
PASSAGE_FINGERPRINT = """
SELECT (SELECT count(*) || ':' || ifnull(max(id), 0) || ':' || total(id) || ':' || total(document_id)
        FROM passages),
       (SELECT count(*) || ':' || ifnull(max(id), 0) || ':' || ifnull(max(added_at), '')
        FROM documents),
       (SELECT value FROM meta WHERE key = 'embedding_model')
"""
# This connection's own writes to the float vectors, logged by temporary triggers.
CHANGE_LOG_SETUP = [
    "CREATE TEMP TABLE IF NOT EXISTS folio_vector_changes (passage_id INTEGER NOT NULL)",
    f"CREATE TEMP TRIGGER IF NOT EXISTS folio_vector_insert AFTER INSERT ON main.{EMBEDDING_TABLE} "
    "BEGIN INSERT INTO folio_vector_changes VALUES (new.passage_id); END",
    f"CREATE TEMP TRIGGER IF NOT EXISTS folio_vector_delete AFTER DELETE ON main.{EMBEDDING_TABLE} "
    "BEGIN INSERT INTO folio_vector_changes VALUES (old.passage_id); END",
    f"CREATE TEMP TRIGGER IF NOT EXISTS folio_vector_update AFTER UPDATE ON main.{EMBEDDING_TABLE} "
    "BEGIN INSERT INTO folio_vector_changes VALUES (old.passage_id), (new.passage_id); END",
]

PASSAGE_DETAILS = """
SELECT p.id, p.document_id, d.title, p.page_start, p.page_end, p.page_label, p.heading_path,
       p.text
FROM passages p JOIN documents d ON d.id = p.document_id
WHERE p.id IN (SELECT value FROM json_each(:ids))
"""
PASSAGE_RECTS = """
SELECT passage_id, page, x0, y0, x1, y1 FROM passage_rects
WHERE passage_id IN (SELECT value FROM json_each(:ids))
ORDER BY passage_id, seq
"""


def _json_ints(values: Sequence[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"




def passage_texts(db: apsw.Connection,
                  ids: Sequence[int] | None) -> Iterator[tuple[int, int, str, str]]:
    """(id, document id, context, text) of every passage, or of those of ids, by id."""
    if ids is None:
        rows = db.execute(PASSAGE_TEXTS.format(where=""))
    else:
        rows = db.execute(PASSAGE_TEXTS.format(where="WHERE id IN (SELECT value FROM json_each(:ids))"),
                          {"ids": _json_ints(ids)})
    for pid, did, context, text in rows:
        yield int(pid), int(did), str(context or ""), str(text or "")


def passage_documents(db: apsw.Connection) -> list[tuple[int, int]]:
    return [(int(p), int(d)) for p, d in db.execute(PASSAGE_IDS)]


def passage_signatures(db: apsw.Connection) -> list[tuple[int, int, int]]:
    """(id, document id, UTF-8 bytes of context and text) of every passage."""
    return [(int(p), int(d), int(n)) for p, d, n in db.execute(PASSAGE_SIGNATURES)]


def install_passage_change_log(db: apsw.Connection) -> None:
    for sql in PASSAGE_CHANGE_LOG_SETUP:
        db.execute(sql)


def take_passage_changes(db: apsw.Connection) -> list[int]:
    """The passage ids this connection added, changed or removed since last time."""
    ids = [int(r[0]) for r in db.execute("SELECT DISTINCT passage_id FROM folio_passage_changes")]
    if ids:
        db.execute("DELETE FROM folio_passage_changes")
    return ids


def insert_bare_passage(db: apsw.Connection, document_id: int, text: str, context: str) -> None:
    db.execute(INSERT_BARE_PASSAGE, {"document_id": document_id, "text": text, "context": context})


def phrase_matches(db: apsw.Connection, expression: str) -> list[int]:
    """The passages matching an FTS5 expression (built by querytext, every piece quoted)."""
    return [int(r[0]) for r in db.execute(PHRASE_MATCHES, {"query": expression})]


Vectors = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]


def _vectors(db: apsw.Connection, ids: Sequence[int] | None, dim: int | None) -> Vectors:
    """(passage ids, their document ids, their float vectors as rows), by passage id; of every
    passage, or of those of ids that have a vector. The blobs are held once, in the matrix."""
    binds = {} if ids is None else {"ids": _json_ints(ids)}
    where = "" if ids is None else "WHERE {} IN (SELECT value FROM json_each(:ids))"
    found: list[int] = []
    blobs = bytearray()
    for pid, blob in db.execute(ALL_EMBEDDINGS.format(where=where.format("passage_id")), binds):
        found.append(int(pid))
        blobs += blob
    width = len(blobs) // 4 // len(found) if found else (dim or 0)
    matrix = np.frombuffer(blobs, dtype=np.float32).reshape(len(found), width)
    passages = np.array(db.execute(PASSAGE_DOCUMENTS.format(where=where.format("id")),
                                   binds).fetchall(), dtype=np.int64).reshape(-1, 2)
    passages = passages[np.argsort(passages[:, 0])]
    rows = np.array(found, dtype=np.int64)
    at = np.minimum(np.searchsorted(passages[:, 0], rows), max(len(passages) - 1, 0))
    known = passages[at, 0] == rows if len(passages) else np.zeros(len(rows), dtype=bool)
    if known.all():
        return rows, passages[at, 1], matrix
    return rows[known], passages[at[known], 1], matrix[known]


def all_vectors(db: apsw.Connection) -> Vectors:
    return _vectors(db, None, None)


def vectors_of(db: apsw.Connection, ids: Sequence[int], dim: int) -> Vectors:
    return _vectors(db, ids, dim)


def passage_fingerprint(db: apsw.Connection) -> tuple[Any, ...]:
    row = db.execute(PASSAGE_FINGERPRINT).fetchone()
    return tuple(row) if row else ()


def install_change_log(db: apsw.Connection) -> None:
    for sql in CHANGE_LOG_SETUP:
        db.execute(sql)


def take_changes(db: apsw.Connection) -> list[int]:
    """The passage ids whose vector this connection added, changed or removed since last time."""
    ids = [int(r[0]) for r in db.execute("SELECT DISTINCT passage_id FROM folio_vector_changes")]
    if ids:
        db.execute("DELETE FROM folio_vector_changes")
    return ids


def passage_details(db: apsw.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The fields of Hit (but the ranks) for each passage id."""
    binds = {"ids": _json_ints(ids)}
    details: dict[int, dict[str, Any]] = {}
    for pid, did, title, start, end, label, headings, text in db.execute(PASSAGE_DETAILS, binds):
        details[int(pid)] = {"passage_id": int(pid), "document_id": int(did), "title": title,
                             "page": int(start), "page_end": int(end), "page_label": label,
                             "heading_path": headings, "text": text, "rects": ()}
    rects: dict[int, list[Rect]] = {}
    for pid, page, x0, y0, x1, y1 in db.execute(PASSAGE_RECTS, binds):
        rects.setdefault(int(pid), []).append(Rect(int(page), x0, y0, x1, y1))
    for pid, found in rects.items():
        if pid in details:
            details[pid]["rects"] = tuple(found)
    for value in details.values():
        value.pop("passage_id")
    return details
