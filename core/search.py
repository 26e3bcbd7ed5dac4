"""Hybrid search: keyword hits by exact BM25 over every query term (core/keyword_index.py),
meaning hits from an exact in-memory vector index of the library (numpy), fused."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

import apsw
import numpy as np
import numpy.typing as npt

from core import querytext
from core.connection_cache import ConnectionCache
from core.embedding import Embedder
from core.errors import FolioError
from core.keyword_index import Bm25, keyword_index
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
    """The knobs of ranking, chosen on SciFact train and Cranfield together
    (tests/bench/tune_search.py; docs/search-quality.md has the tables).

    BM25: 216 settings (k1, b, title weight, stopword list, repeated words) on both sets; the
    title and headings x3, Folio's stopwords and a repeated word once won on both. k1 and b are
    loosely determined by keyword search alone (k1 1.5, b 0.9 had the best keyword mean, 12
    others within 0.005), so they were settled by keyword and hybrid together on the real
    libraries: k1 1.2, b 0.4 had the best mean of the four (keyword 0.7022 / 0.3649, hybrid
    0.7363 / 0.4058 on SciFact train / Cranfield), where k1 1.5, b 0.9 lost 0.010 of SciFact's
    hybrid against the shipped code (0.7272 against 0.7369). Fusion: convex at 0.5, each side
    scaled from its rank-200 score, best on both (RRF k=20: 0.7229 / 0.4063).
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
    """(passage id, BM25) best first, ties by passage id: exact BM25 of every passage holding
    any of the query's words (core/keyword_index.py). Quoted phrases are required when some
    passage in scope holds them all; their words are scored as words."""
    parsed = querytext.parse(query, querytext.STOPWORD_LISTS[params.stopwords])
    index = keyword_index(db)
    terms = index.query_terms(parsed.scored_words())
    if not terms:
        return []
    allowed = None if scope is None else index.rows_of_documents(scope)
    bm25 = Bm25(params.bm25_k1, params.bm25_b, params.context_weight, params.text_weight)
    expression = parsed.phrase_expression()
    if expression is not None:
        holding = index.rows_of_passages(search_queries.phrase_matches(db, expression))
        if allowed is not None:
            holding &= allowed
        if holding.any():
            allowed = holding
    return index.top(terms, limit, bm25, params.query_repeats, allowed)


EXACT_UP_TO = 50_000  # passages; above, sign codes pick candidates for the exact product
COARSE_CANDIDATES = 3_000  # rescored exactly: top-10 agrees 99.7% (100k) / 99.2% (300k)


class VectorIndex:
    """Every passage vector of one library as rows of a float32 matrix: cosine KNN in numpy.

    Up to EXACT_UP_TO passages a full matrix product (exact). Above, it reads too much memory
    (22 ms at 100k, 65 ms at 300k here), so sign codes of the centred vectors (48 bytes a
    passage) pick ~3,000 candidates by hamming distance and only those are scored exactly:
    8 ms at 100k, 15 ms at 300k, with the exact top-10 found 99.7% / 99.2% of the time.
    Memory: 1.5 kB a passage (384 float32s) and its 48-byte code, so 155 MB at 100k passages.
    Loaded on the first search; kept in step with the library by temporary triggers that log
    this connection's writes to the vectors, and, for writes by other connections
    (PRAGMA data_version), by a fingerprint of the passages.
    """

    def __init__(self, db: apsw.Connection) -> None:
        search_queries.install_change_log(db)
        search_queries.take_changes(db)
        self.data_version = db.data_version()
        self.fingerprint = search_queries.passage_fingerprint(db)
        self.ids, self.documents, matrix = search_queries.all_vectors(db)
        self.matrix = _unit_rows(matrix)
        self.center = self.matrix.mean(axis=0) if len(self.ids) else None
        self.codes = _sign_codes(self.matrix, self.center)

    def refresh(self, db: apsw.Connection) -> VectorIndex:
        """This index brought up to date with the database, or a new one if that is simpler."""
        version = db.data_version()
        if version != self.data_version:
            fingerprint = search_queries.passage_fingerprint(db)
            if fingerprint != self.fingerprint:
                return VectorIndex(db)
            self.data_version = version
        changed = search_queries.take_changes(db)
        if not changed:
            return self
        if not len(self.ids) or len(changed) > len(self.ids) // 2:
            return VectorIndex(db)  # as quick as patching, and right after a change of model
        self.fingerprint = search_queries.passage_fingerprint(db)
        keep = ~np.isin(self.ids, np.asarray(changed, dtype=np.int64))
        ids, documents, matrix = search_queries.vectors_of(db, changed, self.matrix.shape[1])
        if matrix.shape[1] != self.matrix.shape[1]:
            return VectorIndex(db)
        added = _unit_rows(matrix)
        self.ids = np.concatenate([self.ids[keep], ids])
        self.documents = np.concatenate([self.documents[keep], documents])
        self.matrix = np.concatenate([self.matrix[keep], added])
        self.codes = np.concatenate([self.codes[:, keep], _sign_codes(added, self.center)], axis=1)
        return self

    def nearest(self, vector: npt.NDArray[np.float32], limit: int,
                scope: Sequence[int] | None) -> list[tuple[int, float]]:
        """(passage id, cosine distance) of the limit nearest passages, nearest first."""
        if not len(self.ids):
            return []
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        if norm > 0:
            query = query / norm
        if scope is None and len(self.ids) > EXACT_UP_TO:
            rows = self._coarse(query, max(COARSE_CANDIDATES, 10 * limit))
            similarity = self.matrix[rows] @ query
        elif scope is None:
            rows = None
            similarity = self.matrix @ query
        else:
            rows = np.flatnonzero(np.isin(self.documents, np.asarray(scope, dtype=np.int64)))
            similarity = self.matrix[rows] @ query
        if limit < len(similarity):
            top = np.argpartition(-similarity, limit)[:limit]
        else:
            top = np.arange(len(similarity))
        top = top[np.argsort(-similarity[top], kind="stable")]
        found = top if rows is None else rows[top]
        return [(int(pid), 1.0 - float(sim))
                for pid, sim in zip(self.ids[found], similarity[top], strict=True)]


    def _coarse(self, query: npt.NDArray[np.float32], candidates: int) -> npt.NDArray[np.intp]:
        """Rows of the passages whose sign codes are nearest the query's (hamming distance):
        about `candidates` of them, in row order, for exact rescoring."""
        code = _sign_codes(query[None, :], self.center)[:, 0]
        distance = np.bitwise_count(self.codes[0] ^ code[0]).astype(np.uint16)
        for word in range(1, len(code)):
            distance += np.bitwise_count(self.codes[word] ^ code[word])
        # The smallest distance that takes in `candidates` rows (ties all come along).
        counts = np.cumsum(np.bincount(distance, minlength=64 * len(code) + 1))
        threshold = int(np.searchsorted(counts, min(candidates, len(distance))))
        return np.flatnonzero(distance <= threshold)


