"""Reading speed of PDFs through core.readers.paged.read: pages, tables, seconds and pages/s a file.

Run: .venv/bin/python tests/bench/read.py ../shared/data/filings [MORE PATHS] [--limit N]
     .venv/bin/python tests/bench/read.py --profile ../shared/data/filings/ORACLE_2015_10K.pdf

Each file is read in this process, one at a time, exactly as the reader child reads it
(core.readers.paged.read with the default ReadOptions). The table gives per file the page count,
the tables found, the seconds taken and pages/s, then the totals (all pages over all seconds) and
the median of the files' pages/s; the same again in CPU seconds of this process, which a shared
machine's load does not inflate as much as the wall clock. `--profile FILE` runs cProfile
over reading that one file and prints the top functions by cumulative time instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from core.readers import paged


def read_one(path: Path) -> tuple[int, int, float, float]:
    """Pages, tables, wall seconds and CPU seconds of reading one file."""
    start, cpu = time.perf_counter(), time.process_time()
    result = paged.read(path, path.stem)
    return (result.page_count, result.tables, time.perf_counter() - start,
            time.process_time() - cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="*", help="folders of PDFs, or PDFs")
    parser.add_argument("--limit", type=int, default=0, help="read only the first N files")
    parser.add_argument("--profile", type=Path, help="profile reading this one file")
    args = parser.parse_args(argv)
    if args.profile is not None:
        profiler = cProfile.Profile()
        profiler.enable()
        pages, tables, seconds, _ = read_one(args.profile)
        profiler.disable()
        print(f"{args.profile.name}: {pages} pages, {tables} tables, {seconds:.2f} s")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return 0
    files: list[Path] = []
    for given in args.paths:
        files += ([given] if given.is_file()
                  else sorted(p for p in given.iterdir() if p.suffix.lower() == ".pdf"))
    if args.limit:
        files = files[:args.limit]
    width = max((len(p.name) for p in files), default=4)
    print(f"{'file':<{width}} {'pages':>6} {'tables':>6} {'seconds':>8} {'pages/s':>8} "
          f"{'cpu s':>7} {'cpu p/s':>8}")
    rates: list[float] = []
    cpu_rates: list[float] = []
    all_pages = all_tables = 0
    all_seconds = all_cpu = 0.0
    for path in files:
        pages, tables, seconds, cpu = read_one(path)
        rate = pages / seconds if seconds > 0 else float("inf")
        cpu_rate = pages / cpu if cpu > 0 else float("inf")
        rates.append(rate)
        cpu_rates.append(cpu_rate)
        all_pages += pages
        all_tables += tables
        all_seconds += seconds
        all_cpu += cpu
        print(f"{path.name:<{width}} {pages:>6} {tables:>6} {seconds:>8.2f} {rate:>8.1f} "
              f"{cpu:>7.2f} {cpu_rate:>8.1f}", flush=True)
    if rates:
        print(f"{'total':<{width}} {all_pages:>6} {all_tables:>6} {all_seconds:>8.2f} "
              f"{all_pages / all_seconds:>8.1f} {all_cpu:>7.2f} {all_pages / all_cpu:>8.1f}")
        print(f"median pages/s over {len(rates)} files: {statistics.median(rates):.1f} "
              f"(CPU: {statistics.median(cpu_rates):.1f}); slowest: {min(rates):.1f} "
              f"(CPU: {min(cpu_rates):.1f})")
    print("load average (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
