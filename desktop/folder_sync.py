"""Watched folders in the app: a sync at start, then a live watch, each sync a writer task.

At start (the first time the folder list is read) every watched folder is synced, which catches
what changed while Folio was closed. Then a QFileSystemWatcher watches each folder's subfolders
and files (desktop/folder_watch.py, re-armed after each sync since it does not recurse); its
events are debounced (DEBOUNCE_MS after the last one) and sync only the folders they are in. A
folder too big to watch path by path, or unavailable, is scanned every PERIODIC_SCAN_S instead,
and files still being written (`report.waiting`) are synced again WAITING_RETRY_MS later. At
rest no timer runs (the periodic one only while some folder needs it).

A sync runs on the writer like any add, with its progress and Cancel in the library panel
(desktop/ingest.py's track); at most one is queued, and the folders asked for meanwhile are
synced right after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from core.store.folders import Folder
from core.sync import SyncReport
from core.types import AddProgress
from desktop import folder_watch
from desktop.app_events import DOCUMENTS, FOLDERS, AppEvents, Change
from desktop.folder_watch import WatchPlan
from desktop.folders_view import ADD_ONCE, KEEP_IN_SYNC, FolderDropDialog, FoldersView
from desktop.ingest import Ingest
from desktop.live_read import LiveRead
from desktop.tasks import Task
from desktop.workers import Workers

if TYPE_CHECKING:
    from core.library import Library

DEBOUNCE_MS = 1500  # after the last change seen: a copy of many files is one sync
WAITING_RETRY_MS = 3000  # files still being written: their sync comes after they settle
PERIODIC_SCAN_MS = int(folder_watch.PERIODIC_SCAN_S * 1000)


@dataclass(frozen=True)
class SyncRun:
    """A sync's report and what to watch of the folders it synced."""

    report: SyncReport
    only: tuple[str, ...] | None  # the folders synced (None: all)
    plans: tuple[WatchPlan, ...]


def report_summary(report: SyncReport) -> str | None:
    """The status line after a sync; None when nothing changed and nothing went wrong."""
    parts = [f"{len(items)} {name}" for name, items in (
        ("added", report.added), ("replaced", report.replaced), ("moved", report.moved),
        ("removed", report.removed), ("failed", report.failed)) if items]
    if report.unavailable:
        parts.append(f"{len(report.unavailable)} folder(s) unavailable, their documents kept")
    if report.cancelled:
        parts.append("cancelled (the next sync finishes it)")
    return f"Folders synced: {', '.join(parts)}." if parts else None


