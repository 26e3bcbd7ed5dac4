"""The library's change log: what the in-memory indexes read to catch up.

Triggers (migration 6) log the id of every passage inserted, deleted or updated, with a
sequence number. An index remembers the Position it was built at; bringing it up to date is
reading the ids logged since. Bulk changes of the vectors (a new embedding model, a repair)
bump the epoch instead, and every index is built anew. The writer trims old entries; an index
older than the oldest entry kept is built anew too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import apsw

EPOCH_KEY = "index_epoch"
KEEP_ENTRIES = 200_000

POSITION = f"""
SELECT (SELECT value FROM meta WHERE key = 'library_id') || ':' ||
       ifnull((SELECT value FROM meta WHERE key = '{EPOCH_KEY}'), '0'),
       (SELECT ifnull(max(seq), 0) FROM passage_changes),
       (SELECT ifnull(min(seq), 0) FROM passage_changes)
"""
SINCE = "SELECT DISTINCT passage_id FROM passage_changes WHERE seq > ? AND seq <= ?"


@dataclass(frozen=True)
class Position:
    epoch: str  # the library's id and its epoch: another library or epoch shares nothing
    seq: int
    oldest: int  # the lowest sequence number still in the log (0 when it is empty)


def position(db: apsw.Connection) -> Position:
    row = db.execute(POSITION).fetchone()
    assert row is not None
    return Position(str(row[0] or ""), int(row[1]), int(row[2]))


def changed_between(db: apsw.Connection, old: Position, new: Position) -> list[int] | None:
    """The passages changed after old up to new; None if the log cannot tell (another epoch,
    or entries since old were trimmed): then the index is built anew."""
    if old.epoch != new.epoch or new.seq < old.seq:
        return None
    if new.seq == old.seq:
        return []
    if new.oldest > old.seq + 1:
        return None
    return [int(r[0]) for r in db.execute(SINCE, (old.seq, new.seq))]


def bump_epoch(db: apsw.Connection) -> None:
    """Every index of this library is to be built anew (call inside the write transaction)."""
    db.execute(f"INSERT INTO meta (key, value) VALUES ('{EPOCH_KEY}', '1') "
               "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def trim(db: apsw.Connection, keep: int = KEEP_ENTRIES) -> None:
    """Forget all but the newest `keep` entries (inside a write transaction)."""
    db.execute("DELETE FROM passage_changes WHERE seq <= "
               "(SELECT ifnull(max(seq), 0) FROM passage_changes) - ?", (keep,))


@contextmanager
def snapshot(db: apsw.Connection) -> Iterator[None]:
    """One read transaction, so that a position and the rows read after it agree."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")
