"""Tunes and compares ranking choices on a BEIR dataset: FTS5 tokenizer, column weights, fusion.

Run: .venv/bin/python tests/bench/tune_search.py ../shared/data/scifact
Choices are picked on the train split and reported on the test split, so the test figures
are not fitted to the test queries. Uses the library that `folio eval` builds (and caches).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core import evaluation, querytext
from core import search as search_module
from core.library import Library

DEPTH = 200
TOKENIZERS = {"unicode61": "unicode61 remove_diacritics 2",
              "porter": "porter unicode61 remove_diacritics 2"}


def build_fts(library: Library, name: str, tokenizer: str) -> None:
    db = library.db
    db.execute(f"DROP TABLE IF EXISTS temp.{name}")
    db.execute(f"CREATE VIRTUAL TABLE temp.{name} USING fts5(context, text, tokenize='{tokenizer}')")
    db.execute(f"INSERT INTO temp.{name}(rowid, context, text) SELECT id, context, text FROM passages")


def keyword_lists(library: Library, table: str, queries: dict[str, str],
                  weights: tuple[float, float], stop: bool,
                  scores: dict[str, list[float]] | None = None) -> dict[str, list[int]]:
    out = {}
    for qid, text in queries.items():
        parsed = querytext.parse(text) if stop else querytext.KeywordQuery(
            tuple(dict.fromkeys(w.lower() for w in querytext._TERM.findall(text))), ())
        expression = parsed.match_expression(require_phrases=False)
        if expression is None:
            out[qid] = []
            continue
        rows = library.db.execute(
            f"SELECT rowid, bm25({table}, ?, ?) AS s FROM {table} WHERE {table} MATCH ? "
            "ORDER BY s LIMIT ?", (weights[0], weights[1], expression, DEPTH)).fetchall()
        out[qid] = [int(r[0]) for r in rows]
        if scores is not None:
            scores[qid] = [-float(r[1]) for r in rows]
    return out


def semantic_lists(library: Library, queries: dict[str, str],
                   scores: dict[str, list[float]]) -> dict[str, list[int]]:
    out = {}
    for qid, text in queries.items():
        hits = search_module.semantic_ranks(library.db, library.embedder, text, DEPTH, None)
        out[qid] = [pid for pid, _ in hits]
        scores[qid] = [1.0 - dist for _, dist in hits]
    return out


def convex(k_list: list[int], k_scores: list[float], s_list: list[int], s_scores: list[float],
           alpha: float) -> list[int]:
    """Min-max normalised scores, alpha * keyword + (1 - alpha) * semantic."""
    def norm(values: list[float]) -> list[float]:
        if not values:
            return []
        low, high = min(values), max(values)
        return [(v - low) / (high - low) if high > low else 1.0 for v in values]
    fused: dict[int, float] = {}
    for pid, value in zip(k_list, norm(k_scores), strict=True):
        fused[pid] = fused.get(pid, 0.0) + alpha * value
    for pid, value in zip(s_list, norm(s_scores), strict=True):
        fused[pid] = fused.get(pid, 0.0) + (1 - alpha) * value
    return sorted(fused, key=lambda p: -fused[p])


def to_docs(passages: list[int], doc_of: dict[int, str]) -> list[str]:
    ranked: list[str] = []
    for pid in passages:
        doc = doc_of[pid]
        if doc not in ranked:
            ranked.append(doc)
    return ranked


def ndcg(lists: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    return statistics.fmean(evaluation.ndcg_at_10(lists[q], qrels[q]) for q in lists)


def rrf(k_list: list[int], s_list: list[int], k: float, wk: float, ws: float) -> list[int]:
    scores: dict[int, float] = {}
    for rank, pid in enumerate(k_list, 1):
        scores[pid] = scores.get(pid, 0.0) + wk / (k + rank)
    for rank, pid in enumerate(s_list, 1):
        scores[pid] = scores.get(pid, 0.0) + ws / (k + rank)
    return sorted(scores, key=lambda p: -scores[p])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    args = parser.parse_args()
    train = evaluation.load(args.dataset, "train")
    test = evaluation.load(args.dataset, "test")
    library = evaluation.library_for(test)
    corpus = evaluation.corpus_ids_of(library)
    doc_of = {int(pid): corpus[int(did)]
              for pid, did in library.db.execute("SELECT id, document_id FROM passages")}
    for name, tokenizer in TOKENIZERS.items():
        build_fts(library, f"fts_{name}", tokenizer)
    sem_scores: dict[str, list[float]] = {}
    sem = {split: semantic_lists(library, ds.queries, sem_scores)
           for split, ds in (("train", train), ("test", test))}
    kw_scores: dict[str, list[float]] = {}
    datasets = {"train": train, "test": test}

    def score(split: str, lists: dict[str, list[int]]) -> float:
        return ndcg({q: to_docs(p, doc_of) for q, p in lists.items()}, datasets[split].qrels)

    print("| keyword configuration | train nDCG@10 | test nDCG@10 |")
    print("|---|---|---|")
    best: tuple[float, str, tuple[float, float], bool] | None = None
    kw: dict[tuple[str, tuple[float, float], bool, str], dict[str, list[int]]] = {}
    for name, weights, stop in itertools.product(TOKENIZERS, [(1.0, 1.0), (2.0, 1.0),
                                                              (4.0, 1.0), (0.5, 1.0)],
                                                 [True, False]):
        lists = {split: keyword_lists(library, f"fts_{name}", ds.queries, weights, stop,
                                      kw_scores if (name, weights, stop) == ("porter", (2.0, 1.0),
                                                                             True) else None)
                 for split, ds in datasets.items()}
        for split in datasets:
            kw[(name, weights, stop, split)] = lists[split]
        tr, te = score("train", lists["train"]), score("test", lists["test"])
        print(f"| {name}, title:text {weights[0]}:{weights[1]}, stopwords "
              f"{'dropped' if stop else 'kept'} | {tr:.4f} | {te:.4f} |")
        if best is None or tr > best[0]:
            best = (tr, name, weights, stop)
    assert best is not None
    _, name, weights, stop = best
    print(f"\nsemantic: train {score('train', sem['train']):.4f}, "
          f"test {score('test', sem['test']):.4f}")
    print(f"\nfusion over keyword = {name} {weights} stop={stop}")
    print("| rrf k | keyword weight | semantic weight | train nDCG@10 | test nDCG@10 |")
    print("|---|---|---|---|---|")
    fused_best: tuple[float, float, float, float] | None = None
    def fuse(split: str, k: float, wk: float, ws: float) -> dict[str, list[int]]:
        return ({q: rrf(kw[(name, weights, stop, split)][q], sem[split][q],
                                             k, wk, ws) for q in datasets[split].queries})
    for k, wk, ws in itertools.product([10, 20, 40, 60, 100], [0.6, 0.8, 1.0, 1.2, 1.5],
                                       [1.0]):
        tr, te = score("train", fuse("train", k, wk, ws)), score("test", fuse("test", k, wk, ws))
        if fused_best is None or tr > fused_best[0]:
            fused_best = (tr, k, wk, ws)
        if (k == 60 and wk == 1.0) or (k, wk) in ((20, 1.0), (40, 1.2)):
            print(f"| {k} | {wk} | {ws} | {tr:.4f} | {te:.4f} |")
    assert fused_best is not None
    tr, k, wk, ws = fused_best
    print(f"| **{k}** | **{wk}** | **{ws}** | **{tr:.4f}** | "
          f"**{score('test', fuse('test', k, wk, ws)):.4f}** |  (best on train)")
    print("\nconvex fusion of min-max normalised scores (keyword = porter 2:1, stopwords dropped)")
    print("| alpha (keyword share) | train nDCG@10 | test nDCG@10 |")
    print("|---|---|---|")
    for alpha in (0.2, 0.3, 0.4, 0.5, 0.6):
        row = []
        for split in ("train", "test"):
            lists = {q: convex(kw[("porter", (2.0, 1.0), True, split)][q], kw_scores[q],
                               sem[split][q], sem_scores[q], alpha)
                     for q in datasets[split].queries}
            row.append(score(split, lists))
        print(f"| {alpha} | {row[0]:.4f} | {row[1]:.4f} |")


if __name__ == "__main__":
    main()
