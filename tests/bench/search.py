"""Search latency at scale: p50/p95 of each mode at 10k, 100k, 300k and 1M passages, for each
query set; semantic top-10 agreement with exact float search; disk, index memory, the first
search (the load) of each index, and the process's RSS.

Run: .venv/bin/python tests/bench/search.py ../shared/data/scifact ../shared/data/cranfield
         [--sizes 10000,100000,300000,1000000] [--cache DIR] [--source-library DIR]
         [--queries 200] [--repeat 1] [--coarse-share 0.008,0.016] [--build-only]

The first dataset's library is the source; each dataset's test queries are a query set
(Cranfield's are long questions, SciFact's short claims). --source-library uses an existing
library folder instead (any Folio library with vectors).

How the synthetic libraries are made: the real SciFact library that `folio eval` builds
(core/evaluation.library_for: ~5k abstracts, real passages and their real MiniLM vectors) is
copied over and over into one library file. Each copy of a passage keeps its text (so the
keyword postings grow as in a real library of similar prose) and gets its vector's direction
(the stored vector, normalised) plus Gaussian noise (sigma 0.02 per dimension, then
renormalised), so that no two vectors are equal. Documents hold 40 passages each. Rows are
written with executemany, one transaction per 50k passages, vectors through
core.store.vectors.insert (float32 in vec0, as ingestion stores them). The float vectors
are kept beside the library (DIR/passages-SIZE/floats.npy, row i = passage id i + 1): the
"agreement" column is the mean share of the exact top-10 (float32 cosine over every passage,
from that file) that Library.search in semantic mode returns; "int8 exact" is the same for an
exact scan of the int8 vectors (what quantization alone loses; the rest is the sign-code
candidate pass of core/vector_index.py above 50k passages); "same texts" counts a copy of the
same passage text as found (the copies of one text differ only by their noise); "= int8 exact
scan" is the share of the int8 scan's own top-10 that the search finds (what the candidate pass
alone loses).

Each size is measured in a child process of its own (its RSS is its own): one Engine, one
Library opened with it, the embedding model loaded, then the first keyword search and the
first semantic search are timed (each loads its index: the keyword index from its saved copy
beside library.db when there is one, the table says which), then every query of each set is
timed end to end through Library.search (query embedding included), k=10, after one warm-up
search per mode. RSS (ru_maxrss, the peak, and VmRSS now) is read after the timed searches,
before the agreement pass reads floats.npy.

--coarse-share S1,S2 measures the candidate knob of core/vector_index.py at other settings
(the module constant COARSE_SHARE patched in this process; core is not changed): agreement
and the latency of the vector side alone (VectorIndex.nearest on vectors embedded beforehand)
and of semantic / hybrid search at each (and at the default first), for the sizes above
EXACT_UP_TO (below, every row is scored). Candidates scored = max(COARSE_CANDIDATES,
COARSE_SHARE x passages, 10 x 200).
--cache DIR keeps the built libraries (DIR/passages-SIZE, marked complete when built) and
reuses them; without it they are built in a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy, as core/__init__.py says

import numpy as np
import numpy.typing as npt

from core import evaluation, vector_index
from core.engine import Engine
from core.library import Library
from core.paths import KEYWORD_INDEX_SUFFIX
from core.search import SearchMode
from core.store import queries, vectors
from core.store.connection import write_transaction

PASSAGES_PER_DOC = 40
BATCH = 50_000  # passages a transaction (a multiple of PASSAGES_PER_DOC)
NOISE = 0.02
MARKER = "complete"
MARKER_TEXT = "float32 in vec0, floats.npy"  # older libraries (int8 tables) are rebuilt
EXACT_BLOCK = 32_768  # rows of the exact pass at a time

INSERT_DOCUMENT = ("INSERT INTO documents (id, title, doc_type, original_path, stored_path, sha256, "
                   "size_bytes, pages, status, added_at) "
                   "VALUES (?, ?, 'markdown', ?, NULL, ?, 0, 1, 'indexed', ?)")
INSERT_PASSAGE = ("INSERT INTO passages (id, document_id, ordinal, text, heading_path, context, "
                  "page_start, page_end, token_count) VALUES (?, ?, ?, ?, ?, ?, 1, 1, 0)")

Floats = npt.NDArray[np.float32]


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def rss_mb() -> tuple[float, float]:
    """(peak RSS so far, RSS now) in MB: ru_maxrss and /proc/self/status VmRSS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
    return peak, now


