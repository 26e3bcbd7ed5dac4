"""SQL of search: the passages the keyword index is built from, FTS5 phrase matches, the
passages of documents (a scoped search), and the details of passages. (The vectors:
core/store/vectors.py; what changed since an index was built: core/store/changes.py.)"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import apsw

from core.store import tokenizer
from core.types import Rect

# What passages_fts tokenizes with (migration 9; core/store/tokenizer.py), and so the in-memory
# keyword index too.
FTS_TOKENIZER: tuple[str, list[str]] = (tokenizer.NAME, [])

# The in-memory keyword index (core/keyword_index.py): every passage's columns as FTS5 indexes
# them.
PASSAGE_TEXTS = "SELECT id, document_id, context, text FROM passages {where} ORDER BY id"
# A passage without page, rectangles or vector (core/evaluation.keyword_only_db).
INSERT_BARE_PASSAGE = """
INSERT INTO passages (document_id, ordinal, text, heading_path, context, page_start, page_end,
                      token_count)
VALUES (:document_id, 0, :text, '', :context, 1, 1, 0)
"""
# Quoted phrases are required (when some passage holds them all): FTS5 finds those passages.
PHRASE_MATCHES = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH :query"

# A scoped search: the passages of some documents (the (document_id, ordinal) index has the ids).
PASSAGES_OF_DOCUMENTS = ("SELECT id FROM passages "
                         "WHERE document_id IN (SELECT value FROM json_each(:ids))")
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


def insert_bare_passage(db: apsw.Connection, document_id: int, text: str, context: str) -> None:
    db.execute(INSERT_BARE_PASSAGE, {"document_id": document_id, "text": text, "context": context})


def phrase_matches(db: apsw.Connection, expression: str) -> list[int]:
    """The passages matching an FTS5 expression (built by querytext, every piece quoted)."""
    return [int(r[0]) for r in db.execute(PHRASE_MATCHES, {"query": expression})]


def passages_of_documents(db: apsw.Connection, documents: Sequence[int]) -> list[int]:
    return [int(r[0]) for r in db.execute(PASSAGES_OF_DOCUMENTS, {"ids": _json_ints(documents)})]


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
