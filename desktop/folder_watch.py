"""What the app watches of a watched folder: its subfolders and files, within a budget.

QFileSystemWatcher does not recurse, so every subfolder is watched by name; on Linux a folder's
watch does not see a file written in place (only created, deleted, renamed), so the files are
watched too. A folder with more than MAX_PATHS_PER_FOLDER of them (or one that is unavailable)
is not watched path by path but scanned every PERIODIC_SCAN_S instead (a stat per file, no
reading), with only its top folder watched. Computed on the writer, after each sync (a walk of
names and types, no stat of the files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from core import sync as folder_sync
from core.store.folders import Folder

MAX_PATHS_PER_FOLDER = 1000  # inotify's default budget is 8192 per user; kqueue has fds
PERIODIC_SCAN_S = 60.0


@dataclass(frozen=True)
class WatchPlan:
    """What to watch of one watched folder (paths), and whether to scan it every
    PERIODIC_SCAN_S instead (too many paths to watch, or the folder is unavailable)."""

    folder: str
    paths: tuple[str, ...]
    periodic: bool

    @property
    def available(self) -> bool:
        return bool(self.paths)  # an available folder's plan holds at least the folder


def plan_watch(folder: Folder, skip: str | None = None,
               limit: int = MAX_PATHS_PER_FOLDER) -> WatchPlan:
    """The folders and wanted files of folder (hidden and symlinked folders are not entered,
    as a sync does not enter them); skip (the library's own folder) is never watched."""
    if folder_sync.folder_problem(folder.path) is not None:
        return WatchPlan(folder.path, (), periodic=True)
    paths: list[str] = []
    pending = [folder.path]
    while pending:
        current = pending.pop()
        if skip is not None and folder_sync.is_under(current, skip):
            continue
        paths.append(current)
        try:
            with os.scandir(current) as entries:
                listed = list(entries)
        except OSError:
            continue  # an unreadable subfolder: the sync keeps its files
        for entry in listed:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if not entry.name.startswith("."):
                    pending.append(entry.path)
                continue
            relative = os.path.relpath(entry.path, folder.path).replace(os.sep, "/")
            if folder_sync.wanted(relative, folder.include, folder.exclude):
                paths.append(entry.path)
        if len(paths) > limit:
            return WatchPlan(folder.path, (folder.path,), periodic=True)
    return WatchPlan(folder.path, tuple(paths), periodic=False)


def folder_of(path: str, folders: list[str]) -> str | None:
    """The deepest watched folder path is in (or is)."""
    return max((f for f in folders if folder_sync.is_under(path, f)), key=len, default=None)
