"""SQL of kept conversations: their turns, with a snapshot of what each answer cited."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import apsw

from core.answer_types import (
    Answer,
    AnswerMode,
    Citation,
    Conversation,
    SentenceSupport,
    Span,
    Turn,
)
from core.store.queries import now_iso
from core.types import Rect

LIST_CONVERSATIONS = """
SELECT c.id, c.title, c.created_at, c.updated_at, count(t.id)
FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id
GROUP BY c.id
ORDER BY c.updated_at DESC, c.id DESC
"""
SELECT_TURNS = """
SELECT question, answer, mode, citations, standalone_question, created_at, sources, support
FROM turns WHERE conversation_id = :conversation ORDER BY ordinal
"""
INSERT_TURN = """
INSERT INTO turns (conversation_id, ordinal, question, standalone_question, answer, mode, model,
                   complete, notice, citations, created_at, sources, support)
VALUES (:conversation,
        (SELECT coalesce(max(ordinal), 0) + 1 FROM turns WHERE conversation_id = :conversation),
        :question, :standalone, :answer, :mode, :model, :complete, :notice, :citations, :now,
        :sources, :support)
"""
TITLE_CHARS = 80


def _citation_json(c: Citation) -> dict[str, Any]:
    return {"n": c.n, "passage_id": c.passage_id, "document_id": c.document_id, "title": c.title,
            "page": c.page, "page_label": c.page_label, "text": c.text, "found_by": c.found_by,
            "rects": [[r.page, r.x0, r.y0, r.x1, r.y1] for r in c.rects]}


def _citation(value: dict[str, Any]) -> Citation:
    return Citation(n=int(value["n"]), passage_id=int(value["passage_id"]),
                    document_id=int(value["document_id"]), title=str(value["title"]),
                    page=int(value["page"]), page_label=value.get("page_label"),
                    text=str(value["text"]), found_by=str(value.get("found_by", "")),
                    rects=tuple(Rect(int(r[0]), *map(float, r[1:])) for r in value["rects"]))


def _support_json(s: SentenceSupport) -> dict[str, Any]:
    return {"sentence": s.sentence, "numbers": list(s.unsupported_numbers),
            "spans": [[x.n, x.text, x.page, x.score, x.supported] for x in s.spans]}


def _support(value: dict[str, Any]) -> SentenceSupport:
    return SentenceSupport(str(value["sentence"]),
                           tuple(Span(int(n), str(t), int(p), float(sc), bool(ok))
                                 for n, t, p, sc, ok in value["spans"]),
                           tuple(str(x) for x in value.get("numbers", [])))


def create_conversation(db: apsw.Connection, first_question: str) -> int:
    title = " ".join(first_question.split())
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS].rsplit(" ", 1)[0] + " …"
    now = now_iso()
    db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
               (title, now, now))
    return int(db.last_insert_rowid())


def conversation_exists(db: apsw.Connection, conversation_id: int) -> bool:
    return db.execute("SELECT 1 FROM conversations WHERE id = ?",
                      (conversation_id,)).fetchone() is not None


def add_turn(db: apsw.Connection, conversation_id: int, answer: Answer) -> None:
    now = now_iso()
    db.execute(INSERT_TURN, {
        "conversation": conversation_id, "question": answer.question,
        "standalone": answer.standalone_question, "answer": answer.text,
        "mode": str(answer.mode), "model": answer.model, "complete": int(answer.complete),
        "notice": answer.notice, "now": now,
        "citations": json.dumps([_citation_json(c) for c in answer.citations]),
        "sources": json.dumps([s.hit.passage_id for s in answer.sources]),
        "support": json.dumps([_support_json(s) for s in answer.support]),
    })
    db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))


def list_conversations(db: apsw.Connection) -> list[Conversation]:
    return [Conversation(int(i), str(t), str(c), str(u), int(n))
            for i, t, c, u, n in db.execute(LIST_CONVERSATIONS)]


def turns(db: apsw.Connection, conversation_id: int) -> list[Turn]:
    rows: Sequence[Any] = db.execute(SELECT_TURNS, {"conversation": conversation_id}).fetchall()
    return [Turn(question=str(q), answer=str(a), mode=AnswerMode(m),
                 citations=tuple(_citation(c) for c in json.loads(cites)),
                 standalone_question=str(s), created_at=str(at),
                 sources=tuple(int(p) for p in json.loads(sent)),
                 support=tuple(_support(x) for x in json.loads(supported)))
            for q, a, m, cites, s, at, sent, supported in rows]


def delete_conversation(db: apsw.Connection, conversation_id: int) -> bool:
    db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
    return db.changes() > 0
