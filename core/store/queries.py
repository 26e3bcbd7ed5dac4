"""SQL for documents, passages, rectangles, vectors and settings; user text is always a parameter."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import apsw
import numpy as np
import numpy.typing as npt

from core.store import vectors
from core.types import DocStatus, Document, Passage

SELECT_DOCUMENTS = """
SELECT d.id, d.title, d.doc_type, d.original_path, d.stored_path, d.sha256, d.size_bytes,
       d.pages, (SELECT count(*) FROM passages p WHERE p.document_id = d.id),
       d.status, d.error, d.error_kind, d.notes, d.added_at
FROM documents d
"""

# Ids are never reused (the highest ever given is kept in meta): a citation kept in an old
# conversation names its document by id, and must not open a newer one that took the id.
INSERT_DOCUMENT = """
INSERT INTO documents (id, title, doc_type, original_path, stored_path, sha256, size_bytes, pages,
                       status, error, error_kind, notes, added_at)
VALUES (max(coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_document_id'), 0),
            coalesce((SELECT max(id) FROM documents), 0)) + 1,
        :title, :doc_type, :original_path, :stored_path, :sha256, :size_bytes, :pages,
        :status, :error, :error_kind, :notes, :added_at)
"""

INSERT_DOCUMENT_WITH_ID = """
INSERT INTO documents (id, title, doc_type, original_path, stored_path, sha256, size_bytes, pages,
                       status, error, error_kind, notes, added_at)
VALUES (:id, :title, :doc_type, :original_path, :stored_path, :sha256, :size_bytes, :pages,
        :status, :error, :error_kind, :notes, :added_at)
"""

INSERT_PASSAGE = """
INSERT INTO passages (document_id, ordinal, text, heading_path, context, page_start, page_end,
                      page_label, char_start, char_end, token_count)
VALUES (:document_id, :ordinal, :text, :heading_path, :context, :page_start, :page_end,
        :page_label, :char_start, :char_end, :token_count)
"""

INSERT_RECT = """
INSERT INTO passage_rects (passage_id, seq, page, x0, y0, x1, y1)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""

HEADING_SEPARATOR = " › "


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _document(row: Sequence[object]) -> Document:
    (id_, title, doc_type, original, stored, sha, size, pages, passages, status, error, kind,
     notes, added) = row
    return Document(
        id=int(id_),  # type: ignore[call-overload]
        title=str(title),
        doc_type=str(doc_type),
        original_path=str(original),
        stored_path=None if stored is None else str(stored),
        sha256=None if sha is None else str(sha),
        size_bytes=int(size),  # type: ignore[call-overload]
        pages=int(pages),  # type: ignore[call-overload]
        passages=int(passages),  # type: ignore[call-overload]
        status=DocStatus(str(status)),
        error=None if error is None else str(error),
        error_kind=None if kind is None else str(kind),
        notes=None if notes is None else str(notes),
        added_at=str(added),
    )


# --- settings -------------------------------------------------------------------------------

