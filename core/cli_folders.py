"""`folio folders add|list|remove` and `folio sync`: watched folders (core/sync.py)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict

from core.library import Library
from core.store.folders import Folder
from core.sync import SyncReport

OpenLibrary = Callable[..., Library]
EXIT_OK, EXIT_FAILED = 0, 1
CLI_WAIT_S = 10.0  # how long `folio sync` waits for files still being written


def folder_json(folder: Folder) -> dict[str, object]:
    return {"path": folder.path, "include": list(folder.include), "exclude": list(folder.exclude),
            "state": "available" if folder.available else "unavailable",
            "problem": folder.problem, "files": folder.files,
            "last_sync_at": folder.last_sync_at, "added_at": folder.added_at}


def report_json(report: SyncReport) -> dict[str, object]:
    data = asdict(report)
    data["moved"] = [{"from": a, "to": b} for a, b in report.moved]
    data["failed"] = [{"path": p, "reason": r} for p, r in report.failed]
    data["unavailable"] = [{"folder": f, "reason": r} for f, r in report.unavailable]
    data["passages_embedded"] = data.pop("passages")
    return data


def report_lines(report: SyncReport) -> list[str]:
    lines = [f"added: {p}" for p in report.added]
    lines += [f"replaced: {p}" for p in report.replaced]
    lines += [f"moved: {a} -> {b}" for a, b in report.moved]
    lines += [f"removed: {p}" for p in report.removed]
    lines += [f"failed: {p} — {r}" for p, r in report.failed]
    lines += [f"waiting: {p} (still being written; the next sync takes it)"
              for p in report.waiting]
    lines += [f"unavailable: {f} — {r} Its documents are kept." for f, r in report.unavailable]
    lines += [f"unreadable subfolder: {p} (its documents are kept)" for p in report.unreadable]
    return lines


def totals(report: SyncReport) -> str:
    parts = [f"{len(report.added)} added", f"{len(report.replaced)} replaced",
             f"{len(report.moved)} moved", f"{len(report.removed)} removed",
             f"{report.unchanged} unchanged"]
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.waiting:
        parts.append(f"{len(report.waiting)} waiting")
    return ", ".join(parts) + f"; {report.passages} passages embedded"


def run_sync(library: Library, args: argparse.Namespace, only: list[str] | None = None) -> int:
    cancel = threading.Event()
    try:
        report = library.sync(cancel=cancel, wait_s=CLI_WAIT_S, only=only)
    except KeyboardInterrupt:
        cancel.set()
        print("Interrupted: what was synced is kept; `folio sync` finishes the job.",
              file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        for line in report_lines(report):
            print(line)
        print(totals(report), file=sys.stderr)
    return EXIT_FAILED if report.failed or report.unavailable or report.cancelled else EXIT_OK


def cmd_sync(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args, first_run_sample=False, writes=True) as library:
        if not library.folders():
            print("No watched folders: `folio folders add DIR` adds one.", file=sys.stderr)
            return EXIT_OK
        return run_sync(library, args)


def cmd_folders(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args, first_run_sample=False, writes=args.action != "list") as library:
        if args.action == "add":
            folder = library.watch_folder(args.folder, args.include or (), args.exclude or ())
            print(f"watching: {folder.path}", file=sys.stderr)
            return EXIT_OK if args.no_sync else run_sync(library, args, [folder.path])
        if args.action == "remove":
            removed = library.unwatch_folder(args.folder, keep_documents=args.keep_documents)
            kept = " (its documents are kept)" if args.keep_documents else ""
            print(f"no longer watched: {args.folder}{kept}; {len(removed)} document(s) removed")
            return EXIT_OK
        watched = library.folders()
        if args.json:
            print(json.dumps([folder_json(f) for f in watched], ensure_ascii=False, indent=2))
        elif not watched:
            print("No watched folders: `folio folders add DIR` adds one.", file=sys.stderr)
        for folder in watched if not args.json else []:
            state = "" if folder.available else f"  [unavailable: {folder.problem}]"
            print(f"{folder.path}  ({folder.files} files, last sync "
                  f"{folder.last_sync_at or 'never'}){state}")
        return EXIT_OK


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser, open_library: OpenLibrary) -> None:
    folders = sub.add_parser("folders", parents=[common],
                             help="folders the library keeps in sync (add, list, remove)")
    actions = folders.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[common], help="watch a folder and sync it now")
    add.add_argument("folder", metavar="DIR")
    add.add_argument("--include", action="append", metavar="PATTERN",
                     help="only files matching this glob, e.g. '*.pdf' (repeatable)")
    add.add_argument("--exclude", action="append", metavar="PATTERN",
                     help="leave out files or paths matching this glob (repeatable)")
    add.add_argument("--no-sync", action="store_true", help="watch it, sync later")
    add.add_argument("--json", action="store_true", help="the sync's report as JSON")
    lst = actions.add_parser("list", parents=[common], help="the watched folders and their state")
    lst.add_argument("--json", action="store_true")
    rm = actions.add_parser("remove", parents=[common], help="stop watching a folder")
    rm.add_argument("folder", metavar="DIR")
    rm.add_argument("--keep-documents", action="store_true",
                    help="keep its documents in the library")
    folders.set_defaults(func=lambda a: cmd_folders(a, open_library))

    sync = sub.add_parser("sync", parents=[common],
                          help="bring the library in line with its watched folders")
    sync.add_argument("--json", action="store_true", help="machine-readable report")
    sync.set_defaults(func=lambda a: cmd_sync(a, open_library))