def _sign_codes(matrix: npt.NDArray[np.float32],
                center: npt.NDArray[np.float32] | None) -> npt.NDArray[np.uint64]:
    """One bit a dimension (above the library's mean vector or not), packed into 64-bit words,
    one row of words per word position: (words, rows), so that each pass is contiguous."""
    if center is None or not len(matrix):
        return np.zeros((0, len(matrix)), dtype=np.uint64)
    bits = np.packbits((matrix - center) > 0, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(np.ascontiguousarray(bits).view(np.uint64).T)


def _unit_rows(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The rows scaled to length 1, in place (so that a dot product is the cosine)."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]
    norms[norms == 0] = 1.0
    matrix /= norms
    return matrix


_VECTOR_INDEXES: ConnectionCache[VectorIndex] = ConnectionCache(VectorIndex)
_POOL_LOCK = threading.Lock()


def vector_index(db: apsw.Connection) -> VectorIndex:
    """The in-memory vector index of the library behind db, loaded or brought up to date."""
    return _VECTOR_INDEXES.get(db)


def semantic_ranks(db: apsw.Connection, embedder: Embedder, query: str, limit: int,
                   scope: Sequence[int] | None) -> list[tuple[int, float]]:
    """(passage id, cosine distance) nearest first (VectorIndex: exact up to 50k passages)."""
    vector = embedder.embed_query(query)
    return vector_index(db).nearest(vector, limit, scope)


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


def fuse(keyword: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]],
         params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float, int | None, int | None]]:
    """(passage id, fused score, keyword rank, semantic rank), best first.

    keyword holds (id, BM25) with higher better, semantic (id, cosine distance).
    """
    k_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
    s_rank = {pid: rank for rank, (pid, _) in enumerate(semantic, start=1)}
    scores: dict[int, float] = {}
    if params.fusion is Fusion.CONVEX:
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


# Hybrid search embeds the query on a worker thread while FTS5 runs (both release the GIL):
# measured -15 to -20% p50 at 100k passages on this 2-core machine.
OVERLAP = True
_POOL: list[ThreadPoolExecutor] = []


def _embedding_pool() -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="folio-embed"))
        return _POOL[0]


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
    if mode is SearchMode.HYBRID and OVERLAP:
        # One ONNX thread here: the other core runs the FTS5 query meanwhile (p95 at 100k
        # passages 41-47 -> 37-39 ms; alone, a query embeds faster on both cores).
        pending = _embedding_pool().submit(embedder.embed_query, query, True)
        keyword = keyword_ranks(db, query, depth, scope, params)
        semantic = vector_index(db).nearest(pending.result(), depth, scope)
    else:
        if mode in (SearchMode.HYBRID, SearchMode.KEYWORD):
            keyword = keyword_ranks(db, query, depth, scope, params)
        if mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
            semantic = semantic_ranks(db, embedder, query, depth, scope)
    ranked: list[tuple[int, float, int | None, int | None]]
    if mode is SearchMode.KEYWORD:
        ranked = [(pid, score, rank, None) for rank, (pid, score) in enumerate(keyword, 1)]
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
