"""Page-hit benchmark on the real filings: Folio's search against a naive per-page baseline.

Run: .venv/bin/python tests/bench/pages.py [--filings N] [--rebuild] [--cache DIR] [--misses]

The questions are tests/data/filings_questions.jsonl (found by reading the pages). For each
question the bench ranks pages, (i) within the question's document and (ii) across the whole
library, and reports page hit@1, hit@5 and MRR@10 (reciprocal rank of the first right page
among the first 10 distinct pages, 0 beyond).

- Folio: a library built through the real path, `Library.open(DIR).add(paths)` (the sandboxed
  reader, the chunker, the embedder, default settings). A hit names pages `page..page_end`; a
  passage spanning pages counts for each of them ("Folio, first page only" counts its first
  page alone, as a citation does, to measure what straddling costs). The library is cached in
  DIR/folio-KEY, KEY a hash of core/**/*.py, resources/models and resources/tessdata, and the
  file list: a code change rebuilds.
- Baseline: each page's `page.get_text()` cut alone into consecutive 1,000-character chunks
  (no overlap), ranked by BM25 (k1=0.9, b=0.4, Lucene's idf; tokens are lowercase runs of
  letters and digits, Snowball English stemming as Folio's FTS5 uses Porter) and by the same
  MiniLM through core.embedding (embed_passages / embed_query), the top 200 of each fused by RRF
  (k=60). Within a document both rankings are restricted to its chunks (idf stays global, as
  in FTS5). Chunk vectors are cached per file in DIR/baseline.

Pages are compared as (document, 1-based physical page); a page is counted once, at its first
rank. Filings are taken smallest first; --filings N takes the N smallest and their questions,
for a quick run.
--key KEY reuses the library built under KEY (the code may have moved on since: a build takes
minutes and core/ changes meanwhile). --misses writes, for each question Folio misses
(within-document hit@5), the passages holding the answer and what is wrong with them, to
DIR/misses-KEY.txt.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy, as core/__init__.py says

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

FILINGS = ROOT.parent / "shared" / "data" / "filings"
QUESTIONS = ROOT / "tests" / "data" / "filings_questions.jsonl"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "folio-bench-pages"
CHUNK_CHARS = 1000
BM25_K1, BM25_B = 0.9, 0.4
RRF_K = 60
DEPTH = 200  # candidates taken from each side of the baseline, and passages asked of Folio
MRR_CUTOFF = 10
COVER_BANNER = "UNITED STATES SECURITIES AND EXCHANGE COMMISSION"

PageKey = tuple[str, int]  # (file name, 1-based page)

if TYPE_CHECKING:
    from core.engine import Engine


@functools.cache
def engine() -> Engine:
    """The one Engine of this run (core/engine.py), as the CLI and the app have one: the
    library and the baseline share its embedder."""
    from core.engine import Engine

    return Engine()


# --- questions and files -------------------------------------------------------------------


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def select_files(count: int | None) -> list[Path]:
    import pymupdf

    pages = {}
    for path in FILINGS.glob("*.pdf"):
        with pymupdf.open(path) as doc:
            pages[path] = doc.page_count
    # Smallest first: a build stopped half-way (or read with --partial) covers the most filings.
    files = sorted(pages, key=lambda p: (pages[p], p.name))
    return files if count is None else files[:count]


def normalise(text: str) -> str:
    """Lowercase, NFKC, straight quotes, no spaces, commas or dollar signs: '$ 1,234' == '$1234'."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    text = text.replace("\u201d", '"').replace("\u2014", "-").replace("\u2013", "-")
    return re.sub(r"[\s,$]+", "", text)


