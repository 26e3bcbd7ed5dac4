"""Chooses ranking knobs on two development sets at once: BM25 (k1, b, the title/heading weight,
stopwords, repeated words), then fusion (convex share, RRF k and weights).

Run: .venv/bin/python tests/bench/tune_search.py ../shared/data/scifact ../shared/data/cranfield
     [--keyword-only]  (keyword knobs only, on one-passage-per-document libraries built in
                        seconds, no embedding)
     [--library NAME=DIR]  (use an existing library folder for set NAME)
     [--fusion-only]  (fusion knobs over the shipped BM25 knobs, without the 216-setting grid)
     [--fusion-grid]  (with --fusion-only: fusions core/search.py does not have, measured on the
                       same lists: z-score or top-score scaling, deeper statistics, a keyword
                       share by query length, documents' best passages; docs/search-quality.md)
     [--feedback]  (pseudo-relevance feedback: RM3 keyword expansion and Rocchio query vectors
                    from the top k passages, core/search.py's feedback_round, small grid;
                    --feedback-k 3,5,10 --feedback-shares 0.2,0.35,0.5 --feedback-betas
                    0.3,0.6,1.0 --feedback-from fused,own choose it, --hybrid-only skips the
                    single-mode tables)
     [--fusion-feedback [ROWS]]  (FUSION_FEEDBACK's fusions, z-score among them, with the
                    feedback round, through core/search.py as a hybrid search runs them; ROWS
                    e.g. 0,1,2 picks some; docs/search-quality.md)

A choice is made on SciFact's train split and Cranfield (which has one split) together: the
objective is the mean of their nDCG@10, and a choice is only taken if neither set loses more
than NOISE against its own best; SciFact test is reported, never used to choose. Uses the
libraries `folio eval` / tests/bench/quality.py build (evaluation.library_for).
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import apsw
import numpy as np
import numpy.typing as npt

from core import evaluation, querytext
from core import search as search_module
from core.indexes import LibraryIndexes
from core.keyword_index import Bm25
from core.library import Library
from core.search import DEFAULT_PARAMS, Searcher, SearchParams

DEPTH = 200
CHOOSING_SETS = 2  # figures are [SciFact train, Cranfield, SciFact test (reported only)]
NOISE = 0.005
SHOWN = 15  # nDCG@10; SciFact's split-to-split differences are of this size

Lists = dict[str, list[int]]  # query id -> passage ids, best first


class DevSet:
    """One development collection: its library, its choosing split and reporting splits."""

    def __init__(self, directory: Path, db: apsw.Connection, library: Library | None) -> None:
        self.name = directory.name
        # One searcher per set, so its indexes are built once for every setting tried.
        self.searcher = (library.searcher() if library is not None
                         else Searcher(db, LibraryIndexes(), None))
        splits = [s.stem for s in (directory / "qrels").glob("*.tsv")]
        self.choose = evaluation.load(directory, "train" if "train" in splits else "test")
        self.report = evaluation.load(directory, "test")
        self.db = db
        self.library = library
        documents = {d: evaluation._unsafe(Path(path).stem) for d, path in db.execute(
            "SELECT id, original_path FROM documents")}
        self.doc_of = {int(p): documents[int(d)]
                       for p, d in db.execute("SELECT id, document_id FROM passages")}

    def ndcg(self, lists: Lists, dataset: evaluation.Dataset) -> float:
        def docs(passages: list[int]) -> list[str]:
            return list(dict.fromkeys(self.doc_of[p] for p in passages))
        return statistics.fmean(evaluation.ndcg_at_10(docs(lists.get(q, [])), dataset.qrels[q])
                                for q in dataset.queries)


def keyword_lists(searcher: Searcher, queries: dict[str, str], params: SearchParams,
                  scores: dict[str, list[float]] | None = None, depth: int = DEPTH) -> Lists:
    """BM25 over the keyword index of searcher's library, as Searcher.keyword_ranks scores it
    (without its quoted-phrase filter, as the tuning always ran)."""
    bm25 = Bm25(params.bm25_k1, params.bm25_b, params.context_weight, params.text_weight)
    stop = querytext.STOPWORD_LISTS[params.stopwords]
    out: Lists = {}
    with searcher.indexes.keywords(searcher.db) as index:
        for qid, text in queries.items():
            terms = index.query_terms(querytext.parse(text, stop).scored_words())
            hits = index.top(terms, depth, bm25, params.query_repeats)
            out[qid] = [p for p, _ in hits]
            if scores is not None:
                scores[qid] = [s for _, s in hits]
    return out


def choose(rows: Sequence[tuple[SearchParams, list[float]]],
           label: Callable[[SearchParams], str], title: str) -> SearchParams:
    """The params of the best mean over the choosing sets, among those within NOISE of each
    set's own best; prints the table (choosing figures, then the reported figures)."""
    bests = [max(r[1][i] for r in rows) for i in range(CHOOSING_SETS)]
    eligible = [r for r in rows if all(r[1][i] >= b - NOISE for i, b in enumerate(bests))]
    pool = eligible or list(rows)
    chosen = max(pool, key=lambda r: statistics.fmean(r[1][:len(bests)]))
    print(f"\n{title}\n| choice | SciFact train | Cranfield | mean | SciFact test |")
    print("|---|---|---|---|---|")
    shown = sorted(rows, key=lambda r: -statistics.fmean(r[1][:len(bests)]))[:SHOWN]
    for params, figures in shown if chosen in shown else [*shown, chosen]:
        mark = "**" if params is chosen[0] else ""
        mean = statistics.fmean(figures[:len(bests)])
        print(f"| {mark}{label(params)}{mark} | {figures[0]:.4f} | {figures[1]:.4f} | "
              f"{mean:.4f} | {figures[2]:.4f} |")
    print(f"({len(rows)} tried, {len(eligible)} within {NOISE} of both bests)")
    return chosen[0]


