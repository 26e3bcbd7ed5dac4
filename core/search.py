"""Hybrid search: keyword hits by exact BM25 over every query term (core/keyword_index.py),
meaning hits from the in-memory vector index of the library (core/vector_index.py), fused.

A Searcher is what one connection needs to search: the connection, the library file's shared
indexes, the embedder and the query thread, all from the Engine (core/engine.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

import apsw
import numpy as np

from core import querytext
from core.embedding import Embedder
from core.errors import EmbeddingUnavailable, FolioError
from core.indexes import LibraryIndexes
from core.keyword_index import Bm25, KeywordIndex
from core.store import search_queries
from core.types import Hit


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    KEYWORD = "keyword"
    SEMANTIC = "semantic"


class Feedback(StrEnum):
    """Where pseudo-relevance feedback takes its passages from."""

    FUSED = "fused"  # hybrid only: the fused list's top passages feed both sides
    OWN = "own"  # each side its own top passages, in every mode


class Fusion(StrEnum):
    CONVEX = "convex"  # keyword_share * minmax(bm25) + (1 - keyword_share) * minmax(cosine)
    RRF = "rrf"  # sum of weight / (rrf_k + rank)
    # keyword_share * z(bm25) + (1 - keyword_share) * z(cosine), z = (score - mean) / sd of the
    # side's top normalise_depth (CombSUM of z-scores, as OpenSearch's z_score normalisation)
    ZSCORE = "zscore"


@dataclass(frozen=True)
class SearchParams:
    """The knobs of ranking, chosen on SciFact train and Cranfield together
    (tests/bench/tune_search.py; docs/search-quality.md has the tables).

    BM25: 216 settings (k1, b, title weight, stopword list, repeated words) on both sets; the
    title and headings x3, Folio's stopwords and a repeated word once won on both. k1 and b are
    loosely determined by keyword search alone (k1 1.5, b 0.9 had the best keyword mean, 12
    others within 0.005), so they were settled by keyword and hybrid together on the real
    libraries: k1 1.2, b 0.4 had the best mean of the four (keyword 0.7022 / 0.3649, hybrid
    0.7363 / 0.4058 on SciFact train / Cranfield), where k1 1.5, b 0.9 lost 0.010 of SciFact's
    hybrid against the shipped code (0.7272 against 0.7369). Fusion: convex at 0.5, each side
    scaled from its rank-200 score, best on both (RRF k=20: 0.7229 / 0.4063). With the feedback
    round below, z-score fusion over each side's top 200 at share 0.5 measured 0.7354 / 0.4238
    against 0.7366 / 0.4205 (-0.0013 +- 0.0016 and +0.0033 +- 0.0026 a query), no z-score
    setting winning beyond noise on both: not taken.

    Feedback (hybrid only): the query vector moved toward the fused top 3 passages (Rocchio,
    weight 1.0) scores the first round's candidates again: hybrid 0.7366 / 0.4202 on SciFact
    train / Cranfield against 0.7368 / 0.4057 without (Cranfield +0.0145 +- 0.0047 a query,
    SciFact train -0.0001 +- 0.0036; SciFact test 0.7323 against 0.7327). Weight 1.5 measured
    0.7381 / 0.4207 but put a paraphrase's one right passage below two others of a small
    library (tests/core/test_search.py). Searching the whole vector index again gains 0.003
    more on Cranfield (0.7362 / 0.4231) for a second vector search. Of 120 settings (k
    2/3/5/10, the fused list or each side's own, RM3 share 0-0.5, Rocchio 0-2) the best mean
    was within 0.002 (RM3 share 0.1 added: 0.7410 / 0.4218); RM3 stays off so that a keyword
    hit always holds a word of the query. On keyword or meaning search alone, from its own
    list, feedback gains on Cranfield and loses on SciFact (RM3 -0.002 to -0.05, Rocchio
    -0.004 to -0.02), so they have none.
    """

    fusion: Fusion = Fusion.CONVEX
    keyword_share: float = 0.5
    rrf_k: float = 10.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    context_weight: float = 3.0  # BM25F weight of the title and heading column
    text_weight: float = 1.0
    bm25_k1: float = 1.2
    bm25_b: float = 0.4
    stopwords: str = "folio"  # a key of querytext.STOPWORD_LISTS
    query_repeats: bool = False  # True: a word said twice counts twice, as in Lucene's OR query
    candidates: int = 200  # hits taken from each side before fusing
    normalise_depth: int = 200  # convex: each side's scores scaled from its rank-this score
    # Pseudo-relevance feedback: a second round from the first round's top passages (0: none).
    feedback_passages: int = 3
    feedback_from: Feedback = Feedback.FUSED
    feedback_terms: int = 10  # RM3: the words taken from those passages
    feedback_term_share: float = 0.0  # RM3: their share of the keyword query (0: off)
    feedback_vector_weight: float = 1.0  # Rocchio: query + this x their mean vector (0: off)
    # Rocchio: the moved vector scores only the first round's candidates (both sides' hits;
    # +1-3 ms p50 at 100k-300k passages) instead of searching the vector index again (+11 /
    # +33 ms CPU p50 at 100k / 300k, for +0.003 on Cranfield)
    feedback_rescore: bool = True


DEFAULT_PARAMS = SearchParams()


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    mode: SearchMode
    elapsed_ms: float
    # Said to the user in one sentence: e.g. meaning search was unavailable (an Ollama
    # embedding model with Ollama down), so these hits are from keywords only.
    notice: str | None = None


class EmptyQueryError(FolioError):
    """The query has nothing to search for."""


def _minmax(values: Sequence[float], depth: int) -> list[float]:
    """Scale best-first scores to [0, 1], from the score at rank depth (or the last) to the best.

    Measuring the floor at a fixed rank, not at the end of the list, keeps the scale the same
    however many candidates a side returned (the coarse vector pass returns an approximate tail).
    """
    if not values:
        return []
    high = values[0]
    low = values[min(len(values), depth) - 1]
    return [max(0.0, (v - low) / (high - low)) if high > low else 1.0 for v in values]


def _zscores(values: Sequence[float], depth: int) -> tuple[list[float], float]:
    """Best-first scores as standard scores of their top depth, (v - mean) / sd, and the
    score of a passage the side did not return: the lowest (it scored at most what the side's
    last hit scored). When the top depth are equal (one hit, say) there is no spread to scale
    by: a hit scoring as they do is 1, a lower one past depth 0, and so is a passage the side
    did not return."""
    if not values:
        return [], 0.0
    top = np.asarray(values[:depth], dtype=np.float64)
    sd = float(top.std())
    if sd <= 0:
        return [1.0 if v >= values[0] else 0.0 for v in values], 0.0
    mean = float(top.mean())
    z = [(v - mean) / sd for v in values]
    return z, min(z)


def fuse(keyword: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]],
         params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float, int | None, int | None]]:
    """(passage id, fused score, keyword rank, semantic rank), best first.

    keyword holds (id, BM25) with higher better, semantic (id, cosine distance).
    """
    k_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
    s_rank = {pid: rank for rank, (pid, _) in enumerate(semantic, start=1)}
    scores: dict[int, float] = {}
    if params.fusion is Fusion.ZSCORE:
        sides = []
        for share, hits, values in (
                (params.keyword_share, keyword, [s for _, s in keyword]),
                (1 - params.keyword_share, semantic, [1 - d for _, d in semantic])):
            z, floor = _zscores(values, params.normalise_depth)
            sides.append((share, dict(zip((pid for pid, _ in hits), z, strict=True)), floor))
        for pid in {**k_rank, **s_rank}:
            scores[pid] = sum(share * side.get(pid, floor) for share, side, floor in sides)
    elif params.fusion is Fusion.CONVEX:
        share = params.keyword_share
        depth = params.normalise_depth
        for (pid, _), value in zip(keyword, _minmax([s for _, s in keyword], depth), strict=True):
            scores[pid] = scores.get(pid, 0.0) + share * value
        for (pid, _), value in zip(semantic, _minmax([1 - d for _, d in semantic], depth),
                                   strict=True):
            scores[pid] = scores.get(pid, 0.0) + (1 - share) * value
    else:
        for pid, rank in k_rank.items():
            scores[pid] = scores.get(pid, 0.0) + params.keyword_weight / (params.rrf_k + rank)
        for pid, rank in s_rank.items():
            scores[pid] = scores.get(pid, 0.0) + params.semantic_weight / (params.rrf_k + rank)
    fused = [(pid, score, k_rank.get(pid), s_rank.get(pid)) for pid, score in scores.items()]
    fused.sort(key=lambda row: -row[1])
    return fused


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    found = np.asarray(vectors, dtype=np.float32)
    unit: np.ndarray = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)
    return unit


def _moved(vector: np.ndarray, feedback: np.ndarray, weight: float) -> np.ndarray:
    """The query's unit vector plus weight times the mean of feedback's unit rows."""
    query = np.asarray(vector, dtype=np.float32)
    query = query / max(float(np.linalg.norm(query)), 1e-12)
    if not len(feedback):
        return query
    moved: np.ndarray = query + weight * feedback.mean(axis=0)
    return moved


@dataclass(frozen=True)
class Searcher:
    """Search over one connection; indexes, embedder and query_pool come from the Engine.

    embedder may be None for keyword search only (core/evaluation.py's keyword libraries);
    query_pool None embeds the query on the calling thread.
    """

    db: apsw.Connection
    indexes: LibraryIndexes
    embedder: Embedder | None = None
    # Hybrid search embeds the query on this thread while the keyword side runs (both release
    # the GIL): measured -15 to -20% p50 at 100k passages on this 2-core machine.
    query_pool: ThreadPoolExecutor | None = None

    def keyword_ranks(self, query: str, limit: int, scope: Sequence[int] | None,
                      params: SearchParams = DEFAULT_PARAMS,
                      feedback: Sequence[tuple[int, float]] = ()) -> list[tuple[int, float]]:
        """(passage id, BM25) best first, ties by passage id: exact BM25 of every passage
        holding any of the query's words (core/keyword_index.py). Quoted phrases are required
        when some passage in scope holds them all; their words are scored as words.

        With feedback ((passage id, score) of the first round's top passages) and a
        feedback_term_share, the query is RM3's: the query's words, weighted
        1 - feedback_term_share, and the feedback_terms words of those passages that weigh
        most (each passage weighted by its share of their scores), weighted
        feedback_term_share; each word's BM25 times its weight, every passage scored exactly."""
        stopwords = querytext.STOPWORD_LISTS[params.stopwords]
        parsed = querytext.parse(query, stopwords)
        expression = parsed.phrase_expression()
        with self.indexes.keywords(self.db) as index:
            terms: dict[str, float] = dict(index.query_terms(parsed.scored_words()))
            if not terms:
                return []
            allowed = None if scope is None else index.rows_of_documents(scope)
            bm25 = Bm25(params.bm25_k1, params.bm25_b, params.context_weight,
                        params.text_weight)
            repeats = params.query_repeats
            if feedback and params.feedback_term_share > 0:
                terms = self._rm3(index, terms, feedback, bm25, stopwords, params)
                repeats = True  # the weights are the query's
            if expression is not None:
                holding = index.rows_of_passages(
                    search_queries.phrase_matches(self.db, expression))
                if allowed is not None:
                    holding &= allowed
                if holding.any():
                    allowed = holding
            return index.top(terms, limit, bm25, repeats, allowed)

    def _rm3(self, index: KeywordIndex, terms: dict[str, float],
             feedback: Sequence[tuple[int, float]], bm25: Bm25, stopwords: frozenset[str],
             params: SearchParams) -> dict[str, float]:
        """The query's terms (shares of 1 - feedback_term_share) and the feedback passages'
        relevance model (shares of feedback_term_share), summed."""
        total = sum(max(0.0, score) for _, score in feedback)
        weights = {pid: max(0.0, score) / total if total > 0 else 1.0 / len(feedback)
                   for pid, score in feedback}
        passages = [(context, text, weights[pid]) for pid, _, context, text in
                    search_queries.passage_texts(self.db, list(weights))]
        model = index.relevance_model(passages, bm25, params.feedback_terms, stopwords)
        share = params.feedback_term_share
        counted = sum(terms.values()) if params.query_repeats else len(terms)
        query = {t: (1 - share) * (c if params.query_repeats else 1) / counted
                 for t, c in terms.items()}
        for token, weight in model.items():
            query[token] = query.get(token, 0.0) + share * weight
        return query

    def nearest(self, vector: np.ndarray, limit: int,
                scope: Sequence[int] | None) -> list[tuple[int, float]]:
        """(passage id, cosine distance) of the limit passages nearest vector, nearest first."""
        index = self.indexes.vectors(self.db)
        rows = None
        if scope is not None:
            rows = index.rows_of(search_queries.passages_of_documents(self.db, scope))
        return index.nearest(vector, limit, rows)

    def semantic_ranks(self, query: str, limit: int,
                       scope: Sequence[int] | None) -> list[tuple[int, float]]:
        return self.nearest(self.require_embedder().embed_query(query), limit, scope)

    def moved_query(self, vector: np.ndarray, feedback: Sequence[int],
                    weight: float) -> np.ndarray:
        """Rocchio's query: the query's unit vector plus weight times the mean of the feedback
        passages' unit vectors (from the vector index, as it scores them)."""
        index = self.indexes.vectors(self.db)
        return _moved(vector, _unit_rows(index.vectors[index.rows_of(feedback)]), weight)

    def feedback_round(self, query: str, mode: SearchMode, keyword: list[tuple[int, float]],
                       semantic: list[tuple[int, float]], vector: np.ndarray | None,
                       depth: int, scope: Sequence[int] | None, params: SearchParams,
                       ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Both sides again from the first round's top feedback_passages (pseudo-relevance
        feedback): the keyword side by RM3 (keyword_ranks), the meaning side by Rocchio
        (moved_query); a side whose feedback is off, or that was not searched, is kept."""
        k = params.feedback_passages
        if k <= 0:
            return keyword, semantic
        if params.feedback_from is Feedback.FUSED:
            if mode is not SearchMode.HYBRID:
                return keyword, semantic  # no fused list: keyword or meaning search alone
            k_top = s_top = [(pid, score) for pid, score, _, _ in fuse(keyword, semantic,
                                                                       params)[:k]]
        else:
            k_top = keyword[:k]
            s_top = [(pid, 1.0 - d) for pid, d in semantic[:k]]
        if params.feedback_term_share > 0 and keyword:
            keyword = self.keyword_ranks(query, depth, scope, params, k_top)
        if params.feedback_vector_weight > 0 and vector is not None and s_top:
            feedback = [pid for pid, _ in s_top]
            if params.feedback_rescore:
                semantic = self.rescored(vector, feedback, params.feedback_vector_weight,
                                         [*semantic, *keyword], depth)
            else:
                semantic = self.nearest(self.moved_query(
                    vector, feedback, params.feedback_vector_weight), depth, scope)
        return keyword, semantic

    def rescored(self, vector: np.ndarray, feedback: Sequence[int], weight: float,
                 hits: Sequence[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
        """(passage id, cosine distance to Rocchio's query) of the limit nearest of hits'
        passages, nearest first; feedback are some of hits (their int8 vectors, as the vector
        index scores them; one lookup of the rows: at 300k passages each costs ~1.5 ms)."""
        index = self.indexes.vectors(self.db)
        rows = index.rows_of([pid for pid, _ in hits])
        if not len(rows):
            return []
        ids = index.ids[rows]
        found = _unit_rows(index.vectors[rows])
        wanted = np.asarray(sorted(set(feedback)), dtype=np.int64)
        at = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
        moved = _moved(vector, found[at[ids[at] == wanted]], weight)
        similarity = found @ (moved / max(float(np.linalg.norm(moved)), 1e-12))
        order = np.lexsort((ids, -similarity))[:limit]
        return [(int(ids[i]), 1.0 - float(similarity[i])) for i in order]

    def require_embedder(self) -> Embedder:
        if self.embedder is None:
            raise FolioError("This search has no embedding model: keyword search only.")
        return self.embedder

    def hybrid_sides(self, query: str, depth: int, scope: Sequence[int] | None,
                     params: SearchParams = DEFAULT_PARAMS,
                     ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """(keyword, semantic) hits, depth deep, as a hybrid search fuses them (after its
        feedback round); semantic is empty when meaning search is unavailable."""
        keyword = self.keyword_ranks(query, depth, scope, params)
        try:
            vector = self.require_embedder().embed_query(query)
        except EmbeddingUnavailable:
            return keyword, []
        semantic = self.nearest(vector, depth, scope)
        return self.feedback_round(query, SearchMode.HYBRID, keyword, semantic, vector, depth,
                                   scope, params)

    def search(self, query: str, mode: SearchMode = SearchMode.HYBRID, k: int = 10,
               scope: Sequence[int] | None = None,
               params: SearchParams = DEFAULT_PARAMS) -> SearchResult:
        """The k best passages for query; scope limits the search to those document ids."""
        if not query.strip():
            raise EmptyQueryError("Type something to search for.")
        start = time.perf_counter()
        depth = max(params.candidates, k)
        keyword: list[tuple[int, float]] = []
        semantic: list[tuple[int, float]] = []
        vector: np.ndarray | None = None
        notice: str | None = None
        try:
            if mode is SearchMode.HYBRID and self.query_pool is not None:
                # One ONNX thread there: the other core runs the keyword side meanwhile.
                pending = self.query_pool.submit(self.require_embedder().embed_query, query,
                                                 True)
                keyword = self.keyword_ranks(query, depth, scope, params)
                vector = pending.result()
            else:
                if mode in (SearchMode.HYBRID, SearchMode.KEYWORD):
                    keyword = self.keyword_ranks(query, depth, scope, params)
                if mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
                    vector = self.require_embedder().embed_query(query)
            if vector is not None:
                semantic = self.nearest(vector, depth, scope)
        except EmbeddingUnavailable as exc:  # Ollama's model, Ollama down: keywords still work
            notice = f"Meaning search is unavailable, so these results are from keywords only: {exc}"
            mode = SearchMode.KEYWORD
            keyword = keyword or self.keyword_ranks(query, depth, scope, params)
            semantic, vector = [], None
        keyword, semantic = self.feedback_round(query, mode, keyword, semantic, vector, depth,
                                                scope, params)
        ranked: list[tuple[int, float, int | None, int | None]]
        if mode is SearchMode.KEYWORD:
            ranked = [(pid, score, rank, None) for rank, (pid, score) in enumerate(keyword, 1)]
        elif mode is SearchMode.SEMANTIC:
            ranked = [(pid, 1.0 - dist, None, rank)
                      for rank, (pid, dist) in enumerate(semantic, 1)]
        else:
            ranked = fuse(keyword, semantic, params)
        top = ranked[:k]
        details = search_queries.passage_details(self.db, [row[0] for row in top])
        hits = [
            Hit(passage_id=pid, score=score, keyword_rank=kr, semantic_rank=sr, **details[pid])
            for pid, score, kr, sr in top if pid in details
        ]
        return SearchResult(hits, mode, (time.perf_counter() - start) * 1000, notice)