# --- building ---------------------------------------------------------------------------------


def source_passages(source: Library) -> tuple[list[tuple[str, str, str]], Floats]:
    """(text, heading path, context) of every passage of source that has a vector, and the
    direction of its vector (the stored vector as float32, length 1), by passage id."""
    dim = vectors.width(source.db)
    if dim is None:
        raise SystemExit(f"{source.root} has no vector table")
    loaded = vectors.every(source.db, dim)
    ids, stored = loaded.ids, (loaded.floats if loaded.floats is not None else loaded.int8)
    rows = {int(cast(int, r[0])): (str(r[1]), str(r[2]), str(r[3])) for r in source.db.execute(
        "SELECT id, text, heading_path, context FROM passages")}
    keep = [i for i, pid in enumerate(ids.tolist()) if pid in rows]
    directions = stored[keep].astype(np.float32)
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    return [rows[int(ids[i])] for i in keep], directions


def build(source: Library, root: Path, size: int, seed: int = 7,
          engine: Engine | None = None) -> Library:
    """The synthetic library of size passages in root/lib, its float vectors in
    root/floats.npy (row i: passage id i + 1)."""
    texts, directions = source_passages(source)
    dim = directions.shape[1]
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    floats = np.lib.format.open_memmap(root / "floats.npy", mode="w+", dtype=np.float32,
                                       shape=(size, dim))
    library = Library.open(root / "lib", engine)
    db = library.db
    stamp = queries.now_iso()
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        end = min(size, start + BATCH)
        rows = np.arange(start, end)
        origin = rows % len(texts)
        noisy = directions[origin] + rng.normal(0, NOISE, (end - start, dim)).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        floats[start:end] = noisy
        first_doc, last_doc = start // PASSAGES_PER_DOC, (end - 1) // PASSAGES_PER_DOC
        with write_transaction(db):
            db.executemany(INSERT_DOCUMENT, [
                (d + 1, f"Synthetic volume {d + 1}", f"/synthetic/{d}.md", f"{d:064x}", stamp)
                for d in range(first_doc, last_doc + 1)])
            db.executemany(INSERT_PASSAGE, [
                (i + 1, i // PASSAGES_PER_DOC + 1, i % PASSAGES_PER_DOC, texts[o][0],
                 texts[o][1], texts[o][2])
                for i, o in zip(rows.tolist(), origin.tolist(), strict=True)])
            vectors.insert(db, (rows + 1).tolist(), noisy)
        print(f"  built {end:,} of {size:,} passages in {time.perf_counter() - started:.0f} s "
              f"(load average {load_average()})", file=sys.stderr, flush=True)
    with write_transaction(db):
        queries.set_meta(db, "last_document_id", str((size - 1) // PASSAGES_PER_DOC + 1))
    library.prepare()  # the writer's housekeeping: trims the change log as ingestion's would
    floats.flush()
    del floats
    return library


def built(root: Path) -> bool:
    """Whether root holds a complete synthetic library of today's layout."""
    marker = root / MARKER
    return (marker.exists() and marker.read_text(encoding="utf-8") == MARKER_TEXT
            and (root / "floats.npy").exists())


def cached_build(source: Library, root: Path, size: int,
                 engine: Engine | None = None) -> Library:
    """The synthetic library of size passages in root, built unless a complete one is there."""
    if built(root):
        return Library.open(root / "lib", engine)
    marker = root / MARKER
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    started = time.perf_counter()
    library = build(source, root, size, engine=engine)
    library.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marker.write_text(MARKER_TEXT, encoding="utf-8")
    print(f"built {root} in {time.perf_counter() - started:.0f} s (load average "
          f"{load_average()})", file=sys.stderr, flush=True)
    return library


# --- measuring (in a child process per size) ----------------------------------------------------


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def timed(library: Library, texts: list[str], mode: SearchMode,
          repeat: int) -> tuple[list[float], list[list[int]]]:
    """Milliseconds of each search (repeat passes over texts) and the hits of the last pass."""
    library.search(texts[0], mode=mode)  # warm
    times: list[float] = []
    found: list[list[int]] = []
    for _ in range(repeat):
        found = []
        for text in texts:
            start = time.perf_counter()
            result = library.search(text, mode=mode, k=10)
            times.append((time.perf_counter() - start) * 1000)
            found.append([h.passage_id for h in result.hits])
    return times, found


def exact_top10(floats: Floats, index: vector_index.VectorIndex,
                queries_matrix: Floats) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Passage ids of the exact top-10 of each query: by float32 cosine over floats (unit rows),
    and by cosine over the index's int8 vectors (every row scored), in one pass."""
    count = len(floats)
    if not np.array_equal(index.ids, np.arange(1, count + 1)):
        raise SystemExit("the library's passage ids are not 1..N: floats.npy does not match")
    tops = []
    for scores_of in (
            lambda a, b: np.asarray(floats[a:b], dtype=np.float32) @ queries_matrix.T,
            lambda a, b: (index.vectors[a:b].astype(np.float32) @ queries_matrix.T)
            * index.inverse_norms[a:b, None]):
        best_scores = np.full((10, len(queries_matrix)), -np.inf, dtype=np.float32)
        best_rows = np.zeros((10, len(queries_matrix)), dtype=np.int64)
        for start in range(0, count, EXACT_BLOCK):
            end = min(count, start + EXACT_BLOCK)
            scores = scores_of(start, end)
            take = min(10, end - start)
            part = np.argpartition(-scores, take - 1, axis=0)[:take]
            merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, part, 0)])
            merged_rows = np.concatenate([best_rows, part + start])
            keep = np.argpartition(-merged_scores, 9, axis=0)[:10]
            best_scores = np.take_along_axis(merged_scores, keep, 0)
            best_rows = np.take_along_axis(merged_rows, keep, 0)
        tops.append(best_rows.T + 1)
    return tops[0], tops[1]