def tune_keyword(sets: list[DevSet]) -> SearchParams:
    scifact, cranfield = sets
    rows = []
    grid = itertools.product([0.9, 1.2, 1.5], [0.4, 0.6, 0.75, 0.9], [1.0, 2.0, 3.0],
                             ["folio", "lucene", "none"], [True, False])
    for k1, b, weight, stop, repeats in grid:
        params = replace(DEFAULT_PARAMS, bm25_k1=k1, bm25_b=b, context_weight=weight,
                         stopwords=stop, query_repeats=repeats)
        figures = [scifact.ndcg(keyword_lists(scifact.searcher, scifact.choose.queries, params),
                                scifact.choose),
                   cranfield.ndcg(keyword_lists(cranfield.searcher, cranfield.choose.queries, params),
                                  cranfield.choose)]
        figures.append(scifact.ndcg(keyword_lists(scifact.searcher, scifact.report.queries, params),
                                    scifact.report))
        rows.append((params, figures))
    def label(p: SearchParams) -> str:
        return (f"k1 {p.bm25_k1}, b {p.bm25_b}, title {p.context_weight}, stop {p.stopwords}, "
                f"repeats {'yes' if p.query_repeats else 'no'}")
    shipped = next(r for r in rows if r[0] == DEFAULT_PARAMS)
    print(f"\nshipped keyword defaults: SciFact train {shipped[1][0]:.4f}, Cranfield "
          f"{shipped[1][1]:.4f}, SciFact test {shipped[1][2]:.4f}")
    chosen = choose(rows, label, "BM25 knobs (keyword nDCG@10)")
    knobs = ("bm25_k1", "bm25_b", "context_weight", "stopwords", "query_repeats")
    print("\nOne knob at a time from the choice (what differs from Lucene's BM25 among them)")
    print("| changed | SciFact train | Cranfield | SciFact test |\n|---|---|---|---|")
    for params, figures in rows:
        changed = [k for k in knobs if getattr(params, k) != getattr(chosen, k)]
        if len(changed) <= 1:
            what = f"{changed[0]} = {getattr(params, changed[0])}" if changed else "(the choice)"
            print(f"| {what} | {figures[0]:.4f} | {figures[1]:.4f} | {figures[2]:.4f} |")
    return chosen


def semantic_lists(searcher: Searcher, queries: dict[str, str],
                   scores: dict[str, list[float]], depth: int = DEPTH) -> Lists:
    out: Lists = {}
    for qid, text in queries.items():
        hits = searcher.semantic_ranks(text, depth, None)
        out[qid] = [p for p, _ in hits]
        scores[qid] = [1.0 - d for _, d in hits]
    return out


