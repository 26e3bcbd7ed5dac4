"""The vector index scans int8 and scores its best candidates again with the float vectors:
the order it returns is the float order, where int8 rounding alone would swap near-ties."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.store.vectors import quantize
from core.vector_index import MemoryVectors, VectorIndex


def near_ties(count: int, dim: int = 64, seed: int = 5) -> tuple[npt.NDArray[np.float32],
                                                                 npt.NDArray[np.float32]]:
    """A query and count unit vectors around one direction, their cosines to the query closer
    to each other than int8 rounding can tell apart."""
    rng = np.random.default_rng(seed)
    query = rng.normal(size=dim).astype(np.float32)
    query /= np.linalg.norm(query)
    vectors = query + rng.normal(0, 0.004, size=(count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return query, vectors.astype(np.float32)


def float_top(query: npt.NDArray[np.float32], vectors: npt.NDArray[np.float32],
              k: int) -> list[int]:
    return [int(i) + 1 for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


def test_the_best_candidates_come_in_float_order_with_their_float_cosine() -> None:
    query, floats = near_ties(400)
    ids = np.arange(1, len(floats) + 1, dtype=np.int64)
    int8_only = VectorIndex(ids, quantize(floats), floats.shape[1])
    exact = VectorIndex(ids, quantize(floats), floats.shape[1], MemoryVectors(ids, floats))
    want = float_top(query, floats, 10)
    int8_order = [pid for pid, _ in int8_only.nearest(query, 10)]
    assert int8_order != want  # the fixture is one where rounding reorders
    found = exact.nearest(query, 10)
    assert [pid for pid, _ in found] == want
    cosine = floats @ query
    assert np.allclose([1 - d for _, d in found], cosine[np.array(want) - 1], atol=1e-6)


def test_patched_passages_are_scored_with_their_own_float_vectors() -> None:
    query, floats = near_ties(300)
    ids = np.arange(1, 201, dtype=np.int64)
    index = VectorIndex(ids, quantize(floats[:200]), floats.shape[1],
                        MemoryVectors(ids, floats[:200]))
    added = np.arange(201, 301, dtype=np.int64)
    patched = index.patched([5, 17], added, quantize(floats[200:]), floats[200:])
    alive = np.array([i for i in range(300) if i + 1 not in (5, 17)])
    want = [int(alive[i]) + 1 for i in np.argsort(-(floats[alive] @ query), kind="stable")[:10]]
    assert [pid for pid, _ in patched.nearest(query, 10)] == want


def test_without_float_vectors_for_every_candidate_the_int8_order_stands() -> None:
    """A library made before float storage: patches bring no floats, and nothing is mixed."""
    query, floats = near_ties(300)
    int8 = quantize(floats)
    index = VectorIndex(np.arange(1, 301, dtype=np.int64), int8[:300], floats.shape[1])
    patched = index.patched([7], np.array([301], dtype=np.int64), quantize(-floats[:1]))
    assert patched.exact is None
    scaled = int8.astype(np.float32)
    cosine = (scaled @ query) / np.linalg.norm(scaled, axis=1)
    cosine[6] = -2.0  # removed
    want = [int(i) + 1 for i in np.argsort(-cosine, kind="stable")[:10]]
    assert [pid for pid, _ in patched.nearest(query, 10)] == want
