"""Watched folders: the library follows the files of the folders it watches.

A sync looks at every watched folder:
  - a file whose size and mtime are what the last sync saw is unchanged: nothing is read or
    hashed, so a tree of unchanged files costs one stat each;
  - a new or changed file is added (Library.add: a changed file replaces its old version in one
    transaction, the same bytes are recognised and not read again);
  - a file gone from a folder that is present and readable has its document removed, unless it
    was moved or renamed: a new path with the same bytes (sha256) takes the document over, with
    no reading or embedding;
  - a file still being written (modified in the last SETTLE_S seconds) waits for the next sync;
  - a folder that is missing or unreadable (an unplugged drive, a share that is down) is marked
    unavailable and nothing of it is removed; a subfolder that cannot be read keeps its files.
Every step is its own transaction and what the sync saw is recorded after each file, so a sync
killed at any point leaves a consistent library and the next one finishes the job.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from core.errors import FolioError
from core.readers import SUPPORTED_SUFFIXES
from core.store import folders as store
from core.store.connection import write_transaction
from core.types import AddOutcome, AddStatus

SETTLE_S = 2.0  # a file modified more recently than this may still be being written
HASH_BLOCK = 1 << 20
# Temporary and lock files of editors, office suites and browsers (hidden files are skipped too).
TEMPORARY_PREFIXES = ("~$", ".~lock", "~lock.")
TEMPORARY_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp", "~")

AddFiles = Callable[[list[Path]], list[AddOutcome]]
RemoveDocuments = Callable[[str], list[int]]  # removes the documents of an original path


@dataclass
class SyncReport:
    """What a sync did; the lists hold paths (moved: (from, to); failed: (path, reason))."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written: the next sync
    passages: int = 0  # passages embedded
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (folder, why)
    unreadable: list[str] = field(default_factory=list)  # subfolders that could not be read
    cancelled: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.removed or self.moved)


@dataclass(frozen=True)
class Found:
    """A file a scan found: its stat, and the watched folder it belongs to."""

    path: str
    folder_id: int
    size: int
    mtime_ns: int


@dataclass
class Scan:
    files: dict[str, Found] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # subfolders (their files are kept)


def normalise(path: Path | str) -> str:
    """The form a watched folder's path is kept in: absolute, user folder expanded, no trailing
    separator (symlinks are not resolved: the user's own name for the folder is kept)."""
    return os.path.abspath(os.path.expanduser(str(path)))


def is_temporary(name: str) -> bool:
    lowered = name.lower()
    return (name.startswith(".") or lowered.startswith(TEMPORARY_PREFIXES)
            or lowered.endswith(TEMPORARY_SUFFIXES))


def wanted(relative: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Is the file at relative (to its watched folder, '/'-separated) one to keep in sync?
    A pattern matches the file's name or its relative path."""
    name = relative.rsplit("/", 1)[-1]
    if is_temporary(name) or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return False
    if include and not any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p)
                           for p in include):
        return False
    return not any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in exclude)


def folder_problem(path: str) -> str | None:
    """Why a watched folder cannot be synced now (None: it can)."""
    if not os.path.exists(path):
        return "The folder is not there (a drive unplugged, a share down, or renamed away)."
    if not os.path.isdir(path):
        return "This is no longer a folder."
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        return f"The folder cannot be read: {exc.strerror or exc}."
    return None


def scan(folder: store.Folder, into: Scan, skip: Sequence[str] = ()) -> None:
    """Add the wanted files of folder to into.files (a deeper watched folder scanned later
    takes its files over); subfolders that cannot be read go to into.unreadable. Hidden
    folders, symlinked folders and those under skip (the library's own folder, which holds
    Folio's copies) are not entered (no loops, no copies of copies)."""
    pending = [folder.path]
    while pending:
        current = pending.pop()
        if _under(current, skip):
            continue
        try:
            with os.scandir(current) as entries:
                listed = list(entries)
        except OSError:
            into.unreadable.append(current)
            continue
        for entry in listed:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        pending.append(entry.path)
                    continue
                relative = os.path.relpath(entry.path, folder.path).replace(os.sep, "/")
                if not wanted(relative, folder.include, folder.exclude):
                    continue
                info = entry.stat()  # follows a symlinked file
            except OSError:
                continue  # vanished between listing and stat, or a dangling link
            if os.path.isdir(entry.path):
                continue  # a symlink to a folder
            into.files[entry.path] = Found(entry.path, folder.id, info.st_size,
                                           info.st_mtime_ns)


