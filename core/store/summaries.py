"""SQL of whole-document answers (core/overview.py): a document's passages in order, and the
summaries the model wrote, each kept under the key of what it was made from (migration 13)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import apsw

from core.store.queries import now_iso
from core.types import Hit, Rect

DOCUMENT_PASSAGES = """
SELECT p.id, d.title, p.page_start, p.page_end, p.page_label, p.heading_path, p.text,
       p.token_count
FROM passages p JOIN documents d ON d.id = p.document_id
WHERE p.document_id = :doc
ORDER BY p.ordinal
"""
DOCUMENT_RECTS = """
SELECT r.passage_id, r.page, r.x0, r.y0, r.x1, r.y1
FROM passage_rects r JOIN passages p ON p.id = r.passage_id
WHERE p.document_id = :doc
ORDER BY r.passage_id, r.seq
"""
SELECT_SUMMARY = """
SELECT key, document_id, kind, model, heading, page_start, page_end, sources, text, created_at
FROM summaries
"""
INSERT_SUMMARY = """
INSERT OR REPLACE INTO summaries (key, document_id, kind, model, heading, page_start, page_end,
                                  sources, text, created_at)
VALUES (:key, :document_id, :kind, :model, :heading, :page_start, :page_end, :sources, :text,
        :created_at)
"""


@dataclass(frozen=True)
class Summary:
    """What the model wrote for a section ("section") or for the whole request ("document");
    its [n] name sources[n - 1]."""

    key: str
    document_id: int
    kind: str
    model: str
    heading: str
    page_start: int
    page_end: int
    sources: tuple[int, ...]
    text: str
    created_at: str = ""


def document_passages(db: apsw.Connection, doc_id: int) -> list[tuple[Hit, int]]:
    """Every passage of the document in reading order, as a Hit (no ranks), with its tokens."""
    rects: dict[int, list[Rect]] = {}
    for pid, page, x0, y0, x1, y1 in db.execute(DOCUMENT_RECTS, {"doc": doc_id}):
        rects.setdefault(int(pid), []).append(Rect(int(page), x0, y0, x1, y1))
    return [(Hit(passage_id=int(pid), document_id=doc_id, title=str(title), page=int(start),
                 page_end=int(end), page_label=None if label is None else str(label),
                 heading_path=str(headings), text=str(text), score=0.0, keyword_rank=None,
                 semantic_rank=None, rects=tuple(rects.get(int(pid), ()))), int(tokens))
            for pid, title, start, end, label, headings, text, tokens
            in db.execute(DOCUMENT_PASSAGES, {"doc": doc_id})]


def _summary(row: tuple[object, ...]) -> Summary:
    key, doc, kind, model, heading, start, end, sources, text, created = row
    return Summary(str(key), int(doc), str(kind), str(model),  # type: ignore[call-overload]
                   str(heading), int(start), int(end),  # type: ignore[call-overload]
                   tuple(int(s) for s in json.loads(str(sources))), str(text), str(created))


def get(db: apsw.Connection, key: str) -> Summary | None:
    row = db.execute(SELECT_SUMMARY + " WHERE key = ?", (key,)).fetchone()
    return None if row is None else _summary(tuple(row))


def put(db: apsw.Connection, summary: Summary) -> None:
    db.execute(INSERT_SUMMARY, {
        "key": summary.key, "document_id": summary.document_id, "kind": summary.kind,
        "model": summary.model, "heading": summary.heading, "page_start": summary.page_start,
        "page_end": summary.page_end, "sources": json.dumps(list(summary.sources)),
        "text": summary.text, "created_at": summary.created_at or now_iso()})


def of_document(db: apsw.Connection, doc_id: int) -> list[Summary]:
    """The kept summaries of a document, oldest first."""
    return [_summary(tuple(r)) for r in db.execute(
        SELECT_SUMMARY + " WHERE document_id = ? ORDER BY created_at, rowid", (doc_id,))]


def forget_document(db: apsw.Connection, doc_id: int) -> int:
    """Drop a document's kept summaries (the next summary is made afresh); how many."""
    db.execute("DELETE FROM summaries WHERE document_id = ?", (doc_id,))
    return db.changes()
