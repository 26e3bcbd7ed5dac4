"""Each side of hybrid search measured against a document-level pipeline, on both development
sets: how Folio's passages, passage-to-document ranking and embedded text compare with one
MiniLM vector per document (title + text, cut at the model's 256 tokens, as the peers' BEIR
pipeline embeds) and with a flat BM25 over whole documents.

Run: .venv/bin/python tests/bench/search_sides.py ../shared/data/scifact ../shared/data/cranfield \
        [--library NAME=DIR]

Prints: how many passages a document gets and how long they are; Folio's meaning side (each
document ranked by its best passage) against document vectors embedded here with the bundled
embedder (core/embedding.py) and against other passage-to-document aggregations (the first
passage, the mean of a document's passage vectors); Folio's keyword side against BM25 over one
passage per document; and the peers' pipeline (document BM25 + document MiniLM fused by RRF,
k 60) against Folio's hybrid, each with both gains (Folio's 2^grade - 1 and trec's linear), and
the per-query difference from Folio's figure with its standard error. Document vectors are
cached in ~/.cache/Folio/sides/ (keyed by the corpus hash and the model).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import numpy.typing as npt
import platformdirs

from core import evaluation, querytext
from core.embedding import BUNDLED_MODEL, Embedder
from core.indexes import LibraryIndexes
from core.keyword_index import Bm25
from core.library import Library
from core.search import DEFAULT_PARAMS, Searcher, SearchMode, SearchParams
from core.store import vectors as vector_store

DEPTH = 1000
Floats = npt.NDArray[np.float32]
Ranking = dict[str, list[str]]  # query id -> corpus ids, best first


def cache_dir() -> Path:
    path = Path(platformdirs.user_cache_dir("Folio", appauthor=False)) / "sides"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_vectors(name: str, texts: list[str], embed: Callable[[list[str]], Floats]) -> Floats:
    path = cache_dir() / f"{name}.npy"
    if path.exists():
        found = np.load(path)
        if len(found) == len(texts):
            return np.asarray(found, dtype=np.float32)
    print(f"  embedding {len(texts)} texts for {name}", file=sys.stderr, flush=True)
    made = embed(texts)
    np.save(path, made)
    return made


def normalised(matrix: npt.NDArray[np.floating]) -> Floats:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.asarray(m / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def per_query(ranking: Ranking, dataset: evaluation.Dataset, linear: bool) -> npt.NDArray[
        np.float64]:
    return np.asarray([evaluation.ndcg_at_10(ranking.get(q, []), dataset.qrels[q], linear)
                       for q in dataset.queries])


def recall(ranking: Ranking, dataset: evaluation.Dataset, k: int = 100) -> float:
    return float(np.mean([evaluation.recall_at(ranking.get(q, []), dataset.qrels[q], k)
                          for q in dataset.queries]))


def documents_of(order: list[int], doc_of: dict[int, str]) -> list[str]:
    return list(dict.fromkeys(doc_of[p] for p in order))[:DEPTH]


def rank_by(scores: Floats, names: list[str], depth: int = DEPTH) -> list[str]:
    top = np.argsort(-scores, kind="stable")[:depth]
    return [names[i] for i in top]


def rrf(lists: list[list[str]], k: float = 60.0) -> list[str]:
    fused: dict[str, float] = {}
    for ranked in lists:
        for rank, doc in enumerate(ranked, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda d: -fused[d])[:DEPTH]


class SideSet:
    def __init__(self, directory: Path, library: Library, embedder: Embedder,
                 work: Path) -> None:
        self.name = directory.name
        splits = {s.stem for s in (directory / "qrels").glob("*.tsv")}
        self.splits = {"test": evaluation.load(directory, "test")}
        if "train" in splits:
            self.splits["train"] = evaluation.load(directory, "train")
        self.library = library
        db = library.db
        documents = {int(d): evaluation._unsafe(Path(p).stem)
                     for d, p in db.execute("SELECT id, original_path FROM documents")}
        rows = [(int(p), int(d), int(t)) for p, d, t in db.execute(
            "SELECT id, document_id, token_count FROM passages ORDER BY id")]
        self.doc_of = {p: documents[d] for p, d, _ in rows}
        self.tokens = np.asarray([t for *_, t in rows])
        loaded = vector_store.every(db, library.embedding_dim)
        self.passage_ids = loaded.ids
        stored = loaded.floats if loaded.floats is not None else loaded.int8
        self.passage_vectors = normalised(stored.astype(np.float32))
        self.passage_doc = [self.doc_of[int(p)] for p in loaded.ids]
        corpus = [json.loads(line) for line in
                  (directory / "corpus.jsonl").open(encoding="utf-8")]
        self.corpus = corpus
        self.doc_names = [str(r["_id"]) for r in corpus]
        corpus_key = evaluation.corpus_hash(directory / "corpus.jsonl")
        key = f"{self.name}-{corpus_key}-{BUNDLED_MODEL.replace('/', '_')}"

        def embed(texts: list[str]) -> Floats:
            made = embedder.embed_passages(texts)
            assert made is not None
            return made
        # BEIR's sentence-transformers pipeline: title + " " + text, cut at 256 tokens.
        self.doc_vectors = normalised(cached_vectors(
            f"{key}-title-text", [f"{r.get('title') or ''} {r.get('text') or ''}".strip()
                                  for r in corpus], embed))
        self.doc_vectors_text = normalised(cached_vectors(
            f"{key}-text", [str(r.get("text") or "") for r in corpus], embed))
        queries: dict[str, str] = {}
        for dataset in self.splits.values():
            queries.update(dataset.queries)
        qids = sorted(queries)
        qvec = cached_vectors(f"{key}-queries-{len(qids)}", [queries[q] for q in qids],
                              lambda texts: np.stack([embedder.embed_query(t) for t in texts]))
        self.query_vectors = {q: qvec[i] for i, q in enumerate(qids)}
        self.queries = queries
        # one passage per document (its title as the context column), for document BM25
        self.bare = Searcher(evaluation.keyword_only_db(self.splits["test"], work / f"{self.name}.db"),
                             LibraryIndexes(), None)
        self.bare_doc_of = {int(p): evaluation._unsafe(Path(path).stem) for p, path in
                            self.bare.db.execute("SELECT p.id, d.original_path FROM passages p "
                                                 "JOIN documents d ON d.id = p.document_id")}

    # --- meaning side ---------------------------------------------------------------------

    def passage_max(self) -> Ranking:
        out = {}
        for q, v in self.query_vectors.items():
            sims = self.passage_vectors @ v
            order = np.argsort(-sims, kind="stable")[:DEPTH * 4]
            out[q] = list(dict.fromkeys(self.passage_doc[i] for i in order))[:DEPTH]
        return out

    def passage_aggregate(self, how: str) -> Ranking:
        names = sorted(set(self.passage_doc))
        index = {n: i for i, n in enumerate(names)}
        member = np.asarray([index[d] for d in self.passage_doc])
        if how == "mean-vector":
            summed = np.zeros((len(names), self.passage_vectors.shape[1]), dtype=np.float32)
            np.add.at(summed, member, self.passage_vectors)
            matrix = normalised(summed)
            return {q: rank_by(matrix @ v, names) for q, v in self.query_vectors.items()}
        if how == "first":
            first = np.zeros(len(names), dtype=np.int64) - 1
            for row in range(len(member) - 1, -1, -1):  # ids ascend with ordinals
                first[member[row]] = row
            matrix = self.passage_vectors[first]
            return {q: rank_by(matrix @ v, names) for q, v in self.query_vectors.items()}
        raise ValueError(how)

    def document_vectors(self, which: str = "title-text") -> Ranking:
        matrix = self.doc_vectors if which == "title-text" else self.doc_vectors_text
        return {q: rank_by(matrix @ v, self.doc_names) for q, v in self.query_vectors.items()}

    def folio(self, mode: SearchMode, params: SearchParams = DEFAULT_PARAMS) -> Ranking:
        corpus_ids = evaluation.corpus_ids_of(self.library)
        return {q: evaluation.rank_documents(self.library, t, mode, params, corpus_ids)
                for q, t in self.splits["test"].queries.items()}

    # --- keyword side ---------------------------------------------------------------------

    def document_bm25(self, params: SearchParams) -> Ranking:
        bm25 = Bm25(params.bm25_k1, params.bm25_b, params.context_weight, params.text_weight)
        stop = querytext.STOPWORD_LISTS[params.stopwords]
        out = {}
        with self.bare.indexes.keywords(self.bare.db) as index:
            for q, text in self.queries.items():
                terms = index.query_terms(querytext.parse(text, stop).scored_words())
                out[q] = [self.bare_doc_of[p] for p, _ in
                          index.top(terms, DEPTH, bm25, params.query_repeats)]
        return out


def table(sets: list[SideSet], rows: list[tuple[str, dict[str, Ranking]]],
          base: str) -> None:
    """nDCG@10 (Folio gain / trec) and Recall@100 of each row on SciFact test and Cranfield,
    with the per-query difference from row `base` (mean ± standard error)."""
    base_rows = dict(rows)[base]
    print(f"\n(difference: per query, from '{base}')")
    print("| ranking | SciFact test nDCG@10 | trec | R@100 | difference | Cranfield nDCG@10 | "
          "trec | R@100 | difference |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, by_set in rows:
        cells = []
        for s in sets:
            dataset = s.splits["test"]
            mine = per_query(by_set[s.name], dataset, False)
            theirs = per_query(base_rows[s.name], dataset, False)
            diff = mine - theirs
            cells += [f"{mine.mean():.4f}", f"{per_query(by_set[s.name], dataset, True).mean():.4f}",
                      f"{recall(by_set[s.name], dataset):.4f}",
                      f"{diff.mean():+.4f} ± {diff.std(ddof=1) / math.sqrt(len(diff)):.4f}"]
        print(f"| {label} | {' | '.join(cells)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scifact", type=Path)
    parser.add_argument("cranfield", type=Path)
    parser.add_argument("--library", action="append", default=[], metavar="NAME=DIR")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.library)
    embedder = Embedder()
    with tempfile.TemporaryDirectory(prefix="folio-sides-") as work:
        sets = []
        for directory in (args.scifact, args.cranfield):
            test = evaluation.load(directory, "test")
            library = (Library.open(Path(given[test.name])) if test.name in given
                       else evaluation.library_for(test))
            sets.append(SideSet(directory, library, embedder, Path(work)))

        print("\n| set | documents | passages | documents in 1 / 2 / 3+ passages | passage "
              "tokens mean / p90 / max | documents over 254 tokens (title + text) |")
        print("|---|---|---|---|---|---|")
        for s in sets:
            counts: dict[str, int] = {}
            for doc in s.doc_of.values():
                counts[doc] = counts.get(doc, 0) + 1
            per = np.asarray(list(counts.values()))
            long = np.asarray(embedder.count_tokens_batch(
                [f"{r.get('title') or ''} {r.get('text') or ''}" for r in s.corpus])) > 254
            print(f"| {s.name} | {len(counts)} | {len(s.doc_of)} | {(per == 1).sum()} / "
                  f"{(per == 2).sum()} / {(per >= 3).sum()} | {s.tokens.mean():.0f} / "
                  f"{np.percentile(s.tokens, 90):.0f} / {s.tokens.max()} | "
                  f"{long.sum()} ({long.mean():.0%}) |")

        def each(make: Callable[[SideSet], Ranking]) -> dict[str, Ranking]:
            return {s.name: make(s) for s in sets}

        folio_semantic = each(lambda s: s.folio(SearchMode.SEMANTIC))
        folio_keyword = each(lambda s: s.folio(SearchMode.KEYWORD))
        folio_hybrid = each(lambda s: s.folio(SearchMode.HYBRID))
        doc_dense = each(lambda s: s.document_vectors("title-text"))
        lucene = replace(DEFAULT_PARAMS, bm25_k1=0.9, bm25_b=0.4, context_weight=1.0,
                         stopwords="lucene", query_repeats=True)
        doc_bm25_lucene = each(lambda s: s.document_bm25(lucene))
        doc_bm25_folio = each(lambda s: s.document_bm25(DEFAULT_PARAMS))
        table(sets, [
            ("Folio semantic (passages, document = best passage)", folio_semantic),
            ("passage vectors read from the library, best passage (exact)",
             each(lambda s: s.passage_max())),
            ("first passage of each document only", each(lambda s: s.passage_aggregate("first"))),
            ("mean of a document's passage vectors", each(
                lambda s: s.passage_aggregate("mean-vector"))),
            ("one vector per document: title + text, cut at 256 tokens (BEIR)", doc_dense),
            ("one vector per document: text only, cut at 256 tokens",
             each(lambda s: s.document_vectors("text"))),
        ], "Folio semantic (passages, document = best passage)")
        table(sets, [
            ("Folio keyword (passages)", folio_keyword),
            ("Folio BM25 over one passage per document", doc_bm25_folio),
            ("Lucene-like BM25 (k1 0.9, b 0.4, flat, Lucene stopwords, repeats) per document",
             doc_bm25_lucene),
        ], "Folio keyword (passages)")
        def fused(a: dict[str, Ranking], b: dict[str, Ranking]) -> dict[str, Ranking]:
            return {s.name: {q: rrf([a[s.name][q], b[s.name][q]])
                             for q in s.splits["test"].queries} for s in sets}

        table(sets, [
            ("Folio hybrid", folio_hybrid),
            ("peers: Lucene-like document BM25 + document MiniLM, RRF k 60",
             fused(doc_bm25_lucene, doc_dense)),
            ("Folio document BM25 + document MiniLM, RRF k 60", fused(doc_bm25_folio, doc_dense)),
            ("Folio keyword + Folio semantic, RRF k 60 (document lists)",
             fused(folio_keyword, folio_semantic)),
            ("Folio keyword + document MiniLM, RRF k 60", fused(folio_keyword, doc_dense)),
            ("Folio document BM25 + Folio semantic, RRF k 60", fused(doc_bm25_folio,
                                                                      folio_semantic)),
        ], "Folio hybrid")
        for s in sets:
            s.library.close()


if __name__ == "__main__":
    main()
