"""Where the library lives by default, kept private (0700/0600); light to import (no engine)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs


def default_library_dir() -> Path:
    """$FOLIO_HOME, else the platform's per-user data folder."""
    home = os.environ.get("FOLIO_HOME")
    if home:
        return Path(home).expanduser()
    return Path(platformdirs.user_data_dir("Folio", appauthor=False))


# The library holds the text of every document and question: only its owner reads it.
PRIVATE_DIR_MODE, PRIVATE_FILE_MODE = 0o700, 0o600
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
# The saved keyword index (core/keyword_index.py) beside library.db: every word of the library.
KEYWORD_INDEX_SUFFIX = ".keywords.npz"
# The saved vector index (core/indexes.py) beside library.db: every passage's vector.
VECTOR_INDEX_SUFFIX = ".vectors.npz"


def make_private_dir(path: Path) -> None:
    """Create path (and its parents, with the usual modes) with only its owner allowed in."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create path empty and 0600 if it does not exist (an empty file is an empty SQLite
    database): SQLite makes its -wal and -shm files with the database file's mode."""
    with contextlib.suppress(FileExistsError):  # there already (tighten_library sees to it)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def tighten_library(root: Path, db_path: Path) -> list[Path]:
    """The library folder 0700, the database, its -wal/-shm and its saved indexes 0600;
    what was changed.

    Only bits are taken away, never given; a path that is not this user's to change (another
    user's shared library) is left as it is.
    """
    if os.name != "posix":
        return []  # Windows: the per-user profile folder is already private
    changed: list[Path] = []
    targets = [(root, PRIVATE_DIR_MODE), (root / "files", PRIVATE_DIR_MODE)]
    targets += [(Path(f"{db_path}{suffix}"), PRIVATE_FILE_MODE)
                for suffix in (*DB_SUFFIXES, KEYWORD_INDEX_SUFFIX, VECTOR_INDEX_SUFFIX)]
    for path, allowed in targets:
        try:
            mode = path.stat().st_mode & 0o7777
            extra = mode & 0o777 & ~allowed  # group and other bits; setgid and the like stay
            if extra:
                path.chmod(mode & ~extra)
                changed.append(path)
        except OSError:
            continue  # absent, or not ours
    return changed
