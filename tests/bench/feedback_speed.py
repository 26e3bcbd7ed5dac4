"""What pseudo-relevance feedback costs a hybrid search: p50/p95 wall and CPU milliseconds of
Library.search with the given feedback setting against the same search without feedback, the
two alternating query by query (so both see the same load), on the synthetic libraries
tests/bench/search.py builds (~/.cache/Folio/bench-search/passages-SIZE/lib).

Run: .venv/bin/python tests/bench/feedback_speed.py ../shared/data/scifact ../shared/data/cranfield \
        [--sizes 100000,300000] [--queries 200] [--k 3] [--share 0.0] [--beta 1.5]
        [--search-again]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import platformdirs

from core import evaluation
from core.engine import Engine
from core.library import Library
from core.search import DEFAULT_PARAMS, Feedback, SearchMode, SearchParams


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.0)
    parser.add_argument("--beta", type=float, default=1.5)
    parser.add_argument("--search-again", action="store_true",
                        help="Rocchio searches the vector index again (not feedback_rescore)")
    args = parser.parse_args()
    feedback = replace(DEFAULT_PARAMS, feedback_passages=args.k, feedback_from=Feedback.FUSED,
                       feedback_term_share=args.share, feedback_vector_weight=args.beta,
                       feedback_rescore=not args.search_again)
    without = replace(DEFAULT_PARAMS, feedback_passages=0)
    settings: list[tuple[str, SearchParams]] = [("without feedback", without),
                                                 (f"feedback k {args.k}, RM3 {args.share}, "
                                                  f"Rocchio {args.beta}"
                                                  + (", searched again" if args.search_again
                                                     else ", rescored"), feedback)]
    root = Path(platformdirs.user_cache_dir("Folio", appauthor=False)) / "bench-search"
    print("| passages | queries | setting | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms "
          "| load average |")
    print("|---|---|---|---|---|---|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        engine = Engine()
        library = Library.open(root / f"passages-{size}" / "lib", engine)
        library.embedder.embed_query("warm up", True)
        for directory in args.datasets:
            texts = list(evaluation.load(directory, "test").queries.values())[:args.queries]
            for _, params in settings:
                library.search(texts[0], SearchMode.HYBRID, params=params)  # warm
            wall: dict[str, list[float]] = {label: [] for label, _ in settings}
            cpu: dict[str, list[float]] = {label: [] for label, _ in settings}
            for i, text in enumerate(texts):
                order = settings if i % 2 == 0 else settings[::-1]
                for label, params in order:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    library.search(text, SearchMode.HYBRID, params=params)
                    wall[label].append((time.perf_counter() - start) * 1000)
                    cpu[label].append((time.process_time() - start_cpu) * 1000)
            load = " ".join(f"{v:.1f}" for v in os.getloadavg())
            for label, _ in settings:
                w50, w95 = percentiles(wall[label])
                c50, c95 = percentiles(cpu[label])
                print(f"| {size:,} | {directory.name} | {label} | {w50:.1f} | {w95:.1f} | "
                      f"{c50:.1f} | {c95:.1f} | {load} |", flush=True)
        library.close()
        engine.close()


if __name__ == "__main__":
    main()