class FolderSync(QObject):
    """Keeps the library in step with its watched folders while the app runs."""

    synced = Signal(object)  # SyncReport, after each sync this app ran
    folders_loaded = Signal(list)  # list[Folder], each time the list was read
    message = Signal(str, int)

    def __init__(self, workers: Workers, events: AppEvents, ingest: Ingest, view: FoldersView,
                 library_root: Callable[[], Path], on_error: Callable[[str], object],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.ingest = ingest
        self.view = view
        self.library_root = library_root
        self.on_error = on_error
        self.folders: list[Folder] = []
        self.dialog: FolderDropDialog | None = None
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._on_path_changed)
        self.watcher.fileChanged.connect(self._on_path_changed)
        self._plans: dict[str, WatchPlan] = {}
        self._dirty: set[str] = set()  # folders with changes seen since the last sync
        self._waiting: set[str] = set()  # folders with files still being written
        self._running: Task[SyncRun] | None = None
        self._running_only: set[str] | None = None  # what the running sync covers (None: all)
        self._pending: set[str] = set()
        self._pending_all = False
        self._started = False
        self._debounce = self._timer(DEBOUNCE_MS, self._on_settled)
        self._retry = self._timer(WAITING_RETRY_MS, self._on_retry)
        self._periodic = self._timer(PERIODIC_SCAN_MS, self._on_periodic, single=False)
        self._read: LiveRead[list[Folder]] = LiveRead(
            workers, "folders", lambda lib: lib.folders(), self._on_folders, on_error,
            watched=True)
        view.sync_requested.connect(lambda path: self.sync([path]))
        view.unwatch_requested.connect(self.unwatch)
        events.library_changed.connect(self._on_library_changed)

    def _timer(self, interval_ms: int, slot: Callable[[], object], single: bool = True) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(single)
        timer.setInterval(interval_ms)
        timer.timeout.connect(slot)
        return timer

    @property
    def timers_active(self) -> list[str]:
        """The timers running now (none at rest; the periodic scan only while needed)."""
        return [name for name, timer in (("debounce", self._debounce), ("retry", self._retry),
                                         ("periodic", self._periodic)) if timer.isActive()]

    @property
    def syncing(self) -> bool:
        return self._running is not None

    def start(self) -> None:
        """Read the watched folders; the first list read syncs them all (the scan at start)."""
        self._read.refresh()

    # --- the folder list ----------------------------------------------------------------------

    def _on_library_changed(self, change: Change) -> None:
        if change.switched:
            self._started = False
            self._plans.clear()
            self._dirty.clear()
            self._waiting.clear()
            self._pending.clear()
            self._pending_all = False
            self._apply_plans()
        if change.touches_folders:
            self._read.refresh()

    def _on_folders(self, folders: list[Folder]) -> None:
        self.folders = folders
        self.view.set_folders(folders)
        paths = {f.path for f in folders}
        gone = [p for p in self._plans if p not in paths]
        for path in gone:
            del self._plans[path]
        if gone:
            self._apply_plans()
        if not self._started:
            self._started = True
            if folders:
                self.sync()  # what changed while Folio was closed
        else:
            running: set[str] = set()
            if self._running is not None:
                running = paths if self._running_only is None else self._running_only
            covered = set(self._plans) | self._pending | running
            new = [] if self._pending_all else [p for p in paths if p not in covered]
            if new:
                self.sync(new)  # watched from outside the app (folio folders add)
        self.folders_loaded.emit(folders)

    # --- watching and unwatching --------------------------------------------------------------

    def ask_how_to_add(self, folders: Sequence[Path], files: Sequence[Path] = ()) -> None:
        """Ask "Add once" or "Keep in sync" for dropped or chosen folders (files dropped with
        them are added either way; Esc cancels the whole drop)."""
        if self.dialog is not None:
            self.dialog.reject()
        dialog = FolderDropDialog(folders, self.view.window())
        self.dialog = dialog

        def chosen(choice: str) -> None:
            if choice == ADD_ONCE:
                self.ingest.add_paths([*files, *folders])
            elif choice == KEEP_IN_SYNC:
                if files:
                    self.ingest.add_paths(list(files))
                self.watch(folders)
        dialog.chosen.connect(chosen)
        dialog.finished.connect(lambda _code: self._dialog_closed(dialog))
        dialog.open()

    def _dialog_closed(self, dialog: FolderDropDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def watch(self, folders: Sequence[Path]) -> Task[list[Folder]]:
        """Keep folders in sync from now on: watched on the writer, then synced."""
        def work(lib: Library, _task: Task[list[Folder]]) -> list[Folder]:
            return [lib.watch_folder(folder) for folder in folders]

        def watching(watched: list[Folder]) -> None:
            names = ", ".join(Path(f.path).name for f in watched)
            self.message.emit(f"Keeping {names} in sync.", 8000)
            self.sync([f.path for f in watched])
        task: Task[list[Folder]] = Task(work, "watch-folder", change=FOLDERS)
        task.on_success(watching).on_failure(self.on_error)
        self.workers.write(task)
        return task

    def unwatch(self, path: str, keep_documents: bool) -> Task[list[int]]:
        def work(lib: Library, _task: Task[list[int]]) -> list[int]:
            return lib.unwatch_folder(path, keep_documents=keep_documents)

        def done(removed: list[int]) -> None:
            kept = "its documents are kept" if keep_documents else (
                f"{len(removed)} document(s) removed")
            self.message.emit(f"No longer watching {Path(path).name}: {kept}.", 10000)
        task: Task[list[int]] = Task(work, "unwatch-folder", change=FOLDERS | DOCUMENTS)
        task.on_success(done).on_failure(self.on_error)
        self.workers.write(task)
        return task

    # --- syncing ------------------------------------------------------------------------------

    def sync(self, only: Iterable[str] | None = None) -> Task[SyncRun] | None:
        """Sync these watched folders (None: all) on the writer; while a sync runs, the next
        one is queued (one at most, covering everything asked for meanwhile)."""
        wanted = None if only is None else set(only)
        if self._running is not None:
            if wanted is None:
                self._pending_all = True
            else:
                self._pending |= wanted
            return None
        selected = None if wanted is None else tuple(sorted(wanted))
        root = self.library_root()

        def work(lib: Library, task: Task[SyncRun]) -> SyncRun:
            report = lib.sync(progress=lambda p: task.report(p, force=False),
                              cancel=task.cancel,
                              on_outcome=lambda _o: task.changed(DOCUMENTS), only=selected)
            if report.changed or report.failed:
                task.changed(DOCUMENTS)
            synced = [f for f in lib.folders() if selected is None or f.path in selected]
            plans = tuple(folder_watch.plan_watch(f, skip=str(root)) for f in synced)
            return SyncRun(report, selected, plans)

        task: Task[SyncRun] = Task(work, "sync", change=FOLDERS)
        # A sync of the library the app has switched away from says nothing of this one.
        task.on_success(lambda run: self._on_synced(run) if self.library_root() == root
                        else None)
        task.on_failure(lambda _message: self._on_sync_failed(selected))
        task.on_finished(lambda: self._ended(task))
        self._running, self._running_only = task, wanted
        if wanted is None:
            self._dirty.clear()
        else:
            self._dirty -= wanted
        # No label: a sync with nothing to do shows nothing; the progress appears with the
        # first file read, and Cancel with it.
        self.ingest.track(task, None, lambda value: value if isinstance(value, AddProgress)
                          else None)
        return task

    def _on_synced(self, run: SyncRun) -> None:
        if run.only is None:
            self._plans = {p.folder: p for p in run.plans}
        else:
            self._plans.update({p.folder: p for p in run.plans})
        self._apply_plans()
        report = run.report
        waiting = {folder_watch.folder_of(p, [f.path for f in self.folders]) or ""
                   for p in report.waiting}
        self._waiting |= {w for w in waiting if w}
        if report.waiting and not report.cancelled:
            self._retry.start()
        summary = report_summary(report)
        if summary is not None:
            self.message.emit(summary, 10000)
        self.synced.emit(report)

    def _on_sync_failed(self, selected: tuple[str, ...] | None) -> None:
        """A sync that failed (the message is in the status bar) is tried again by the periodic
        scan, not at once: the folder list it refreshes must not start it again and again."""
        for path in selected if selected is not None else [f.path for f in self.folders]:
            self._plans.setdefault(path, WatchPlan(path, (), periodic=True))
        self._apply_plans()

    def _ended(self, task: Task[SyncRun]) -> None:
        if self._running is not task:
            return
        self._running, self._running_only = None, None
        if self._pending_all:
            self._pending_all = False
            self._pending.clear()
            self.sync()
        elif self._pending:
            pending, self._pending = self._pending, set()
            self.sync(pending)

    def _apply_plans(self) -> None:
        """Watch exactly the paths of the plans (QFileSystemWatcher drops a path that is
        deleted or renamed, so a sync's plan re-arms it); the periodic scan runs only while a
        folder needs it."""
        wanted = {path for plan in self._plans.values() for path in plan.paths}
        # A folder's own watch does not see it renamed away (or back): its parent's does.
        wanted |= {os.path.dirname(folder) for folder in self._plans}
        watched = set(self.watcher.directories()) | set(self.watcher.files())
        stale = sorted(watched - wanted)
        if stale:
            self.watcher.removePaths(stale)
        new = sorted(wanted - watched)
        refused = self.watcher.addPaths(new) if new else []
        # A path that vanished meanwhile is refused, harmlessly (its sync re-arms the watch);
        # one refused though it is there means the system's watches ran out: that folder is
        # scanned periodically instead.
        for path in refused:
            folder = folder_watch.folder_of(path, list(self._plans))
            plan = self._plans.get(folder or "")
            if plan is not None and not plan.periodic and os.path.exists(path):
                self._plans[plan.folder] = WatchPlan(plan.folder, plan.paths, periodic=True)
        if any(plan.periodic for plan in self._plans.values()):
            if not self._periodic.isActive():
                self._periodic.start()
        else:
            self._periodic.stop()

    def _on_path_changed(self, path: str) -> None:
        changed = set()
        inside = folder_watch.folder_of(path, list(self._plans))
        if inside is not None:
            changed.add(inside)
        for folder, plan in self._plans.items():
            # In a watched folder's parent only the folder coming or going matters (one stat).
            if os.path.dirname(folder) == path and os.path.isdir(folder) != plan.available:
                changed.add(folder)
        if changed:
            self._dirty |= changed
            self._debounce.start()  # restarts: the sync comes DEBOUNCE_MS after the last change

    def _on_settled(self) -> None:
        if self._dirty:
            self.sync(sorted(self._dirty))

    def _on_retry(self) -> None:
        waiting, self._waiting = self._waiting, set()
        if waiting:
            self.sync(sorted(waiting))

    def _on_periodic(self) -> None:
        periodic = [p.folder for p in self._plans.values() if p.periodic]
        if periodic:
            self.sync(periodic)