def tune_fusion(sets: list[DevSet], keyword: SearchParams) -> SearchParams:
    prepared = []
    for dev in sets:
        assert dev.library is not None
        per_split = {}
        for which in ("choose", "report"):
            dataset = getattr(dev, which)
            k_scores: dict[str, list[float]] = {}
            s_scores: dict[str, list[float]] = {}
            k_lists = keyword_lists(dev.searcher, dataset.queries, keyword, k_scores)
            s_lists = semantic_lists(dev.searcher, dataset.queries, s_scores)
            per_split[which] = (dataset, k_lists, k_scores, s_lists, s_scores)
            print(f"{dev.name} {dataset.queries and which}: keyword "
                  f"{dev.ndcg(k_lists, dataset):.4f}, semantic {dev.ndcg(s_lists, dataset):.4f}")
        prepared.append((dev, per_split))

    def figures(params: SearchParams) -> list[float]:
        out = {}
        for dev, per_split in prepared:
            for which, (dataset, k_lists, k_scores, s_lists, s_scores) in per_split.items():
                lists = {q: [p for p, *_ in search_module.fuse(
                    list(zip(k_lists[q], k_scores[q], strict=True)),
                    list(zip(s_lists[q], [1.0 - s for s in s_scores[q]], strict=True)), params)]
                    for q in dataset.queries}
                out[(dev.name, which)] = dev.ndcg(lists, dataset)
        s, c = sets[0].name, sets[1].name
        return [out[(s, "choose")], out[(c, "choose")], out[(s, "report")]]

    rows = []
    for share in (0.3, 0.4, 0.5, 0.6, 0.7):
        params = replace(keyword, fusion=search_module.Fusion.CONVEX, keyword_share=share)
        rows.append((params, figures(params)))
    for k, weight in itertools.product((10, 20, 60), (0.6, 0.8, 1.0, 1.2, 1.5)):
        params = replace(keyword, fusion=search_module.Fusion.RRF, rrf_k=k, keyword_weight=weight)
        rows.append((params, figures(params)))

    def label(p: SearchParams) -> str:
        if p.fusion is search_module.Fusion.CONVEX:
            return f"convex, keyword share {p.keyword_share}"
        return f"RRF k {p.rrf_k}, keyword weight {p.keyword_weight}"
    return choose(rows, label, "Fusion (hybrid nDCG@10)")


GRID_DEPTH = 1000  # hits of each side kept for --fusion-grid (statistics up to this rank)


def _scaled(scores: npt.NDArray[np.float64], how: str, depth: int) -> npt.NDArray[np.float64]:
    """Best-first scores scaled by the top `depth` of them: min-max (the shipped way), z-score,
    or divided by the best."""
    if not len(scores):
        return scores
    top = scores[:depth]
    if how == "minmax":
        spread = top[0] - top[-1]
        return np.maximum(0.0, (scores - top[-1]) / spread) if spread > 0 else np.ones_like(scores)
    if how == "z":
        sd = float(top.std())
        return (scores - top.mean()) / sd if sd > 0 else np.zeros_like(scores)
    return scores / top[0] if top[0] > 0 else scores


@dataclass(frozen=True)
class GridFusion:
    """One candidate fusion: convex share of each side's scaled score, fused over each side's
    top `fused` hits; a hit missing on one side takes that side's rank-`fused` score (or, with
    by_document, every passage takes each side's best score of its document, as a document
    ranking does). share_slope: share = share - slope * ln(query words / 8), in [0.05, 0.95]."""

    label: str
    how: str = "minmax"
    depth: int = 200
    share: float = 0.5
    fused: int = 200
    share_slope: float = 0.0
    by_document: bool = False


def grid_order(fusion: GridFusion, words: int, keyword: tuple[list[int], list[float]],
               semantic: tuple[list[int], list[float]], doc_of: dict[int, str]) -> list[int]:
    share = min(0.95, max(0.05, fusion.share - fusion.share_slope * math.log(max(words, 1) / 8)))
    sides = []
    for ids, scores in (keyword, semantic):
        scaled = _scaled(np.asarray(scores, dtype=np.float64), fusion.how, fusion.depth)
        ids, scaled = ids[:fusion.fused], scaled[:fusion.fused]
        floor = float(scaled[-1]) if len(scaled) else 0.0
        by_passage = dict(zip(ids, scaled.tolist(), strict=True))
        by_doc: dict[str, float] = {}
        for pid, value in by_passage.items():
            by_doc.setdefault(doc_of[pid], value)
        sides.append((by_passage, by_doc, floor))
    if not keyword[0]:
        share = 0.0
    fused: dict[int, float] = {}
    for pid in {*sides[0][0], *sides[1][0]}:
        values = [by_doc.get(doc_of[pid], floor) if fusion.by_document
                  else by_passage.get(pid, floor) for by_passage, by_doc, floor in sides]
        fused[pid] = share * values[0] + (1 - share) * values[1]
    return sorted(fused, key=lambda pid: (-fused[pid], pid))


