"""Opens the library's SQLite file through apsw, with sqlite-vec loaded and WAL on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw
import sqlite_vec

from core.errors import LibraryError
from core.paths import create_private_file
from core.store import tokenizer

BUSY_TIMEOUT_MS = 10_000



def connect(path: Path) -> apsw.Connection:
    """Open (creating if needed, 0600) the database at path, ready for Folio's schema."""
    if str(path) != ":memory:":
        try:
            create_private_file(path)  # nothing when it exists
        except OSError as exc:  # another user's private library, a folder that is not there
            raise LibraryError(f"Cannot open the library file {path}: {exc.strerror}.") from exc
    try:
        db = apsw.Connection(str(path))
    except apsw.Error as exc:
        raise LibraryError(f"Cannot open the library file {path}: {exc}") from exc
    db.set_busy_timeout(BUSY_TIMEOUT_MS)
    # passages_fts is made with Folio's FTS5 tokenizer (migration 9): a connection without it
    # cannot read or write the table ("no such tokenizer: folio"), so every one gets it here.
    tokenizer.register(db)
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    db.enable_load_extension(False)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
    except (apsw.ReadOnlyError, apsw.CantOpenError, apsw.PermissionsError) as exc:
        db.close()
        raise LibraryError(f"The library at {path.parent} cannot be written to (a read-only "
                           "folder or file): Folio needs to write to its library folder.") from exc
    except apsw.BusyError as exc:
        db.close()
        raise LibraryError(f"The library at {path.parent} is locked by another program; "
                           "try again in a moment.") from exc
    except (apsw.CorruptError, apsw.NotADBError) as exc:
        db.close()
        raise LibraryError(f"The library file {path} is damaged or not a Folio library "
                           f"({exc}).") from exc
    return db


@contextmanager
def write_transaction(db: apsw.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    IMMEDIATE takes the write lock at the start, so a second writer waits (busy timeout) instead
    of failing when it tries to upgrade a read transaction that another writer overtook.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk does): a second ROLLBACK would
        # raise and hide the real error.
        if not db.get_autocommit():
            db.execute("ROLLBACK")
        raise
