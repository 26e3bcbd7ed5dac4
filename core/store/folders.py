"""SQL of watched folders (core/sync.py): the folders, and what each sync saw of their files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import apsw

from core.store.queries import now_iso


@dataclass(frozen=True)
class Folder:
    id: int
    path: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    available: bool
    problem: str | None
    last_sync_at: str | None
    added_at: str
    files: int  # files of it the last sync saw


@dataclass(frozen=True)
class SeenFile:
    path: str
    folder_id: int
    size: int
    mtime_ns: int
    sha256: str | None


SELECT_FOLDERS = """
SELECT f.id, f.path, f.include, f.exclude, f.available, f.problem, f.last_sync_at, f.added_at,
       (SELECT count(*) FROM folder_files s WHERE s.folder_id = f.id)
FROM folders f
"""


def _folder(row: tuple[object, ...]) -> Folder:
    fid, path, include, exclude, available, problem, synced, added, files = row
    return Folder(int(str(fid)), str(path), tuple(json.loads(str(include))),
                  tuple(json.loads(str(exclude))), bool(available),
                  None if problem is None else str(problem),
                  None if synced is None else str(synced), str(added), int(str(files)))


def list_folders(db: apsw.Connection) -> list[Folder]:
    return [_folder(r) for r in db.execute(SELECT_FOLDERS + " ORDER BY f.path")]


def folder_at(db: apsw.Connection, path: str) -> Folder | None:
    row = db.execute(SELECT_FOLDERS + " WHERE f.path = ?", (path,)).fetchone()
    return None if row is None else _folder(row)


def add_folder(db: apsw.Connection, path: str, include: Iterable[str],
               exclude: Iterable[str]) -> None:
    db.execute("INSERT INTO folders (path, include, exclude, added_at) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (path) DO UPDATE SET include = excluded.include, "
               "exclude = excluded.exclude",
               (path, json.dumps(list(include)), json.dumps(list(exclude)), now_iso()))


def delete_folder(db: apsw.Connection, folder_id: int) -> None:
    db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))


def set_state(db: apsw.Connection, folder_id: int, problem: str | None) -> None:
    """Available (problem None) after a sync that could read it, or unavailable and why."""
    if problem is None:
        db.execute("UPDATE folders SET available = 1, problem = NULL, last_sync_at = ? "
                   "WHERE id = ?", (now_iso(), folder_id))
    else:
        db.execute("UPDATE folders SET available = 0, problem = ? WHERE id = ?",
                   (problem, folder_id))


def seen_files(db: apsw.Connection, folder_id: int | None = None) -> dict[str, SeenFile]:
    """What the syncs saw, by path: of one folder, or of every folder."""
    sql = "SELECT path, folder_id, size, mtime_ns, sha256 FROM folder_files"
    rows = (db.execute(sql) if folder_id is None
            else db.execute(sql + " WHERE folder_id = ?", (folder_id,)))
    return {str(p): SeenFile(str(p), int(f), int(s), int(m), None if h is None else str(h))
            for p, f, s, m, h in rows}


def record_file(db: apsw.Connection, seen: SeenFile) -> None:
    db.execute("INSERT INTO folder_files (path, folder_id, size, mtime_ns, sha256) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
               "folder_id = excluded.folder_id, size = excluded.size, "
               "mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256",
               (seen.path, seen.folder_id, seen.size, seen.mtime_ns, seen.sha256))


def forget_file(db: apsw.Connection, path: str) -> None:
    db.execute("DELETE FROM folder_files WHERE path = ?", (path,))


def repoint_documents(db: apsw.Connection, old_path: str, new_path: str) -> list[int]:
    """Documents of the file at old_path now name new_path (a move); their ids."""
    ids = [int(r[0]) for r in db.execute(
        "SELECT id FROM documents WHERE original_path = ? AND status = 'indexed'", (old_path,))]
    db.execute("UPDATE documents SET original_path = ? WHERE original_path = ? "
               "AND status = 'indexed'", (new_path, old_path))
    db.execute("DELETE FROM documents WHERE original_path = ? AND status = 'failed'", (old_path,))
    return ids