GRID = [
    GridFusion("shipped: min-max from rank 200, share 0.5"),
    GridFusion("min-max, share 0.45", share=0.45),
    GridFusion("min-max, share 0.55", share=0.55),
    GridFusion("min-max from rank 1000, share 0.45", depth=1000, share=0.45),
    GridFusion("divided by the top score, share 0.45", how="top", share=0.45),
    GridFusion("divided by the top score, share 0.5", how="top"),
    GridFusion("z-score of the top 200, share 0.5", how="z"),
    GridFusion("z-score of the top 200, share 0.45", how="z", share=0.45),
    GridFusion("z-score of the top 1000, share 0.45", how="z", depth=1000, share=0.45),
    GridFusion("z-score of the top 1000, share 0.5", how="z", depth=1000),
    GridFusion("z-score of the top 1000, share 0.45, fused over 1000", how="z", depth=1000,
               share=0.45, fused=1000),
    GridFusion("z 200, share 0.5 - 0.1 ln(words/8)", how="z", share_slope=0.1),
    GridFusion("z 200, share 0.5 - 0.2 ln(words/8)", how="z", share_slope=0.2),
    GridFusion("z 200, share 0.5 + 0.1 ln(words/8)", how="z", share_slope=-0.1),
    GridFusion("z 200, share 0.45 - 0.1 ln(words/8)", how="z", share=0.45, share_slope=0.1),
    GridFusion("min-max, share 0.5 - 0.1 ln(words/8)", share_slope=0.1),
    GridFusion("z 200, share 0.5, documents' best passages", how="z", by_document=True),
    GridFusion("z 1000, share 0.45, documents' best passages", how="z", depth=1000, share=0.45,
               by_document=True),
]


def fusion_grid(sets: list[DevSet]) -> None:
    """Each GRID fusion on SciFact train, Cranfield and SciFact test, with the per-query
    difference from the shipped fusion and its standard error."""
    stop = querytext.STOPWORD_LISTS[DEFAULT_PARAMS.stopwords]
    prepared = []
    for dev, which in ((sets[0], "choose"), (sets[1], "choose"), (sets[0], "report")):
        assert dev.library is not None
        dataset = getattr(dev, which)
        k_scores: dict[str, list[float]] = {}
        s_scores: dict[str, list[float]] = {}
        k_lists = keyword_lists(dev.searcher, dataset.queries, DEFAULT_PARAMS, k_scores, GRID_DEPTH)
        s_lists = semantic_lists(dev.searcher, dataset.queries, s_scores, GRID_DEPTH)
        words = {q: len(querytext.parse(t, stop).scored_words())
                 for q, t in dataset.queries.items()}
        prepared.append((dev, dataset, k_lists, k_scores, s_lists, s_scores, words))

    def per_query(fusion: GridFusion, linear: bool = False) -> list[npt.NDArray[np.float64]]:
        out = []
        for dev, dataset, k_lists, k_scores, s_lists, s_scores, words in prepared:
            values = []
            for q in dataset.queries:
                order = grid_order(fusion, words[q], (k_lists[q], k_scores[q]),
                                   (s_lists[q], s_scores[q]), dev.doc_of)
                ranked = list(dict.fromkeys(dev.doc_of[p] for p in order[:100]))
                values.append(evaluation.ndcg_at_10(ranked, dataset.qrels[q], linear))
            out.append(np.asarray(values))
        return out

    shipped = per_query(GRID[0])
    print("\nFusions not in core/search.py (hybrid nDCG@10; in brackets the mean per-query "
          "difference from the shipped fusion and its standard error)")
    print("| fusion | SciFact train | Cranfield | SciFact test | Cranfield (trec) |")
    print("|---|---|---|---|---|")
    for fusion in GRID:
        figures = per_query(fusion)
        cells = [f"{f.mean():.4f} ({(f - b).mean():+.4f} ± "
                 f"{(f - b).std(ddof=1) / math.sqrt(len(f)):.4f})"
                 for f, b in zip(figures, shipped, strict=True)]
        trec = per_query(fusion, linear=True)[1].mean()
        print(f"| {fusion.label} | {' | '.join(cells)} | {trec:.4f} |", flush=True)


