"""SQL of saved checks (core/diagnosis.py): a question and the document or page that answers it."""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from core.store.queries import now_iso


@dataclass(frozen=True)
class SavedCheck:
    id: int
    question: str
    document_id: int
    page: int | None
    generated: bool
    created_at: str


def list_checks(db: apsw.Connection) -> list[SavedCheck]:
    return [SavedCheck(int(i), str(q), int(d), None if p is None else int(p), bool(g), str(c))
            for i, q, d, p, g, c in db.execute(
                "SELECT id, question, document_id, page, generated, created_at FROM checks "
                "ORDER BY id")]


def add_check(db: apsw.Connection, question: str, document_id: int, page: int | None,
              generated: bool = False) -> int:
    """The check's id (an identical check already kept is not added twice; UNIQUE alone would
    not see it, as NULL pages never equal each other)."""
    found = "SELECT id FROM checks WHERE question = ? AND document_id = ? AND page IS ?"
    row = db.execute(found, (question, document_id, page)).fetchone()
    if row is None:
        db.execute("INSERT INTO checks (question, document_id, page, generated, created_at) "
                   "VALUES (?, ?, ?, ?, ?)", (question, document_id, page, int(generated),
                                              now_iso()))
        row = db.execute(found, (question, document_id, page)).fetchone()
    assert row is not None
    return int(row[0])


def delete_check(db: apsw.Connection, check_id: int) -> bool:
    db.execute("DELETE FROM checks WHERE id = ?", (check_id,))
    return db.changes() > 0


def passages_of_place(db: apsw.Connection, document_id: int, page: int | None) -> list[int]:
    """The passages of a document, or of those of its passages that are on page."""
    if page is None:
        rows = db.execute("SELECT id FROM passages WHERE document_id = ?", (document_id,))
    else:
        rows = db.execute("SELECT id FROM passages WHERE document_id = ? AND page_start <= ? "
                          "AND page_end >= ?", (document_id, page, page))
    return [int(r[0]) for r in rows]


def documents_of_passages(db: apsw.Connection, passage_ids: set[int]) -> dict[int, int]:
    ids = "[" + ",".join(str(int(p)) for p in passage_ids) + "]"
    return {int(p): int(d) for p, d in db.execute(
        "SELECT id, document_id FROM passages WHERE id IN (SELECT value FROM json_each(?))",
        (ids,))}


def existing_passages(db: apsw.Connection, passage_ids: list[int]) -> list[int]:
    """Those of passage_ids that are still in the library."""
    ids = "[" + ",".join(str(int(p)) for p in passage_ids) + "]"
    return [int(r[0]) for r in db.execute(
        "SELECT id FROM passages WHERE id IN (SELECT value FROM json_each(?))", (ids,))]


def passage_place(db: apsw.Connection, passage_id: int) -> tuple[int, int, int] | None:
    """(document id, first page, last page) of a passage; None if there is no such passage."""
    row = db.execute("SELECT document_id, page_start, page_end FROM passages WHERE id = ?",
                     (passage_id,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def embedding_texts(db: apsw.Connection, passage_ids: list[int]) -> dict[int, str]:
    """The text each passage is embedded as (its context, a line break, its text)."""
    ids = "[" + ",".join(str(int(p)) for p in passage_ids) + "]"
    return {int(p): f"{c}\n{t}" for p, c, t in db.execute(
        "SELECT id, context, text FROM passages WHERE id IN (SELECT value FROM json_each(?))",
        (ids,))}


def passage_count(db: apsw.Connection) -> int:
    row = db.execute("SELECT count(*) FROM passages").fetchone()
    return int(row[0]) if row else 0
