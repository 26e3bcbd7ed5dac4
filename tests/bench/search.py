"""Search latency at scale: p50/p95 of each mode at 10k, 100k and 300k passages, for each query
set, and disk size; the keyword index's build time and memory on the first search.

Run: .venv/bin/python tests/bench/search.py ../shared/data/scifact ../shared/data/cranfield
         [--sizes 10000,100000,300000] [--source-library DIR]

The first dataset's library is the source; each dataset's test queries are a query set
(Cranfield's are long questions, SciFact's short claims). --source-library copies an existing
library folder instead (any Folio library with vectors).

How the synthetic libraries are made: the real SciFact library that `folio eval` builds
(~5k abstracts, real passages and their real MiniLM vectors) is copied over and over into one
library file. Each copy of a passage keeps its text (so FTS5 posting lists grow as in a real
library of similar prose) and gets its vector plus Gaussian noise (sigma 0.02 per dimension,
then renormalised), so that no two vectors are equal. Documents hold 40 passages each.
The queries (their text) are each timed end to end through Library.search, including
embedding the query.

--cache DIR keeps the built libraries there (DIR/passages-SIZE, marked complete when built) and
reuses them on the next run; without it they are built in a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy, as core/__init__.py says

import numpy as np

from core import evaluation
from core import keyword_index as keyword_module
from core.library import Library
from core.search import SearchMode
from core.store import queries
from core.store.connection import write_transaction

PASSAGES_PER_DOC = 40


def build(source: Library, target: Path, size: int, seed: int = 7) -> Library:
    rows = source.db.execute(
        f"SELECT p.text, p.context, p.heading_path, v.embedding FROM passages p "
        f"JOIN {queries.EMBEDDING_TABLE} v ON v.passage_id = p.id ORDER BY p.id").fetchall()
    vectors = np.stack([np.frombuffer(cast(bytes, r[3]), dtype=np.float32) for r in rows])
    rng = np.random.default_rng(seed)
    library = Library.open(target)
    db = library.db
    made = 0
    doc_id = 0
    with write_transaction(db):
        while made < size:
            for start in range(0, len(rows), PASSAGES_PER_DOC):
                if made >= size:
                    break
                doc_id = queries.insert_document(
                    db, title=f"Synthetic volume {doc_id + 1}", doc_type="markdown",
                    original_path=f"/synthetic/{made}.md", stored_path=None, sha256=f"{made:064x}",
                    size_bytes=0, pages=1, status="indexed", error=None, error_kind=None,
                    notes=None)
                chunk = rows[start:start + PASSAGES_PER_DOC][:size - made]
                noisy = vectors[start:start + len(chunk)] + rng.normal(
                    0, 0.02, (len(chunk), vectors.shape[1])).astype(np.float32)
                noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
                for ordinal, ((text, context, headings, _), vector) in enumerate(
                        zip(chunk, noisy, strict=True)):
                    db.execute(
                        "INSERT INTO passages (document_id, ordinal, text, heading_path, context, "
                        "page_start, page_end, token_count) VALUES (?, ?, ?, ?, ?, 1, 1, 0)",
                        (doc_id, ordinal, text, headings, context))
                    queries.insert_vectors(db, [(db.last_insert_rowid(), doc_id, vector)])
                made += len(chunk)
    return library


def cached_build(source: Library, root: Path, size: int) -> Library:
    """The synthetic library of size passages in root, built unless a complete one is there."""
    marker = root / "complete"
    if marker.exists():
        return Library.open(root / "lib")
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    library = build(source, root / "lib", size)
    library.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marker.write_text("ok", encoding="utf-8")
    return library


def top10_agreement(library: Library, texts: list[str]) -> float:
    """Mean share of the exact top-10 (numpy over every float vector) that semantic search finds."""
    rows = library.db.execute(
        f"SELECT passage_id, embedding FROM {queries.EMBEDDING_TABLE}").fetchall()
    ids = np.array([r[0] for r in rows])
    matrix = np.stack([np.frombuffer(cast(bytes, r[1]), dtype=np.float32) for r in rows])
    shares = []
    for text in texts:
        exact = set(ids[np.argsort(-(matrix @ library.embedder.embed_query(text)))[:10]].tolist())
        found = {h.passage_id for h in library.search(text, mode=SearchMode.SEMANTIC, k=10).hits}
        shares.append(len(exact & found) / 10)
    return statistics.fmean(shares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--queries", type=int, default=200, help="per query set")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the built libraries in this folder and reuse them")
    parser.add_argument("--source-library", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="time each mode this many times")
    args = parser.parse_args()
    sets = {d.name: list(evaluation.load(d, "test").queries.values())[:args.queries]
            for d in args.datasets}
    source = (Library.open(args.source_library) if args.source_library
              else evaluation.library_for(evaluation.load(args.datasets[0], "test")))
    print(f"source: {source.root} ({queries.count_rows(source.db, 'passages')} passages)")
    print("| passages | queries | mode | p50 ms | p95 ms | library.db MB | semantic top-10 = exact "
          "| load average |")
    print("|---|---|---|---|---|---|---|---|")
    builds = []
    for size in (int(s) for s in args.sizes.split(",")):
        with contextlib.ExitStack() as stack:
            if args.cache is None:
                work = Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="folio-search-bench-")))
            else:
                work = args.cache
            library = cached_build(source, work / f"passages-{size}", size)
            megabytes = os.path.getsize(library.db_path) / 2**20
            start, cpu = time.perf_counter(), time.process_time()
            index = keyword_module.keyword_index(library.db)
            builds.append((size, time.perf_counter() - start, time.process_time() - cpu,
                           index.nbytes / 2**20, os.getloadavg()[0]))
            for name, texts in sets.items():
                agreement = top10_agreement(library, texts)
                for _ in range(args.repeat):
                    for mode in SearchMode:
                        library.search(texts[0], mode=mode)  # warm caches and the model
                        times = []
                        for text in texts:
                            start = time.perf_counter()
                            library.search(text, mode=mode, k=10)
                            times.append((time.perf_counter() - start) * 1000)
                        times.sort()
                        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                        load = os.getloadavg()
                        print(f"| {size:,} | {name} | {mode.value} | {statistics.median(times):.1f} "
                              f"| {p95:.1f} | {megabytes:.0f} | {agreement:.1%} "
                              f"| {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |", flush=True)
            library.close()
    print("\n| passages | keyword index build s (wall) | (CPU) | index MB | load average |")
    print("|---|---|---|---|---|")
    for size, wall, cpu, mb, load1 in builds:
        print(f"| {size:,} | {wall:.1f} | {cpu:.1f} | {mb:.0f} | {load1:.1f} |")


if __name__ == "__main__":
    main()