FEEDBACK_K = (3, 5, 10)
FEEDBACK_SHARES = (0.2, 0.35, 0.5)  # RM3: the feedback words' share of the keyword query
FEEDBACK_BETAS = (0.3, 0.6, 1.0)  # Rocchio: query + beta x the feedback passages' mean vector

Hits = list[tuple[int, float]]


@dataclass
class FirstRound:
    """One split's queries searched once: each side's hits (DEPTH deep unless said) and the
    query vectors."""

    dev: DevSet
    dataset: evaluation.Dataset
    keyword: dict[str, Hits]
    semantic: dict[str, Hits]
    vectors: dict[str, npt.NDArray[np.float32]]


def first_round(dev: DevSet, dataset: evaluation.Dataset, depth: int = DEPTH) -> FirstRound:
    searcher, embedder = dev.searcher, dev.searcher.require_embedder()
    keyword, semantic, vectors = {}, {}, {}
    for q, text in dataset.queries.items():
        keyword[q] = searcher.keyword_ranks(text, depth, None, DEFAULT_PARAMS)
        vectors[q] = embedder.embed_query(text)
        semantic[q] = searcher.nearest(vectors[q], depth, None)
    return FirstRound(dev, dataset, keyword, semantic, vectors)


def per_query_ndcg(run: FirstRound, lists: Lists, linear: bool = False) -> npt.NDArray[np.float64]:
    def docs(passages: list[int]) -> list[str]:
        return list(dict.fromkeys(run.dev.doc_of[p] for p in passages))
    return np.asarray([evaluation.ndcg_at_10(docs(lists[q]), run.dataset.qrels[q], linear)
                       for q in run.dataset.queries])