def code_key(files: Sequence[Path]) -> str:
    """What the Folio library depends on: the core code, the model files, the file list."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "core").rglob("*.py"))
    for folder in ("models", "tessdata"):
        sources += sorted(p for p in (ROOT / "resources" / folder).rglob("*") if p.is_file())
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    for path in files:
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def git_state() -> str:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    head = run("rev-parse", "--short", "HEAD").strip()
    dirty = run("status", "--porcelain", "--", "core", "resources").strip()
    return head + (" + uncommitted changes in core/resources" if dirty else "")


# --- Folio -----------------------------------------------------------------------------------


@dataclass
class FolioIndex:
    library: Any  # core.library.Library
    doc_ids: dict[str, int]  # file name -> document id (indexed ones)
    failures: dict[str, str]  # file name -> reason
    build_s: float | None  # None when reused from the cache
    scope: list[int] | None = None  # library-wide search over these documents (--partial)


def build_folio(files: Sequence[Path], cache: Path, key: str, rebuild: bool,
                partial: bool = False) -> FolioIndex:
    from core.library import Library
    from core.types import AddOutcome, AddStatus

    root = cache / f"folio-{key}"
    marker = root / "bench-complete.json"
    if partial:  # what a build still running (or stopped) has committed so far
        if not (root / "library.db").exists():
            sys.exit(f"No library at {root}")
        library = Library.open(root, engine())
        documents = library.documents()
        return FolioIndex(library, {Path(d.original_path).name: d.id for d in documents
                                    if d.status.value == "indexed"},
                          {Path(d.original_path).name: d.error or "failed" for d in documents
                           if d.status.value != "indexed"}, None)
    if root.exists() and rebuild:
        shutil.rmtree(root)
    # An interrupted build resumes: add() finds the filings it already holds present.
    build_s = None
    if not marker.exists():
        library = Library.open(root, engine())
        library.embedder.load()
        failures: dict[str, str] = {}
        start = time.perf_counter()

        def on_outcome(outcome: AddOutcome) -> None:
            name = Path(outcome.path).name
            print(f"  [{time.perf_counter() - start:7.1f} s] {name}: {outcome.status.value}, "
                  f"{outcome.passages} passages {outcome.reason or ''}", flush=True)
            if outcome.status is AddStatus.FAILED:
                failures[name] = outcome.reason or "failed"

        library.add(list(files), on_outcome=on_outcome)
        build_s = time.perf_counter() - start
        marker.write_text(json.dumps({"failures": failures, "seconds": build_s,
                                      "commit": git_state()}), encoding="utf-8")
    else:
        library = Library.open(root, engine())
    recorded = json.loads(marker.read_text(encoding="utf-8"))
    doc_ids = {Path(d.original_path).name: d.id for d in library.documents()
               if d.status.value == "indexed"}
    return FolioIndex(library, doc_ids, recorded["failures"], build_s)


def folio_pages(index: FolioIndex, question: str, document: str | None,
                first_only: bool = False) -> list[PageKey]:
    if document is not None and document not in index.doc_ids:
        return []
    scope = index.scope if document is None else [index.doc_ids[document]]
    names = {v: k for k, v in index.doc_ids.items()}
    hits = index.library.search(question, k=50, scope=scope).hits
    pages: list[PageKey] = []
    for hit in hits:
        last = hit.page if first_only else hit.page_end
        for page in range(hit.page, last + 1):
            key = (names[hit.document_id], page)
            if key not in pages:
                pages.append(key)
    return pages


# --- the naive baseline ----------------------------------------------------------------------

TOKEN = re.compile(r"[a-z0-9]+")


def _stemmer() -> Callable[[list[str]], list[str]]:
    import py_rust_stemmers  # fastembed's dependency: Snowball (Porter2) English

    stemmer = py_rust_stemmers.SnowballStemmer("english")
    return lambda words: list(stemmer.stem_words(words))


def tokens(text: str, stem: Callable[[list[str]], list[str]]) -> list[str]:
    return stem(TOKEN.findall(text.lower()))


class BM25:
    """Okapi BM25 over a fixed list of texts, scored with numpy from postings."""

    def __init__(self, texts: Sequence[str], k1: float = BM25_K1, b: float = BM25_B) -> None:
        self.stem = _stemmer()
        self.k1, self.b = k1, b
        lengths = np.zeros(len(texts), dtype=np.float32)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, text in enumerate(texts):
            counts = Counter(tokens(text, self.stem))
            lengths[i] = sum(counts.values())
            for term, tf in counts.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self.size = len(texts)
        self.norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1.0))
        self.postings = {t: (np.asarray(ids), np.asarray(tfs, dtype=np.float32))
                         for t, (ids, tfs) in postings.items()}

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        out = np.zeros(self.size, dtype=np.float32)
        for term in set(tokens(query, self.stem)):
            if term not in self.postings:
                continue
            ids, tfs = self.postings[term]
            idf = math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5))
            out[ids] += idf * tfs * (self.k1 + 1) / (tfs + self.norm[ids])
        return out


@dataclass
class Baseline:
    chunks: list[PageKey]  # where each chunk comes from
    bm25: BM25
    vectors: npt.NDArray[np.float32]
    embedder: Any  # core.embedding.Embedder
    rows_of: dict[str, npt.NDArray[np.intp]]  # file name -> its chunk indexes


def page_chunks(path: Path) -> list[tuple[int, str]]:
    import pymupdf

    out = []
    with pymupdf.open(path) as doc:
        for number, page in enumerate(doc, 1):
            text = page.get_text()
            for start in range(0, len(text), CHUNK_CHARS):
                piece = text[start:start + CHUNK_CHARS]
                if piece.strip():
                    out.append((number, piece))
    return out


def baseline_file(folder: Path, path: Path, model_key: bytes) -> Path:
    key = hashlib.sha256(path.read_bytes() + model_key + f"{CHUNK_CHARS}".encode())
    return folder / f"{path.stem}-{key.hexdigest()[:16]}.npz"


def model_digest() -> bytes:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "resources" / "models").rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.digest()


def build_baseline(files: Sequence[Path], cache: Path, rebuild: bool) -> Baseline:
    from core.embedding import BUNDLED_MODEL

    embedder = engine().embedder(BUNDLED_MODEL)  # what Library.embedder gives a new library
    model_key = model_digest()
    folder = cache / "baseline"
    folder.mkdir(parents=True, exist_ok=True)
    chunks: list[PageKey] = []
    texts: list[str] = []
    vectors: list[npt.NDArray[np.float32]] = []
    rows_of: dict[str, npt.NDArray[np.intp]] = {}
    for path in files:
        stored = baseline_file(folder, path, model_key)
        pieces = page_chunks(path)
        if stored.exists() and not rebuild:
            matrix = np.load(stored)["vectors"]
        else:
            start = time.perf_counter()
            embedded = embedder.embed_passages([text for _, text in pieces])
            assert embedded is not None
            matrix = embedded
            np.savez(stored, vectors=matrix)
            print(f"  baseline: {path.name}: {len(pieces)} chunks embedded in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        rows_of[path.name] = np.arange(len(chunks), len(chunks) + len(pieces))
        chunks += [(path.name, page) for page, _ in pieces]
        texts += [text for _, text in pieces]
        vectors.append(matrix)
    return Baseline(chunks, BM25(texts), np.concatenate(vectors), embedder, rows_of)


def baseline_pages(base: Baseline, question: str, document: str | None) -> list[PageKey]:
    rows = (np.arange(len(base.chunks)) if document is None
            else base.rows_of.get(document, np.arange(0)))
    keyword = base.bm25.scores(question)[rows]
    semantic = base.vectors[rows] @ base.embedder.embed_query(question)
    by_keyword = np.argsort(-keyword, kind="stable")[:DEPTH]
    by_keyword = by_keyword[keyword[by_keyword] > 0]  # a chunk without a query word is no hit
    fused: dict[int, float] = {}
    for order in (by_keyword, np.argsort(-semantic, kind="stable")[:DEPTH]):
        for rank, row in enumerate(order, 1):
            chunk = int(rows[row])
            fused[chunk] = fused.get(chunk, 0.0) + 1.0 / (RRF_K + rank)
    pages: list[PageKey] = []
    for chunk in sorted(fused, key=lambda c: -fused[c]):
        if base.chunks[chunk] not in pages:
            pages.append(base.chunks[chunk])
    return pages


# --- scoring ---------------------------------------------------------------------------------


def score(ranked: list[PageKey], gold: set[PageKey]) -> tuple[float, float, float]:
    first = next((rank for rank, key in enumerate(ranked[:MRR_CUTOFF], 1) if key in gold), None)
    if first is None:
        return 0.0, 0.0, 0.0
    return float(first == 1), float(first <= 5), 1.0 / first


def mean(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    if not rows:
        return math.nan, math.nan, math.nan
    return (sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows),
            sum(r[2] for r in rows) / len(rows))


def print_table(title: str, results: dict[str, dict[str, list[tuple[float, float, float]]]],
                subset: Callable[[int], bool], count: int) -> None:
    print(f"\n{title} ({count} questions)\n")
    print("| system | within doc hit@1 | hit@5 | MRR@10 | library hit@1 | hit@5 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    for system, scopes in results.items():
        cells = []
        for scope in ("doc", "library"):
            chosen = [r for i, r in enumerate(scopes[scope]) if subset(i)]
            cells += [f"{v:.2f}" for v in mean(chosen)]
        print(f"| {system} | " + " | ".join(cells) + " |")


# --- why Folio misses ------------------------------------------------------------------------


def answer_passages(library: Any, doc_id: int, answer: str) -> list[tuple[Any, ...]]:
    wanted = normalise(answer)
    rows = library.db.execute(
        "SELECT id, page_start, page_end, heading_path, text FROM passages "
        "WHERE document_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
    return [row for row in rows if wanted in normalise(row[4])]


def garbled(text: str) -> list[str]:
    signs = []
    if "<br>" in text:
        signs.append("<br> in a cell")
    if re.search(r"\.{4,}|(?:\. ){4,}", text):
        signs.append("dot leaders")
    if re.search(r"[a-z][A-Z][a-z]+[A-Z][a-z]+[A-Z]", text):
        signs.append("words run together")
    if re.search(r"\|[^|\n]*\d[\d,.]*\s*(?:<br>|\s)\s*\$?\s*\(?\d[\d,.]*\)?\s*(?:<br>|\s)"
                 r"\s*\$?\s*\(?\d[\d,.]*[^|\n]*\|", text):
        signs.append("several numbers in one cell")
    return signs


def passage_census(library: Any, doc_ids: Sequence[int]) -> str:
    """How common each suspected cause is among all the passages of these documents."""
    rows = library.db.execute(
        "SELECT heading_path, text, page_start, page_end FROM passages WHERE document_id IN "
        f"({','.join(str(int(d)) for d in doc_ids) or 'NULL'})").fetchall()
    if not rows:
        return "no passages"
    tables = [r for r in rows if r[1].lstrip().startswith("|")]
    banner = sum(1 for r in rows if r[0].upper().startswith(COVER_BANNER))
    spans = sum(1 for r in rows if r[3] > r[2])
    bad = sum(1 for r in tables if garbled(r[1]))
    return (f"{len(rows)} passages: {banner / len(rows):.0%} under the cover banner heading, "
            f"{spans / len(rows):.0%} span two or more pages, {len(tables)} tables of which "
            f"{bad / max(len(tables), 1):.0%} look garbled (<br>, dot leaders, run-together "
            f"words or several numbers in a cell)")


def explain_misses(index: FolioIndex, questions: list[dict[str, Any]],
                   doc_scores: list[tuple[float, float, float]], out: Path) -> Counter[str]:
    causes: Counter[str] = Counter()
    lines: list[str] = []
    for question, result in zip(questions, doc_scores, strict=True):
        if result[1]:
            continue
        name = question["document"]
        lines.append(f"## {question['id']} [{question['kind']}] {question['question']}")
        lines.append(f"   {name} pages {question['pages']}, answer {question['answer']!r}")
        if name not in index.doc_ids:
            lines.append("   the document failed to index")
            causes["document not indexed"] += 1
            continue
        top = folio_pages(index, question["question"], name)[:5]
        lines.append(f"   Folio's first pages: {[p for _, p in top]}")
        holders = answer_passages(index.library, index.doc_ids[name], question["answer"])
        gold = set(question["pages"])
        on_gold = [h for h in holders if gold & set(range(h[1], h[2] + 1))]
        if not on_gold:
            causes["no passage on the page holds the answer (text lost or mangled)"] += 1
            lines.append(f"   no passage on {sorted(gold)} holds the answer text "
                         f"({len(holders)} elsewhere)")
            continue
        hits = index.library.search(question["question"], k=DEPTH,
                                    scope=[index.doc_ids[name]]).hits
        ranks = {hit.passage_id: rank for rank, hit in enumerate(hits, 1)}
        for pid, start, end, heading, text in on_gold[:2]:
            signs = garbled(text) if text.lstrip().startswith("|") else []
            rank = ranks.get(pid)
            lines.append(f"   passage {pid} pages {start}-{end}, rank {rank}, "
                         f"{'table' if text.lstrip().startswith('|') else 'text'}"
                         f"{', ' + ', '.join(signs) if signs else ''}")
            lines.append(f"   heading: {heading[:160]}")
            lines.append("   " + text[:400].replace("\n", "\n   "))
        pid, start, end, heading, text = on_gold[0]
        if text.lstrip().startswith("|") and garbled(text):
            causes["answer in a garbled table"] += 1
        elif text.lstrip().startswith("|"):
            causes["answer in a clean-looking table, ranked low"] += 1
        else:
            causes["answer in a text passage, ranked low"] += 1
        if heading.upper().startswith(COVER_BANNER):
            causes["(also) cover banner heads the passage"] += 1
        if end > start:
            causes["(also) passage straddles pages"] += 1
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return causes


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, help="only the N smallest filings")
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached indexes")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--misses", action="store_true", help="write why Folio misses")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--baseline-only", action="store_true",
                        help="only embed the baseline's chunks (alongside a Folio build)")
    parser.add_argument("--partial", action="store_true",
                        help="evaluate the filings the library under --key holds so far and "
                        "the baseline has embedded (a build still running)")
    parser.add_argument("--key", help="use the library cached under this key, even if the code "
                        "has changed since (it is said so)")
    args = parser.parse_args()
    if not FILINGS.is_dir():
        sys.exit(f"No filings at {FILINGS}")
    files = select_files(args.filings)
    names = {p.name for p in files}
    questions = [q for q in load_questions() if q["document"] in names]
    key = args.key or code_key(files)
    commit = git_state()
    if args.key and args.key != code_key(files):
        print(f"NOTE: the library under key {args.key} was built from other code than today's")
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"{len(files)} filings, {len(questions)} questions; commit {commit}; key {key}; "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}", flush=True)
    if args.baseline_only:
        build_baseline(files, args.cache, args.rebuild)
        return
    index = build_folio(files, args.cache, key, args.rebuild, args.partial)
    if args.partial:
        model_key = model_digest()
        done = set(index.doc_ids) | set(index.failures)
        files = [p for p in files if p.name in done
                 and baseline_file(args.cache / "baseline", p, model_key).exists()]
        names = {p.name for p in files}
        questions = [q for q in questions if q["document"] in names]
        index.scope = [index.doc_ids[n] for n in sorted(names) if n in index.doc_ids]
        index.failures = {n: r for n, r in index.failures.items() if n in names}
        print(f"Partial: {len(files)} filings indexed and embedded so far, "
              f"{len(questions)} questions", flush=True)
    if index.build_s is not None:
        print(f"Folio library built in {index.build_s:.0f} s", flush=True)
    if not args.key and code_key(files) != key:
        print("WARNING: core/ or resources/ changed during the run; the library may mix them")
    base = build_baseline(files, args.cache, args.rebuild and not args.partial)
    if args.build_only or not questions:
        return
    systems: dict[str, Callable[[str, str | None], list[PageKey]]] = {
        "Folio": lambda q, d: folio_pages(index, q, d),
        "Folio, first page only": lambda q, d: folio_pages(index, q, d, first_only=True),
        "baseline (page chunks, BM25 + MiniLM, RRF)": lambda q, d: baseline_pages(base, q, d),
    }
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    for system, rank in systems.items():
        results[system] = {"doc": [], "library": []}
        for question in questions:
            gold = {(question["document"], page) for page in question["pages"]}
            results[system]["doc"].append(score(rank(question["question"],
                                                     question["document"]), gold))
            # The same fact in another filing (the 10-K inside FedEx's annual report) counts
            # across the library.
            gold |= {(also["document"], page) for also in question.get("also", [])
                     for page in also["pages"] if also["document"] in names}
            results[system]["library"].append(score(rank(question["question"], None), gold))
    print(f"\nFilings: {len(files)}; failed to index in Folio: {len(index.failures)}")
    for name, reason in index.failures.items():
        print(f"  {name}: {reason}")
    print_table("All questions", results, lambda i: True, len(questions))
    indexed = [i for i, q in enumerate(questions) if q["document"] in index.doc_ids]
    if len(indexed) < len(questions):
        print_table("Questions on filings Folio indexed", results, lambda i: i in indexed,
                    len(indexed))
    for kind in ("table", "text"):
        chosen = {i for i, q in enumerate(questions) if q["kind"] == kind}
        print_table(f"Kind {kind}", results, lambda i, c=chosen: i in c,  # type: ignore[misc]
                    len(chosen))
    load = os.getloadavg()
    print(f"\ncommit {commit}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.misses:
        out = args.cache / f"misses-{key}.txt"
        causes = explain_misses(index, questions, results["Folio"]["doc"], out)
        print("\nFolio's misses across the library (hit@5): the first five pages found")
        for question, result in zip(questions, results["Folio"]["library"], strict=True):
            if not result[1] and question["document"] in index.doc_ids:
                found = folio_pages(index, question["question"], None)[:5]
                print(f"  {question['id']} (on {question['pages']}): "
                      + ", ".join(f"{name.split('_')[0]} p{page}" for name, page in found))
        print("\nFolio's passages: " + passage_census(index.library, list(index.doc_ids.values())
                                                     if index.scope is None else index.scope))
        print(f"\nWhy Folio misses within the document (hit@5), details in {out}:")
        for cause, count in causes.most_common():
            print(f"  {count:3d}  {cause}")


if __name__ == "__main__":
    main()