def sha256_of(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(HASH_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(is_under(path, root) for root in roots)


class Syncer:
    """One sync of a library's watched folders. add and remove are the Library's own (so a
    sync adds exactly as `folio add` does); the connection is the writer's."""

    def __init__(self, db: apsw.Connection, add: AddFiles, remove: RemoveDocuments,
                 cancel: threading.Event | None = None, settle_s: float = SETTLE_S,
                 wait_s: float = 0.0, skip: Sequence[str] = ()) -> None:
        self.db = db
        self.skip = [normalise(p) for p in skip]
        self.add = add
        self.remove = remove
        self.cancel = cancel or threading.Event()
        self.settle_s = settle_s
        self.wait_s = wait_s  # how long to wait for files still being written (CLI: a while)
        self.report = SyncReport()

    def run(self, only: Sequence[str] | None = None) -> SyncReport:
        """Sync every watched folder (or those of only, normalised paths)."""
        watched = store.list_folders(self.db)
        if only is not None:
            # A folder nested in (or holding) a chosen one shares its files: synced with it,
            # else the files would move between the two folders' records at every sync.
            chosen = set(only)
            watched = [f for f in watched if any(is_under(f.path, c) or is_under(c, f.path)
                                                 for c in chosen)]
        found = Scan()
        protected: list[str] = []  # roots whose known files must not be removed
        for folder in sorted(watched, key=lambda f: len(f.path)):  # deeper folders win files
            problem = folder_problem(folder.path)
            if problem is not None:
                protected.append(folder.path)
                self.report.unavailable.append((folder.path, problem))
            else:
                scan(folder, found, self.skip)
            with write_transaction(self.db):
                store.set_state(self.db, folder.id, problem)
        protected += found.unreadable
        self.report.unreadable = sorted(found.unreadable)
        ids = {f.id for f in watched}
        seen = {p: s for p, s in store.seen_files(self.db).items() if s.folder_id in ids}
        candidates = self._changed(found, seen)
        gone = [s for p, s in seen.items() if p not in found.files and not _under(p, protected)]
        candidates = self._settled(candidates)
        if self.cancel.is_set():
            self.report.cancelled = True
            return self.report
        self._moves(candidates, gone, found, seen)
        self._remove_gone(gone, found)
        self._add(candidates)
        return self.report

    # --- the steps ------------------------------------------------------------------------

    def _changed(self, found: Scan, seen: dict[str, store.SeenFile]) -> list[Found]:
        changed: list[Found] = []
        regrouped: list[store.SeenFile] = []
        for path, file in found.files.items():
            before = seen.get(path)
            if before is not None and (before.size, before.mtime_ns) == (file.size, file.mtime_ns):
                self.report.unchanged += 1
                if before.folder_id != file.folder_id:  # now under a deeper watched folder
                    regrouped.append(store.SeenFile(path, file.folder_id, file.size,
                                                    file.mtime_ns, before.sha256))
            else:
                changed.append(file)
        if regrouped:
            with write_transaction(self.db):
                for again in regrouped:
                    store.record_file(self.db, again)
        return changed

    def _settled(self, candidates: list[Found]) -> list[Found]:
        """Those not modified in the last settle_s seconds; the others wait (up to wait_s, then
        for the next sync)."""
        deadline = time.monotonic() + self.wait_s
        while True:
            now_ns = time.time_ns()
            fresh = [c for c in candidates
                     if now_ns - c.mtime_ns < self.settle_s * 1e9 and c.mtime_ns <= now_ns + 1e9]
            if not fresh or time.monotonic() >= deadline or self.cancel.is_set():
                break
            time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
            candidates = [self._restat(c) for c in candidates]
            candidates = [c for c in candidates if c.size >= 0]
        ready = [c for c in candidates if c not in fresh]
        self.report.waiting.extend(sorted(c.path for c in fresh))
        return ready

    def _restat(self, file: Found) -> Found:
        try:
            info = os.stat(file.path)
        except OSError:
            return Found(file.path, file.folder_id, -1, 0)  # gone meanwhile
        return Found(file.path, file.folder_id, info.st_size, info.st_mtime_ns)

    def _moves(self, candidates: list[Found], gone: list[store.SeenFile], found: Scan,
               seen: dict[str, store.SeenFile]) -> None:
        """A new path holding the bytes of a gone file takes its document over."""
        by_size: dict[int, list[store.SeenFile]] = {}
        for old in gone:
            if old.sha256 is not None:
                by_size.setdefault(old.size, []).append(old)
        if not by_size:
            return
        for file in list(candidates):
            matches = by_size.get(file.size)
            if not matches or self.cancel.is_set():
                continue
            sha = sha256_of(file.path)
            match = next((m for m in matches if m.sha256 == sha), None)
            if match is None or sha is None:
                continue
            if file.path in seen:  # moved over another file: that file's document goes
                self.remove(file.path)
            with write_transaction(self.db):
                store.repoint_documents(self.db, match.path, file.path)
                store.forget_file(self.db, match.path)
                store.record_file(self.db, store.SeenFile(file.path, file.folder_id, file.size,
                                                          file.mtime_ns, sha))
            matches.remove(match)
            gone.remove(match)
            candidates.remove(file)
            self.report.moved.append((match.path, file.path))

    def _remove_gone(self, gone: list[store.SeenFile], found: Scan) -> None:
        """The documents of files that are gone go, unless a copy of the same bytes is still
        in a watched folder: then that copy's path takes the document over."""
        present_by_sha: dict[str, str] = {}
        for path, seen in store.seen_files(self.db).items():
            if seen.sha256 is not None and path in found.files:
                present_by_sha.setdefault(seen.sha256, path)
        for old in gone:
            if self.cancel.is_set():
                self.report.cancelled = True
                return
            copy = present_by_sha.get(old.sha256 or "")
            if copy is not None:
                with write_transaction(self.db):
                    store.repoint_documents(self.db, old.path, copy)
                    store.forget_file(self.db, old.path)
                self.report.moved.append((old.path, copy))
                continue
            self.remove(old.path)
            with write_transaction(self.db):
                store.forget_file(self.db, old.path)
            self.report.removed.append(old.path)

    def _add(self, candidates: list[Found]) -> None:
        if not candidates:
            return
        by_path = {c.path: c for c in candidates}
        for outcome in self.add([Path(c.path) for c in candidates]):
            file = by_path.get(outcome.path)
            if file is None:
                continue
            self.report.passages += outcome.passages if outcome.status in (
                AddStatus.ADDED, AddStatus.REPLACED) else 0
            if outcome.status is AddStatus.CANCELLED:
                self.report.cancelled = True
                continue  # not recorded: the next sync tries it again
            if outcome.status is AddStatus.FAILED:
                self.report.failed.append((outcome.path, outcome.reason or "failed"))
                if outcome.transient or not os.path.exists(outcome.path):
                    continue  # not the file's fault (Ollama down), or gone: tried next time
            elif outcome.status is AddStatus.ADDED:
                self.report.added.append(outcome.path)
            elif outcome.status is AddStatus.REPLACED:
                self.report.replaced.append(outcome.path)
            else:
                self.report.unchanged += 1  # the same bytes as before, or as another file
            sha = self._sha_of(outcome)
            with write_transaction(self.db):
                # A failed file is remembered with its stat: tried again once it changes.
                store.record_file(self.db, store.SeenFile(file.path, file.folder_id, file.size,
                                                          file.mtime_ns, sha))

    def _sha_of(self, outcome: AddOutcome) -> str | None:
        if outcome.document_id is None:
            return None
        row = self.db.execute("SELECT sha256 FROM documents WHERE id = ?",
                              (outcome.document_id,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])


def check_folder_to_watch(path: str) -> None:
    problem = folder_problem(path)
    if problem is not None:
        raise FolioError(f"Cannot watch {path}: {problem[0].lower()}{problem[1:]}")