def feedback_grid(sets: list[DevSet], ks: Sequence[int] = FEEDBACK_K,
                  shares: Sequence[float] = FEEDBACK_SHARES,
                  betas: Sequence[float] = FEEDBACK_BETAS,
                  sources: Sequence[search_module.Feedback] = tuple(search_module.Feedback),
                  single_modes: bool = True, rescore: bool = False) -> None:
    """Pseudo-relevance feedback (core/search.py's feedback_round) on SciFact train, Cranfield
    and SciFact test: RM3 on the keyword side, Rocchio on the meaning side, both, from the
    fused list's or each side's own top k passages; each figure with the per-query difference
    from no feedback and its standard error. Each side's second round depends only on its own
    knobs, so it is computed once per (k, source, knob) and the sides are fused per setting."""
    runs = [first_round(sets[0], sets[0].choose), first_round(sets[1], sets[1].choose),
            first_round(sets[0], sets[0].report)]
    labels = ("SciFact train", "Cranfield", "SciFact test")
    base = replace(DEFAULT_PARAMS, feedback_passages=0, feedback_rescore=rescore)

    def second(run: FirstRound, params: SearchParams, mode: search_module.SearchMode,
               ) -> dict[str, tuple[Hits, Hits]]:
        out = {}
        for q, text in run.dataset.queries.items():
            keyword = run.keyword[q] if mode is not search_module.SearchMode.SEMANTIC else []
            semantic = run.semantic[q] if mode is not search_module.SearchMode.KEYWORD else []
            out[q] = run.dev.searcher.feedback_round(text, mode, keyword, semantic,
                                                     run.vectors[q], DEPTH, None, params)
        return out

    def fused(run: FirstRound, keyword: dict[str, Hits], semantic: dict[str, Hits]) -> Lists:
        return {q: [p for p, *_ in search_module.fuse(keyword[q], semantic[q], base)]
                for q in run.dataset.queries}

    def row(label: str, figures: list[npt.NDArray[np.float64]],
            against: list[npt.NDArray[np.float64]], trec: float) -> str:
        cells = [f"{f.mean():.4f} ({(f - b).mean():+.4f} ± "
                 f"{(f - b).std(ddof=1) / math.sqrt(len(f)):.4f})"
                 for f, b in zip(figures, against, strict=True)]
        return f"| {label} | {' | '.join(cells)} | {trec:.4f} |"

    header = (f"| setting | {' | '.join(labels)} | Cranfield (trec) |\n"
              "|---|---|---|---|---|")
    # single modes: RM3 on keyword search, Rocchio on meaning search (their own top k)
    for mode, knob, values in ((search_module.SearchMode.KEYWORD, "feedback_term_share",
                                shares),
                               (search_module.SearchMode.SEMANTIC, "feedback_vector_weight",
                                betas)):
        if not single_modes:
            break
        side = 0 if mode is search_module.SearchMode.KEYWORD else 1
        plain = [per_query_ndcg(run, {q: [p for p, _ in (run.keyword if side == 0 else
                                                          run.semantic)[q]]
                                      for q in run.dataset.queries}) for run in runs]
        plain_trec = per_query_ndcg(runs[1], {q: [p for p, _ in (runs[1].keyword if side == 0
                                                                 else runs[1].semantic)[q]]
                                              for q in runs[1].dataset.queries}, True).mean()
        print(f"\n{mode.value} search alone, feedback from its own top k (nDCG@10)\n{header}")
        print(row("no feedback", plain, plain, plain_trec))
        for k, value in itertools.product(ks, values):
            params = replace(base, feedback_passages=k, feedback_from=search_module.Feedback.OWN)
            params = (replace(params, feedback_term_share=value) if side == 0
                      else replace(params, feedback_vector_weight=value))
            lists = [{q: [p for p, _ in hits[side]] for q, hits in second(run, params, mode).items()}
                     for run in runs]
            figures = [per_query_ndcg(run, ls) for run, ls in zip(runs, lists, strict=True)]
            print(row(f"k {k}, {knob} {value}", figures, plain,
                      per_query_ndcg(runs[1], lists[1], True).mean()), flush=True)

    # hybrid: each side's second round per (source, k, knob), fused per setting
    hybrid = search_module.SearchMode.HYBRID
    keyword_rounds: dict[tuple[str, int, float], list[dict[str, Hits]]] = {}
    semantic_rounds: dict[tuple[str, int, float], list[dict[str, Hits]]] = {}
    for source, k in itertools.product(sources, ks):
        for share in shares:
            params = replace(base, feedback_passages=k, feedback_from=source,
                             feedback_term_share=share)
            keyword_rounds[(source, k, share)] = [
                {q: hits[0] for q, hits in second(run, params, hybrid).items()} for run in runs]
        for beta in betas:
            params = replace(base, feedback_passages=k, feedback_from=source,
                             feedback_vector_weight=beta)
            semantic_rounds[(source, k, beta)] = [
                {q: hits[1] for q, hits in second(run, params, hybrid).items()} for run in runs]
    plain_lists = [fused(run, run.keyword, run.semantic) for run in runs]
    plain = [per_query_ndcg(run, ls) for run, ls in zip(runs, plain_lists, strict=True)]
    print(f"\nhybrid with feedback (nDCG@10; shares and weights 0 keep that side's first "
          f"round)\n{header}")
    print(row("no feedback (shipped)", plain, plain,
              per_query_ndcg(runs[1], plain_lists[1], True).mean()))
    rows = []
    for source, k in itertools.product(sources, ks):
        for share, beta in itertools.product((0.0, *shares), (0.0, *betas)):
            if share == 0 and beta == 0:
                continue
            lists = []
            for i, run in enumerate(runs):
                keyword = keyword_rounds[(source, k, share)][i] if share else run.keyword
                semantic = semantic_rounds[(source, k, beta)][i] if beta else run.semantic
                lists.append(fused(run, keyword, semantic))
            figures = [per_query_ndcg(run, ls) for run, ls in zip(runs, lists, strict=True)]
            label = f"{source.value} top {k}: RM3 share {share}, Rocchio {beta}"
            rows.append((label, figures, per_query_ndcg(runs[1], lists[1], True).mean()))
            print(row(label, figures, plain, rows[-1][2]), flush=True)
    best = max(rows, key=lambda r: r[1][0].mean() + r[1][1].mean())
    print("\nbest mean of the two choosing sets:")
    print(header)
    print(row(best[0], best[1], plain, best[2]))


