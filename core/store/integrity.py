"""SQL of `folio check`: what must agree between passages, the FTS index, vectors and files."""

from __future__ import annotations

import apsw

from core.store.vectors import TABLE as VECTORS

# (name, query counting the rows that break the rule, what a person reads, SQL that repairs it)
RULES: list[tuple[str, str, str, str | None]] = [
    ("orphan passages",
     "SELECT count(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)",
     "{n} passage(s) belong to no document",
     "DELETE FROM passages WHERE document_id NOT IN (SELECT id FROM documents)"),
    ("failed with passages",
     "SELECT count(*) FROM passages WHERE document_id IN "
     "(SELECT id FROM documents WHERE status = 'failed')",
     "{n} passage(s) belong to documents marked failed",
     "DELETE FROM passages WHERE document_id IN (SELECT id FROM documents WHERE status = 'failed')"),
    ("orphan rectangles",
     "SELECT count(*) FROM passage_rects WHERE passage_id NOT IN (SELECT id FROM passages)",
     "{n} highlight rectangle(s) belong to no passage",
     "DELETE FROM passage_rects WHERE passage_id NOT IN (SELECT id FROM passages)"),
    ("orphan vectors",
     f"SELECT count(*) FROM {VECTORS} WHERE passage_id NOT IN (SELECT id FROM passages)",
     "{n} stored vector(s) belong to no passage",
     f"DELETE FROM {VECTORS} WHERE passage_id NOT IN (SELECT id FROM passages)"),
    ("orphan turns",
     "SELECT count(*) FROM turns WHERE conversation_id NOT IN (SELECT id FROM conversations)",
     "{n} conversation turn(s) belong to no conversation",
     "DELETE FROM turns WHERE conversation_id NOT IN (SELECT id FROM conversations)"),
    ("indexed without passages",
     "SELECT count(*) FROM documents d WHERE status = 'indexed' AND NOT EXISTS "
     "(SELECT 1 FROM passages p WHERE p.document_id = d.id)",
     "{n} indexed document(s) have no passages (remove and add them again)",
     None),
]

MISSING_VECTORS = f"""
SELECT p.id, p.document_id, p.context, p.text FROM passages p
WHERE p.id NOT IN (SELECT passage_id FROM {VECTORS})
ORDER BY p.id
"""


def count(db: apsw.Connection, sql: str, binds: dict[str, object] | None = None) -> int:
    row = db.execute(sql, binds or {}).fetchone()
    return int(row[0]) if row else 0


def integrity_check(db: apsw.Connection) -> list[str]:
    """SQLite's own check of the file: [] when it is sound."""
    rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def fts_consistent(db: apsw.Connection) -> bool:
    """FTS5's check that the index matches the passages table (rank 1: the content too)."""
    try:
        db.execute("INSERT INTO passages_fts (passages_fts, rank) VALUES ('integrity-check', 1)")
    except apsw.CorruptError:
        return False
    return True


def rebuild_fts(db: apsw.Connection) -> None:
    db.execute("INSERT INTO passages_fts (passages_fts) VALUES ('rebuild')")


def missing_vectors(db: apsw.Connection) -> list[tuple[int, int, str, str]]:
    """(passage id, document id, context, text) of the passages without a stored vector."""
    return [(int(p), int(d), str(c), str(t)) for p, d, c, t in db.execute(MISSING_VECTORS)]
