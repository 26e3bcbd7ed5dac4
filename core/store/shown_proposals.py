"""SQL of the proposals last shown for a document (core/check_proposals.py `remember_shown`,
`shown`): one JSON value per document in the meta table, under `proposals_shown:` + its id.
`Library.settings()` reads only the settings' own keys (`queries.meta_values`), so these values,
however many documents have them, are not read with the settings."""

from __future__ import annotations

import apsw

from core.store.queries import get_meta, set_meta

KEY_PREFIX = "proposals_shown:"

# The entries of documents no longer in the library (a removed document's id is never reused).
DELETE_OF_REMOVED = """
DELETE FROM meta
WHERE substr(key, 1, :prefix_length) = :prefix
  AND CAST(substr(key, :prefix_length + 1) AS INTEGER) NOT IN (SELECT id FROM documents)
"""


def key(document_id: int) -> str:
    return f"{KEY_PREFIX}{document_id}"


def get_shown(db: apsw.Connection, document_id: int) -> str | None:
    return get_meta(db, key(document_id))


def set_shown(db: apsw.Connection, document_id: int, value: str) -> None:
    """Keep value as the document's proposals last shown (replacing the ones before) and drop
    the entries of documents no longer in the library; inside the caller's transaction."""
    set_meta(db, key(document_id), value)
    db.execute(DELETE_OF_REMOVED, {"prefix_length": len(KEY_PREFIX), "prefix": KEY_PREFIX})