def opensearch_zscore(keyword: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]],
                      params: SearchParams = DEFAULT_PARAMS,
                      ) -> list[tuple[int, float, int | None, int | None]]:
    """OpenSearch's z_score normalisation with its arithmetic_mean combination, as
    neural-search ships them: each side's standard scores over all its hits, a score <= 0 as
    0.001 (one hit: 1.0); a passage's fused score is the weighted mean over the sides that
    returned it (a side that did not is left out of the mean, not counted as 0)."""
    k_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
    s_rank = {pid: rank for rank, (pid, _) in enumerate(semantic, start=1)}
    sides = []
    for share, hits, values in ((params.keyword_share, keyword, [v for _, v in keyword]),
                                (1 - params.keyword_share, semantic,
                                 [1 - d for _, d in semantic])):
        array = np.asarray(values, dtype=np.float64)
        sd = float(array.std()) if len(array) else 0.0
        z = ([1.0] * len(values) if len(values) == 1 else [0.001] * len(values) if sd <= 0
             else [max(0.001, (v - float(array.mean())) / sd) for v in values])
        sides.append((share, dict(zip((pid for pid, _ in hits), z, strict=True))))
    fused = []
    for pid in {**k_rank, **s_rank}:
        present = [(share, z[pid]) for share, z in sides if pid in z]
        score = sum(w * v for w, v in present) / sum(w for w, _ in present)
        fused.append((pid, score, k_rank.get(pid), s_rank.get(pid)))
    fused.sort(key=lambda row: -row[1])
    return fused


FUSION_FEEDBACK = [  # (label, params): the first row is what every other is compared with
    ("shipped: convex 0.5, min-max from rank 200, feedback", DEFAULT_PARAMS),
    ("z-score of each side's top 200, share 0.5, feedback",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE)),
    ("z-score 200, share 0.45, feedback",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, keyword_share=0.45)),
    ("z-score 200, share 0.55, feedback",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, keyword_share=0.55)),
    ("z-score 200, share 0.5, Rocchio 1.5",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, feedback_vector_weight=1.5)),
    ("z-score 200, share 0.5, Rocchio 0.6",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, feedback_vector_weight=0.6)),
    ("z-score 200, share 0.5, feedback from the top 2",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, feedback_passages=2)),
    ("convex 0.5, min-max 200, no feedback", replace(DEFAULT_PARAMS, feedback_passages=0)),
    ("z-score 200, share 0.5, no feedback",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, feedback_passages=0)),
    ("z-score of each side's top 1000 (1000 hits a side), share 0.5, feedback",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, candidates=1000,
             normalise_depth=1000)),
    ("z-score 1000 (1000 hits a side), share 0.45, feedback",
     replace(DEFAULT_PARAMS, fusion=search_module.Fusion.ZSCORE, candidates=1000,
             normalise_depth=1000, keyword_share=0.45)),
    # fused by opensearch_zscore (the label says so), in the feedback round too
    ("OpenSearch's z_score + arithmetic_mean, share 0.5, feedback", DEFAULT_PARAMS),
]
OPENSEARCH_ROW = len(FUSION_FEEDBACK) - 1


