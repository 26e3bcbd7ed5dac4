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


@dataclass(frozen=True)
class SearchParams:
    """The knobs of ranking; the defaults are the values that won on SciFact's train split."""

    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    context_weight: float = 1.0  # bm25 weight of the title and heading column
    text_weight: float = 1.0
    candidates: int = 100  # hits taken from each side before fusing


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


def keyword_ranks(db: apsw.Connection, query: str, limit: int, scope: Sequence[int] | None,
                  params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float]]:
    """(passage id, bm25 score) best first; phrases in quotes are required when they match."""
    parsed = querytext.parse(query)
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


def fuse(keyword: Sequence[int], semantic: Sequence[int],
         params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float, int | None, int | None]]:
    """Reciprocal Rank Fusion: (passage id, score, keyword rank, semantic rank), best first."""
    k_rank = {pid: rank for rank, pid in enumerate(keyword, start=1)}
    s_rank = {pid: rank for rank, pid in enumerate(semantic, start=1)}
    fused = []
    for pid in dict.fromkeys([*keyword, *semantic]):
        kr, sr = k_rank.get(pid), s_rank.get(pid)
        score = (params.keyword_weight / (params.rrf_k + kr) if kr else 0.0) + (
            params.semantic_weight / (params.rrf_k + sr) if sr else 0.0)
        fused.append((pid, score, kr, sr))
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
        ranked = fuse([p for p, _ in keyword], [p for p, _ in semantic], params)
    top = ranked[:k]
    details = search_queries.passage_details(db, [row[0] for row in top])
    hits = [
        Hit(passage_id=pid, score=score, keyword_rank=kr, semantic_rank=sr, **details[pid])
        for pid, score, kr, sr in top if pid in details
    ]
    return SearchResult(hits, mode, (time.perf_counter() - start) * 1000)