def get_meta(db: apsw.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(db: apsw.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


SELECT_META_VALUES = """
SELECT key, value FROM meta WHERE key IN (SELECT value FROM json_each(:keys))
"""


def meta_values(db: apsw.Connection, keys: Iterable[str]) -> dict[str, str]:
    """The values kept under keys (those that have one): only these rows are read, not the
    other values meta holds (e.g. the proposals last shown of every document)."""
    return {str(k): str(v) for k, v in db.execute(
        SELECT_META_VALUES, {"keys": json.dumps(list(keys))})}


# --- documents ------------------------------------------------------------------------------

def list_documents(db: apsw.Connection) -> list[Document]:
    return [_document(r) for r in db.execute(SELECT_DOCUMENTS + " ORDER BY d.id")]


def get_document(db: apsw.Connection, doc_id: int) -> Document | None:
    row = db.execute(SELECT_DOCUMENTS + " WHERE d.id = ?", (doc_id,)).fetchone()
    return None if row is None else _document(row)


def find_documents_by_sha_prefix(db: apsw.Connection, prefix: str) -> list[Document]:
    rows = db.execute(
        SELECT_DOCUMENTS + " WHERE d.sha256 LIKE ? ESCAPE '\\' ORDER BY d.id",
        (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
    )
    return [_document(r) for r in rows]


def indexed_document_with_sha(db: apsw.Connection, sha256: str) -> Document | None:
    row = db.execute(
        SELECT_DOCUMENTS + " WHERE d.sha256 = ? AND d.status = 'indexed' ORDER BY d.id LIMIT 1",
        (sha256,),
    ).fetchone()
    return None if row is None else _document(row)


def documents_with_original_path(db: apsw.Connection, original_path: str) -> list[Document]:
    rows = db.execute(SELECT_DOCUMENTS + " WHERE d.original_path = ? ORDER BY d.id",
                      (original_path,))
    return [_document(r) for r in rows]


def insert_document(db: apsw.Connection, reuse_id: int | None = None, **values: object) -> int:
    """A new document row; reuse_id gives it the id of the version it replaces (deleted in the
    same transaction), so citations kept in conversations still open the document."""
    values.setdefault("added_at", now_iso())
    if reuse_id is None:
        db.execute(INSERT_DOCUMENT, values)
        doc_id = int(db.last_insert_rowid())
        set_meta(db, "last_document_id", str(doc_id))
        return doc_id
    db.execute(INSERT_DOCUMENT_WITH_ID, {**values, "id": reuse_id})
    return reuse_id


def delete_document(db: apsw.Connection, doc_id: int) -> None:
    """Delete a document; passages, rectangles and FTS rows follow by cascade and trigger."""
    vectors.delete_of_document(db, doc_id)  # vec0 is a virtual table: no cascade
    db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


def stored_path_in_use(db: apsw.Connection, stored_path: str) -> bool:
    row = db.execute("SELECT 1 FROM documents WHERE stored_path = ? LIMIT 1",
                     (stored_path,)).fetchone()
    return row is not None


def stored_paths(db: apsw.Connection) -> set[str]:
    return {str(r[0]) for r in db.execute(
        "SELECT stored_path FROM documents WHERE stored_path IS NOT NULL")}


# --- passages -------------------------------------------------------------------------------

def insert_passages(
    db: apsw.Connection,
    document_id: int,
    passages: Sequence[Passage],
    contexts: Sequence[str],
    embeddings: npt.NDArray[np.float32],
) -> None:
    ids: list[int] = []
    if len(passages) != len(embeddings):
        raise ValueError("one vector per passage")
    for passage, context in zip(passages, contexts, strict=True):
        db.execute(INSERT_PASSAGE, {
            "document_id": document_id,
            "ordinal": passage.ordinal,
            "text": passage.text,
            "heading_path": HEADING_SEPARATOR.join(passage.headings),
            "context": context,
            "page_start": passage.page_start,
            "page_end": passage.page_end,
            "page_label": passage.page_label,
            "char_start": None if passage.span is None else passage.span[0],
            "char_end": None if passage.span is None else passage.span[1],
            "token_count": passage.token_count,
        })
        passage_id = db.last_insert_rowid()
        db.executemany(INSERT_RECT, [
            (passage_id, seq, r.page, r.x0, r.y0, r.x1, r.y1)
            for seq, r in enumerate(passage.rects)
        ])
        ids.append(int(passage_id))
    vectors.insert(db, ids, embeddings)


def passage_texts_for_embedding(db: apsw.Connection) -> list[tuple[int, int, str, str]]:
    """(passage id, document id, context, text) of every passage, for re-embedding."""
    return [
        (int(pid), int(did), str(ctx), str(text))
        for pid, did, ctx, text in db.execute(
            "SELECT id, document_id, context, text FROM passages ORDER BY id")
    ]


def passage_texts_of_document(db: apsw.Connection, doc_id: int) -> list[tuple[str, str]]:
    """(heading path, text) of a document's passages, in order."""
    return [(str(h), str(t)) for h, t in db.execute(
        "SELECT heading_path, text FROM passages WHERE document_id = ? ORDER BY ordinal",
        (doc_id,))]


def count_rows(db: apsw.Connection, table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


# --- vectors --------------------------------------------------------------------------------

def insert_vectors(
    db: apsw.Connection, rows: Iterable[tuple[int, int, npt.NDArray[np.float32]]]
) -> None:
    """Store (passage id, document id, float vector) rows (core/store/vectors.py)."""
    listed = list(rows)
    if listed:
        vectors.insert(db, [pid for pid, _, _ in listed], np.stack([v for _, _, v in listed]))