def fusion_with_feedback(sets: list[DevSet], wanted: Sequence[int] | None = None) -> None:
    """FUSION_FEEDBACK's settings through core/search.py as a hybrid search runs them: both
    sides params.candidates deep, the feedback round (whose fused top passages depend on the
    fusion), then fuse; on SciFact train, Cranfield and SciFact test, each with the mean
    per-query difference from the first row and its standard error (Cranfield's trec gain
    too)."""
    searches = {}  # (set, split, depth) -> FirstRound
    settings = [FUSION_FEEDBACK[i] for i in (wanted or range(len(FUSION_FEEDBACK)))]
    if settings[0] is not FUSION_FEEDBACK[0]:
        settings.insert(0, FUSION_FEEDBACK[0])
    splits = ((sets[0], "choose"), (sets[1], "choose"), (sets[0], "report"))

    def run_of(dev: DevSet, which: str, depth: int) -> FirstRound:
        if (dev.name, which, depth) not in searches:
            searches[(dev.name, which, depth)] = first_round(dev, getattr(dev, which), depth)
        return searches[(dev.name, which, depth)]

    def lists_of(params: SearchParams) -> list[tuple[FirstRound, Lists]]:
        out = []
        for dev, which in splits:
            run = run_of(dev, which, params.candidates)
            lists = {}
            for q, text in run.dataset.queries.items():
                keyword, semantic = dev.searcher.feedback_round(
                    text, search_module.SearchMode.HYBRID, run.keyword[q], run.semantic[q],
                    run.vectors[q], params.candidates, None, params)
                lists[q] = [p for p, *_ in search_module.fuse(keyword, semantic, params)]
            out.append((run, lists))
        return out

    def cell(f: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> str:
        return f"{f.mean():.4f} ({(f - b).mean():+.4f} ± {(f - b).std(ddof=1) / math.sqrt(len(f)):.4f})"

    print("\nFusion with the feedback round (hybrid nDCG@10; in brackets the mean per-query "
          "difference from the first row and its standard error)")
    print("| setting | SciFact train | Cranfield | SciFact test | Cranfield (trec) |")
    print("|---|---|---|---|---|")
    base: list[npt.NDArray[np.float64]] = []
    shipped_fuse = search_module.fuse
    for label, params in settings:
        if label == FUSION_FEEDBACK[OPENSEARCH_ROW][0]:
            search_module.fuse = opensearch_zscore  # feedback_round fuses through the module
        try:
            found = lists_of(params)
        finally:
            search_module.fuse = shipped_fuse
        figures = [per_query_ndcg(run, lists) for run, lists in found]
        figures.append(per_query_ndcg(found[1][0], found[1][1], True))
        if not base:
            base = figures
        print(f"| {label} | {' | '.join(cell(f, b) for f, b in zip(figures, base, strict=True))} |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scifact", type=Path)
    parser.add_argument("cranfield", type=Path)
    parser.add_argument("--keyword-only", action="store_true")
    parser.add_argument("--library", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--fusion-only", action="store_true")
    parser.add_argument("--fusion-grid", action="store_true")
    parser.add_argument("--feedback", action="store_true")
    parser.add_argument("--feedback-k", default="3,5,10", help="with --feedback: the k tried")
    parser.add_argument("--feedback-shares", default="0.2,0.35,0.5", help="RM3 shares tried")
    parser.add_argument("--feedback-betas", default="0.3,0.6,1.0", help="Rocchio weights tried")
    parser.add_argument("--feedback-from", default="fused,own", help="feedback sources tried")
    parser.add_argument("--feedback-rescore", action="store_true",
                        help="with --feedback: Rocchio rescores the first round's candidates")
    parser.add_argument("--hybrid-only", action="store_true",
                        help="with --feedback: skip the single-mode tables")
    parser.add_argument("--fusion-feedback", nargs="?", const="", default=None,
                        metavar="ROWS",
                        help="fusions with the feedback round, as search runs them "
                             "(FUSION_FEEDBACK; ROWS: e.g. 0,1,2 for some of its rows)")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.library)
    with tempfile.TemporaryDirectory(prefix="folio-tune-") as work:
        sets = []
        for directory in (args.scifact, args.cranfield):
            test = evaluation.load(directory, "test")
            if args.keyword_only:
                db = evaluation.keyword_only_db(test, Path(work) / f"{directory.name}.db")
                sets.append(DevSet(directory, db, None))
            else:
                library = (Library.open(Path(given[test.name])) if test.name in given
                           else evaluation.library_for(test))
                sets.append(DevSet(directory, library.db, library))
        if args.fusion_feedback is not None:
            fusion_with_feedback(sets, [int(v) for v in args.fusion_feedback.split(",") if v])
            return
        if args.feedback:
            def numbers(text: str) -> list[float]:
                return [float(v) for v in text.split(",") if v]
            feedback_grid(sets, [int(v) for v in numbers(args.feedback_k)],
                          numbers(args.feedback_shares), numbers(args.feedback_betas),
                          [search_module.Feedback(v) for v in args.feedback_from.split(",")],
                          not args.hybrid_only, args.feedback_rescore)
            return
        keyword = DEFAULT_PARAMS if args.fusion_only else tune_keyword(sets)
        print(f"\nchosen keyword knobs: {keyword}")
        if args.fusion_grid:
            fusion_grid(sets)
        elif not args.keyword_only:
            fused = tune_fusion(sets, keyword)
            print(f"\nchosen: {fused}")


if __name__ == "__main__":
    main()