def nearest_times(index: vector_index.VectorIndex, matrix: Floats, repeat: int) -> list[float]:
    """Milliseconds of the vector side alone (VectorIndex.nearest for the 200 candidates a
    search asks of it), on the queries' vectors embedded beforehand."""
    times = []
    for _ in range(repeat):
        for vector in matrix:
            start = time.perf_counter()
            index.nearest(vector, 200)
            times.append((time.perf_counter() - start) * 1000)
    return times


def agreement(exact: npt.NDArray[np.int64], found: list[list[int]]) -> float:
    return statistics.fmean(len(set(e.tolist()) & set(f)) / 10
                            for e, f in zip(exact, found, strict=True))


def text_agreement(library: Library, exact: npt.NDArray[np.int64],
                   found: list[list[int]]) -> float:
    """As agreement, with a copy of the same passage text counting as found (the synthetic
    copies of one text differ only by their noise: a swap among them loses nothing a reader
    would see)."""
    def texts(ids: list[int]) -> Counter[str]:
        by_id = {int(cast(int, r[0])): str(r[1]) for r in library.db.execute(
            "SELECT id, text FROM passages WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),))}
        return Counter(by_id[i] for i in ids if i in by_id)
    return statistics.fmean(sum((texts(e.tolist()) & texts(f)).values()) / 10
                            for e, f in zip(exact, found, strict=True))


def measure(root: Path, sets: dict[str, list[str]], repeat: int,
            shares: list[float]) -> dict[str, Any]:
    engine = Engine()
    lib_dir = root / "lib"
    saved_copy = Path(f"{lib_dir / 'library.db'}{KEYWORD_INDEX_SUFFIX}")
    saved_before = saved_copy.stat().st_mtime_ns if saved_copy.exists() else None
    library = Library.open(lib_dir, engine)
    count = queries.count_rows(library.db, "passages")
    embedder = library.embedder
    embedder.embed_query("warm up the model")
    embedder.embed_query("warm up the model", True)  # hybrid's one-thread session
    first = next(iter(sets.values()))[0]
    start = time.perf_counter()
    library.search(first, mode=SearchMode.KEYWORD)
    keyword_first = time.perf_counter() - start
    saved_after = saved_copy.stat().st_mtime_ns if saved_copy.exists() else None
    # The copy is rewritten when it was built: none yet, or one another tokenizer or an
    # older log made (then it is stale, and built anew).
    keyword_source = ("saved copy" if saved_before is not None and saved_after == saved_before
                      else "built" if saved_before is None else "built, saved copy stale")
    start = time.perf_counter()
    library.search(first, mode=SearchMode.SEMANTIC)
    semantic_first = time.perf_counter() - start
    after_load = rss_mb()
    index = library.indexes.vectors(library.db)
    with library.indexes.keywords(library.db) as keywords:
        keyword_bytes = keywords.nbytes
    out: dict[str, Any] = {
        "passages": count, "db_mb": os.path.getsize(library.db_path) / 2**20,
        "vector_bytes_per_passage": index.nbytes / max(1, count),
        "vector_mb": index.nbytes / 2**20, "keyword_mb": keyword_bytes / 2**20,
        "keyword_first_s": keyword_first, "semantic_first_s": semantic_first,
        "keyword_source": keyword_source, "rss_after_load_mb": after_load,
        "modes": [], "knobs": []}
    found: dict[str, list[list[int]]] = {}
    for name, texts in sets.items():
        for mode in SearchMode:
            times, hits = timed(library, texts, mode, repeat)
            if mode is SearchMode.SEMANTIC:
                found[name] = hits
            p50, p95 = percentiles(times)
            out["modes"].append({"set": name, "mode": mode.value, "p50": p50, "p95": p95,
                                 "load": load_average()})
            print(f"  {count:,} {name} {mode.value}: p50 {p50:.1f} p95 {p95:.1f} ms "
                  f"(load {load_average()})", file=sys.stderr, flush=True)
    out["rss_mb"] = rss_mb()
    out["vector_loads"], out["keyword_loads"] = (library.indexes.vector_loads,
                                                 library.indexes.keyword_loads)
    floats = np.load(root / "floats.npy", mmap_mode="r")
    exact: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
    embedded: dict[str, Floats] = {}
    for name, texts in sets.items():
        matrix = np.stack([embedder.embed_query(t) for t in texts]).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        embedded[name] = matrix
        exact[name] = exact_top10(floats, index, matrix)
        out.setdefault("agreement", {})[name] = agreement(exact[name][0], found[name])
        out.setdefault("int8_exact", {})[name] = agreement(
            exact[name][0], [row.tolist() for row in exact[name][1]])
        out.setdefault("same_text", {})[name] = text_agreement(library, exact[name][0],
                                                                found[name])
        out.setdefault("vs_int8", {})[name] = agreement(exact[name][1], found[name])
    default_share = vector_index.COARSE_SHARE
    knob_shares = [default_share, *shares] if shares else []
    for share in knob_shares if count > vector_index.EXACT_UP_TO else []:  # else all are scored
        vector_index.COARSE_SHARE = share
        for name, texts in sets.items():
            semantic, hits = timed(library, texts, SearchMode.SEMANTIC, repeat)
            hybrid, _ = timed(library, texts, SearchMode.HYBRID, repeat)
            out["knobs"].append({
                "share": share, "set": name, "agreement": agreement(exact[name][0], hits),
                "vs_int8": agreement(exact[name][1], hits),
                "candidates": max(vector_index.COARSE_CANDIDATES, int(share * count), 2000),
                "nearest": percentiles(nearest_times(index, embedded[name], repeat)),
                "semantic": percentiles(semantic), "hybrid": percentiles(hybrid),
                "load": load_average()})
    vector_index.COARSE_SHARE = default_share
    out["default_share"] = default_share
    out["default_candidates"] = max(vector_index.COARSE_CANDIDATES,
                                    int(default_share * count), 2000)
    library.close()
    engine.close()
    return out


# --- the tables ---------------------------------------------------------------------------------


def print_tables(results: list[dict[str, Any]]) -> None:
    print("\n| passages | queries | mode | p50 ms | p95 ms | semantic top-10 = exact float "
          "| (int8 exact scan) | (same texts) | (= int8 exact scan) | load average |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for m in r["modes"]:
            name = m["set"]
            print(f"| {r['passages']:,} | {name} | {m['mode']} | {m['p50']:.1f} | "
                  f"{m['p95']:.1f} | {r['agreement'][name]:.1%} | {r['int8_exact'][name]:.1%} | "
                  f"{r['same_text'][name]:.1%} | {r['vs_int8'][name]:.1%} | {m['load']} |")
    print("\n| passages | library.db MB | vector index MB | bytes / passage | first semantic "
          "search s | keyword index MB | first keyword search s | peak RSS MB | RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        source = r["keyword_source"]
        print(f"| {r['passages']:,} | {r['db_mb']:.0f} | {r['vector_mb']:.0f} | "
              f"{r['vector_bytes_per_passage']:.0f} | {r['semantic_first_s']:.2f} | "
              f"{r['keyword_mb']:.0f} | {r['keyword_first_s']:.2f} ({source}) | "
              f"{r['rss_mb'][0]:.0f} | {r['rss_mb'][1]:.0f} |")
    knobs = [(r, k) for r in results for k in r["knobs"]]
    if knobs:
        print("\n| passages | queries | COARSE_SHARE | candidates | agreement | (= int8 exact "
              "scan) | vector side p50 / p95 ms | semantic p50 / p95 ms | hybrid p50 / p95 ms "
              "| load average |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r, k in knobs:
            print(f"| {r['passages']:,} | {k['set']} | {k['share']} | {k['candidates']:,} | "
                  f"{k['agreement']:.1%} | {k['vs_int8']:.1%} | "
                  f"{k['nearest'][0]:.1f} / {k['nearest'][1]:.1f} | "
                  f"{k['semantic'][0]:.1f} / {k['semantic'][1]:.1f} | "
                  f"{k['hybrid'][0]:.1f} / {k['hybrid'][1]:.1f} | {k['load']} |")
        for r in results:
            print(f"(default at {r['passages']:,}: COARSE_SHARE {r['default_share']}, "
                  f"{r['default_candidates']:,} candidates)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--sizes", default="10000,100000,300000,1000000")
    parser.add_argument("--queries", type=int, default=200, help="per query set")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the built libraries in this folder and reuse them")
    parser.add_argument("--source-library", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="time each mode this many times")
    parser.add_argument("--coarse-share", default="",
                        help="also measure these COARSE_SHARE settings (comma-separated)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--measure", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = {d.name: list(evaluation.load(d, "test").queries.values())[:args.queries]
            for d in args.datasets}
    shares = [float(s) for s in args.coarse_share.split(",") if s]
    if args.measure is not None:  # the child of one size
        result = measure(args.cache / f"passages-{args.measure}", sets, args.repeat, shares)
        print(json.dumps(result))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    with contextlib.ExitStack() as stack:
        work = args.cache or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="folio-search-bench-")))
        source = (Library.open(args.source_library) if args.source_library
                  else evaluation.library_for(evaluation.load(args.datasets[0], "test")))
        print(f"source: {source.root} ({queries.count_rows(source.db, 'passages')} passages); "
              f"load average {load_average()}", flush=True)
        for size in sizes:
            cached_build(source, work / f"passages-{size}", size).close()
        source.close()
        if args.build_only:
            return
        results = []
        for size in sizes:
            command = [sys.executable, __file__, *map(str, args.datasets), "--cache", str(work),
                       "--measure", str(size), "--queries", str(args.queries),
                       "--repeat", str(args.repeat), "--coarse-share", args.coarse_share]
            child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print_tables(results[-1:])
        if len(results) > 1:
            print("\nAll sizes:")
            print_tables(results)


if __name__ == "__main__":
    main()
