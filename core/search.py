"""Hybrid search: keyword hits from FTS5 (bm25), meaning hits from sqlite-vec, fused by rank."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import apsw

from core import querytext
from core.embedding import Embedder
from core.errors import FolioError
from core.store import search_queries
from core.types import Rect


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    KEYWORD = "keyword"
    SEMANTIC = "semantic"


class Fusion(StrEnum):
    CONVEX = "convex"  # keyword_share * minmax(bm25) + (1 - keyword_share) * minmax(cosine)
    RRF = "rrf"  # sum of weight / (rrf_k + rank)


@dataclass(frozen=True)
class SearchParams:
    """The knobs of ranking; the defaults won on SciFact's train split (tests/bench/tune_search.py).

    Train / test nDCG@10 there: convex fusion at 0.5 gives 0.7385 / 0.7320, the best RRF
    (k=10) 0.7294 / 0.7136, plain RRF (k=60) 0.7240 / 0.7067.
    """

    fusion: Fusion = Fusion.CONVEX
    keyword_share: float = 0.5
    rrf_k: float = 10.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    context_weight: float = 2.0  # bm25 weight of the title and heading column
    text_weight: float = 1.0
    candidates: int = 200  # hits taken from each side before fusing


DEFAULT_PARAMS = SearchParams()


@dataclass(frozen=True)
class Hit:
    """One passage found, with where it is and why it was found."""

    passage_id: int
    document_id: int
    title: str
    page: int
    page_end: int
    page_label: str | None
    heading_path: str
    text: str
    score: float
    keyword_rank: int | None
    semantic_rank: int | None
    rects: tuple[Rect, ...] = field(default=())

    @property
    def found_by(self) -> str:
        if self.keyword_rank is not None and self.semantic_rank is not None:
            return "both"
        return "keywords" if self.keyword_rank is not None else "meaning"


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    mode: SearchMode
    elapsed_ms: float


class EmptyQueryError(FolioError):
    """The query has nothing to search for."""


COMMON_TERM_SHARE = 0.25  # a term in more passages than this adds cost, not ranking
MAX_QUERY_TERMS = 16


def _drop_common_terms(db: apsw.Connection, parsed: querytext.KeywordQuery) -> (
        querytext.KeywordQuery):
    """Keep the rarest terms: FTS5 scores every passage that matches any OR-ed term, so one
    common word in a large library costs tens of milliseconds and barely moves bm25."""
    if len(parsed.terms) < 2:
        return parsed
    counts, total = search_queries.term_document_counts(db, parsed.terms)
    by_rarity = sorted(parsed.terms, key=lambda t: counts.get(t, 0))
    kept = [t for t in by_rarity if counts.get(t, 0) <= COMMON_TERM_SHARE * total]
    kept = (kept or by_rarity[:1])[:MAX_QUERY_TERMS]
    return querytext.KeywordQuery(tuple(t for t in parsed.terms if t in kept), parsed.phrases)


def keyword_ranks(db: apsw.Connection, query: str, limit: int, scope: Sequence[int] | None,
                  params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float]]:
    """(passage id, bm25 score) best first; phrases in quotes are required when they match."""
    parsed = _drop_common_terms(db, querytext.parse(query))
    for require in (True, False):
        expression = parsed.match_expression(require_phrases=require)
        if expression is None:
            return []
        rows = search_queries.fts_hits(db, expression, limit, scope, params.context_weight,
                                       params.text_weight)
        if rows or not parsed.phrases:
            return rows
    return []


def semantic_ranks(db: apsw.Connection, embedder: Embedder, query: str, limit: int,
                   scope: Sequence[int] | None) -> list[tuple[int, float]]:
    """(passage id, cosine distance) nearest first."""
    vector = embedder.embed_query(query)
    return search_queries.vector_hits(db, vector, limit, scope)


NORMALISE_DEPTH = 200


def _minmax(values: Sequence[float]) -> list[float]:
    """Scale best-first scores to [0, 1], from the score at rank 200 (or the last) to the best.

    Measuring the floor at a fixed rank, not at the end of the list, keeps the scale the same
    however many candidates a side returned (the coarse vector pass returns an approximate tail).
    """
    if not values:
        return []
    high = values[0]
    low = values[min(len(values), NORMALISE_DEPTH) - 1]
    return [max(0.0, (v - low) / (high - low)) if high > low else 1.0 for v in values]


def fuse(keyword: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]],
         params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float, int | None, int | None]]:
    """(passage id, fused score, keyword rank, semantic rank), best first.

    keyword holds (id, bm25) with lower better, semantic (id, cosine distance).
    """
    k_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
    s_rank = {pid: rank for rank, (pid, _) in enumerate(semantic, start=1)}
    scores: dict[int, float] = {}
    if params.fusion is Fusion.CONVEX:
        share = params.keyword_share
        for (pid, _), value in zip(keyword, _minmax([-s for _, s in keyword]), strict=True):
            scores[pid] = scores.get(pid, 0.0) + share * value
        for (pid, _), value in zip(semantic, _minmax([1 - d for _, d in semantic]), strict=True):
            scores[pid] = scores.get(pid, 0.0) + (1 - share) * value
    else:
        for pid, rank in k_rank.items():
            scores[pid] = scores.get(pid, 0.0) + params.keyword_weight / (params.rrf_k + rank)
        for pid, rank in s_rank.items():
            scores[pid] = scores.get(pid, 0.0) + params.semantic_weight / (params.rrf_k + rank)
    fused = [(pid, score, k_rank.get(pid), s_rank.get(pid)) for pid, score in scores.items()]
    fused.sort(key=lambda row: -row[1])
    return fused


def search(db: apsw.Connection, embedder: Embedder, query: str,
           mode: SearchMode = SearchMode.HYBRID, k: int = 10,
           scope: Sequence[int] | None = None,
           params: SearchParams = DEFAULT_PARAMS) -> SearchResult:
    """The k best passages for query; scope limits the search to those document ids."""
    if not query.strip():
        raise EmptyQueryError("Type something to search for.")
    start = time.perf_counter()
    depth = max(params.candidates, k)
    keyword: list[tuple[int, float]] = []
    semantic: list[tuple[int, float]] = []
    if mode in (SearchMode.HYBRID, SearchMode.KEYWORD):
        keyword = keyword_ranks(db, query, depth, scope, params)
    if mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
        semantic = semantic_ranks(db, embedder, query, depth, scope)
    ranked: list[tuple[int, float, int | None, int | None]]
    if mode is SearchMode.KEYWORD:
        ranked = [(pid, -score, rank, None) for rank, (pid, score) in enumerate(keyword, 1)]
    elif mode is SearchMode.SEMANTIC:
        ranked = [(pid, 1.0 - dist, None, rank) for rank, (pid, dist) in enumerate(semantic, 1)]
    else:
        ranked = fuse(keyword, semantic, params)
    top = ranked[:k]
    details = search_queries.passage_details(db, [row[0] for row in top])
    hits = [
        Hit(passage_id=pid, score=score, keyword_rank=kr, semantic_rank=sr, **details[pid])
        for pid, score, kr, sr in top if pid in details
    ]
    return SearchResult(hits, mode, (time.perf_counter() - start) * 1000)
