"""Syncing a watched folder tree: the first sync, a sync with nothing changed, and a sync after
100 changes (40 edited, 30 renamed or moved, 30 deleted), in seconds (wall and CPU).

Run: .venv/bin/python tests/bench/sync.py [--files 10000] [--pdfs 5] [--keep DIR]

The tree: --files small Markdown notes (a heading and two sentences each) in 100 folders of
10 subfolders, and --pdfs copies of the test report PDF made unique by a line of their own.
Everything goes through Library.sync with one Engine, as `folio sync` runs it; the library and
the tree are in a temporary folder (or --keep DIR, kept and reused for the tree).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from core.engine import Engine
from core.library import Library
from core.sync import SyncReport
from tests.fixtures import docs as fx

WORDS = ("harbour", "tide", "gull", "pier", "mooring", "buoy", "ledger", "invoice", "budget",
         "audit", "river", "bridge", "orchard", "pruning", "dough", "oven", "census", "archive")
SETTLED = time.time() - 3600


def make_tree(root: Path, files: int, pdfs: int) -> list[Path]:
    rng = random.Random(5)
    paths = []
    for n in range(files):
        folder = root / f"area-{n % 100:02d}" / f"box-{(n // 100) % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"note-{n:05d}.md"
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        path.write_text(f"# Note {n}\n\nNote {n} is about {words}. It was filed in {folder.name}.",
                        encoding="utf-8")
        os.utime(path, (SETTLED, SETTLED))
        paths.append(path)
    for n in range(pdfs):
        (root / "reports" / f"r{n}").mkdir(parents=True, exist_ok=True)
        made = fx.make_report_pdf(root / "reports" / f"r{n}")
        target = root / "reports" / f"report-{n}.pdf"
        made.path.rename(target)
        with target.open("ab") as handle:  # unique bytes (a trailing comment is allowed)
            handle.write(f"\n% copy {n}\n".encode())
        os.utime(target, (SETTLED, SETTLED))
        paths.append(target)
    return paths


def change(paths: list[Path], rng: random.Random) -> None:
    picked = rng.sample([p for p in paths if p.suffix == ".md"], 100)
    for path in picked[:40]:
        path.write_text(path.read_text(encoding="utf-8") + " Edited once.", encoding="utf-8")
        os.utime(path, (SETTLED + 60, SETTLED + 60))
    for path in picked[40:70]:
        path.rename(path.with_name("renamed-" + path.name))
    for path in picked[70:]:
        path.unlink()


def timed(library: Library) -> tuple[float, float, SyncReport]:
    wall, cpu = time.perf_counter(), time.process_time()
    report = library.sync()
    return time.perf_counter() - wall, time.process_time() - cpu, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--pdfs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="folio-sync-bench-") as work:
        base = args.keep or Path(work)
        tree = base / "tree"
        made = time.perf_counter()
        paths = make_tree(tree, args.files, args.pdfs)
        print(f"tree: {len(paths)} files in {time.perf_counter() - made:.1f} s")
        print("| sync | wall s | CPU s | added | replaced | moved | removed | unchanged "
              "| passages | load average |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        with Engine() as engine, Library.open(base / "library", engine) as library:
            library.prepare()
            library.watch_folder(tree)
            runs = [("first", None), ("no change", None), ("after 100 changes", "change"),
                    ("no change again", None)]
            for name, action in runs:
                if action == "change":
                    change(paths, random.Random(9))
                wall, cpu, report = timed(library)
                load = os.getloadavg()
                print(f"| {name} | {wall:.2f} | {cpu:.2f} | {len(report.added)} "
                      f"| {len(report.replaced)} | {len(report.moved)} | {len(report.removed)} "
                      f"| {report.unchanged} | {report.passages} "
                      f"| {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
