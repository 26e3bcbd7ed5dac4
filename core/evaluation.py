"""Retrieval evaluation on a BEIR-layout dataset: nDCG@10, Recall@10/100, MRR@10 per mode."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import apsw
import platformdirs

from core.engine import Engine
from core.library import Library
from core.search import DEFAULT_PARAMS, SearchMode, SearchParams
from core.store import queries, search_queries
from core.store.connection import connect, write_transaction
from core.store.migrations import migrate
from core.types import AddProgress

DEPTH = 100  # documents ranked per query (Recall@100)


@dataclass(frozen=True)
class Dataset:
    name: str
    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True)
class ModeScores:
    mode: str
    ndcg_at_10: float
    ndcg_at_10_linear: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p50_ms: float
    p95_ms: float
    queries: int


def load(directory: Path, split: str = "test") -> Dataset:
    """Read corpus, queries and qrels/SPLIT.tsv; only judged queries of the split are kept."""
    qrels: dict[str, dict[str, int]] = {}
    with (directory / "qrels" / f"{split}.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
                continue  # the header
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries: dict[str, str] = {}
    with (directory / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                queries[str(row["_id"])] = row["text"]  # only the text, never metadata
    return Dataset(directory.name, directory / "corpus.jsonl", queries, qrels)


def corpus_hash(corpus: Path) -> str:
    digest = hashlib.sha256()
    with corpus.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:16]


# What makes the passages and vectors of an evaluation library: a change to any of these files
# (readers, chunking, ingestion, embedding, the schema and its tokenizer) builds a new library
# instead of scoring the new code on passages made by the old. MARKDOWN_LAYOUT is how
# library_for writes a corpus row as a file: change it with that code.
_BUILD_SOURCES = ("core/readers", "core/chunking.py", "core/ingest.py", "core/embedding.py",
                  "core/sandbox.py", "core/store/migrations.py", "core/store/queries.py",
                  "core/store/vectors.py",
                  "core/__init__.py")
MARKDOWN_LAYOUT = "1: '# title', blank line, text"


def build_key(dataset: Dataset) -> str:
    """The corpus, Folio's version, the bundled model and the source of everything that turns
    the corpus into passages and vectors, hashed."""
    import core
    from core.embedding import BUNDLED_MODEL

    digest = hashlib.sha256()
    digest.update(f"{corpus_hash(dataset.corpus)}|{core.__version__}|{BUNDLED_MODEL}|"
                  f"{MARKDOWN_LAYOUT}".encode())
    package = Path(core.__file__).resolve().parent.parent
    for name in _BUILD_SOURCES:
        path = package / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(package)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def library_for(dataset: Dataset, cache_root: Path | None = None,
                progress: Callable[[AddProgress], None] | None = None,
                engine: Engine | None = None) -> Library:
    """A library holding the corpus, one Markdown file per document; built once per build_key
    (corpus, code and model), so no figure is taken from passages an older Folio made."""
    root = (cache_root or Path(platformdirs.user_cache_dir("Folio", appauthor=False)) / "eval")
    root = root / f"{dataset.name}-{build_key(dataset)}"
    library = Library.open(root / "library", engine)
    marker = root / "complete"
    if marker.exists():
        return library
    docs_dir = root / "corpus"
    docs_dir.mkdir(parents=True, exist_ok=True)
    with dataset.corpus.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            path = docs_dir / f"{_safe(str(row['_id']))}.md"
            if not path.exists():
                title = " ".join(str(row.get("title") or "").split())
                body = str(row.get("text") or "")
                path.write_text(f"# {title}\n\n{body}\n" if title else body, encoding="utf-8")
    library.add([docs_dir], progress=progress)
    marker.write_text("ok", encoding="utf-8")
    return library


def _safe(doc_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else f"%{ord(c):02x}" for c in doc_id)


def _unsafe(stem: str) -> str:
    out, i = "", 0
    while i < len(stem):
        if stem[i] == "%":
            out += chr(int(stem[i + 1:i + 3], 16))
            i += 3
        else:
            out += stem[i]
            i += 1
    return out


def ndcg_at_10(ranked: Sequence[str], relevant: dict[str, int], linear: bool = False) -> float:
    """nDCG@10 with gain 2^grade - 1 (Folio's figures so far), or with the grade itself
    (linear: trec_eval's and so BEIR's published figures). The same where grades are 0/1
    (SciFact); Cranfield's grades go to 4."""
    def gain(grade: int) -> float:
        return float(grade) if linear else float(2 ** grade - 1)
    dcg = sum(gain(relevant.get(d, 0)) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(gain(g) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_10(ranked: Sequence[str], relevant: dict[str, int]) -> float:
    for i, doc in enumerate(ranked[:10]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def rank_documents(library: Library, query: str, mode: SearchMode, params: SearchParams,
                   corpus_ids: dict[int, str]) -> list[str]:
    """Corpus ids best first: each document ranked by its best passage."""
    result = library.search(query, mode=mode, k=DEPTH * 2,
                            params=SearchParams(**{**params.__dict__,
                                                   "candidates": max(params.candidates, DEPTH * 2)}))
    ranked: list[str] = []
    for hit in result.hits:
        doc = corpus_ids.get(hit.document_id)
        if doc is not None and doc not in ranked:
            ranked.append(doc)
    return ranked[:DEPTH]


def corpus_ids_of(library: Library) -> dict[int, str]:
    return {d.id: _unsafe(Path(d.original_path).stem) for d in library.documents()}


def evaluate(library: Library, dataset: Dataset, modes: Sequence[SearchMode],
             params: SearchParams = DEFAULT_PARAMS) -> list[ModeScores]:
    corpus_ids = corpus_ids_of(library)
    scores = []
    for mode in modes:
        ndcg, linear, r10, r100, mrr, times = [], [], [], [], [], []
        for qid, text in dataset.queries.items():
            start = time.perf_counter()
            ranked = rank_documents(library, text, mode, params, corpus_ids)
            times.append((time.perf_counter() - start) * 1000)
            relevant = dataset.qrels[qid]
            ndcg.append(ndcg_at_10(ranked, relevant))
            linear.append(ndcg_at_10(ranked, relevant, linear=True))
            r10.append(recall_at(ranked, relevant, 10))
            r100.append(recall_at(ranked, relevant, 100))
            mrr.append(mrr_at_10(ranked, relevant))
        times.sort()
        scores.append(ModeScores(
            mode.value, statistics.fmean(ndcg), statistics.fmean(linear), statistics.fmean(r10),
            statistics.fmean(r100), statistics.fmean(mrr), times[len(times) // 2],
            times[min(len(times) - 1, int(0.95 * len(times)))], len(times)))
    return scores


def keyword_only_db(dataset: Dataset, path: Path) -> apsw.Connection:
    """A library file of the corpus for keyword search alone, built in seconds: one passage per
    document (its title as the context column, as a Markdown heading would give), no vectors.
    For the rank-safety test and quick keyword tuning; figures come from library_for."""
    db = connect(path)
    migrate(db)
    if queries.count_rows(db, "passages"):
        return db
    with write_transaction(db), dataset.corpus.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            title = " ".join(str(row.get("title") or "").split())
            doc_id = queries.insert_document(
                db, title=title, doc_type="markdown", original_path=f"/{_safe(str(row['_id']))}.md",
                stored_path=None, sha256=None, size_bytes=0, pages=1, status="indexed",
                error=None, error_kind=None, notes=None)
            search_queries.insert_bare_passage(db, doc_id, str(row.get("text") or ""), title)
    return db
