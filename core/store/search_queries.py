"""SQL of search: FTS5 bm25 hits, sqlite-vec nearest neighbours, and the details of passages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import apsw
import numpy as np
import numpy.typing as npt

from core.store.queries import EMBEDDING_TABLE
from core.types import Rect

FTS_HITS = """
SELECT rowid, bm25(passages_fts, :context_weight, :text_weight) AS score
FROM passages_fts
WHERE passages_fts MATCH :query {scope}
ORDER BY score
LIMIT :limit
"""
# bm25 is a sum over terms, so a passage's score for "rare OR common" is its score for
# "rare AND common" if it holds both, else its score for "rare": the same ranking as the OR query
# over the passages that hold a rare term, without scoring the many that hold only common ones.
FTS_RARE_HITS = """
SELECT rowid, min(score) AS score FROM (
    SELECT rowid, bm25(passages_fts, :context_weight, :text_weight) AS score
    FROM passages_fts WHERE passages_fts MATCH :rare {scope}
    UNION ALL
    SELECT rowid, bm25(passages_fts, :context_weight, :text_weight) AS score
    FROM passages_fts WHERE passages_fts MATCH :both {scope}
)
GROUP BY rowid
ORDER BY score
LIMIT :limit
"""
FTS_SCOPE = """
  AND rowid IN (SELECT id FROM passages
                WHERE document_id IN (SELECT value FROM json_each(:documents)))
"""

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


FTS_TOKENIZER = ("porter", ["unicode61", "remove_diacritics", "2"])  # as in migration 2


def term_document_counts(db: apsw.Connection, terms: Sequence[str]) -> tuple[dict[str, int], int]:
    """({term: passages containing it}, passages in all) for the stems of the given terms.

    A term counts as its rarest stem, so "BX-200" (two tokens) is as rare as "bx".
    """
    tokenizer = db.fts5_tokenizer(*FTS_TOKENIZER)
    stems = {t: [tok[2] for tok in tokenizer(t.encode("utf-8"), apsw.FTS5_TOKENIZE_QUERY, None)
                 if len(tok) > 2] for t in terms}
    wanted = sorted({stem for found in stems.values() for stem in found})
    counts: dict[str, int] = {}
    if wanted:
        rows = db.execute("SELECT term, doc FROM passages_fts_terms WHERE term IN "
                          "(SELECT value FROM json_each(:terms))", {"terms": json.dumps(wanted)})
        counts = {str(term): int(doc) for term, doc in rows}
    row = db.execute(f"SELECT max(passage_id) FROM {EMBEDDING_TABLE}").fetchone()
    total = int(row[0]) if row and row[0] else 0
    return {t: min((counts.get(s, 0) for s in found), default=0)
            for t, found in stems.items()}, total


def fts_hits(db: apsw.Connection, expression: str, limit: int, scope: Sequence[int] | None,
             context_weight: float, text_weight: float) -> list[tuple[int, float]]:
    sql = FTS_HITS.format(scope=FTS_SCOPE if scope is not None else "")
    binds: dict[str, Any] = {"query": expression, "limit": limit,
                             "context_weight": context_weight, "text_weight": text_weight}
    if scope is not None:
        binds["documents"] = _json_ints(scope)
    return [(int(pid), float(score)) for pid, score in db.execute(sql, binds)]


def fts_rare_hits(db: apsw.Connection, rare: str, both: str, limit: int,
                  scope: Sequence[int] | None, context_weight: float,
                  text_weight: float) -> list[tuple[int, float]]:
    """bm25 hits of the passages matching rare, scored as if by (rare OR the others); both is
    the expression (rare) AND (the others)."""
    sql = FTS_RARE_HITS.format(scope=FTS_SCOPE if scope is not None else "")
    binds: dict[str, Any] = {"rare": rare, "both": both, "limit": limit,
                             "context_weight": context_weight, "text_weight": text_weight}
    if scope is not None:
        binds["documents"] = _json_ints(scope)
    return [(int(pid), float(score)) for pid, score in db.execute(sql, binds)]


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
