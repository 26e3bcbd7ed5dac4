"""The in-memory vector index of one library: every passage's vector as int8, cosine KNN in
numpy, the best candidates scored again with the exact float32 vectors. Shared by every
connection to the library file in a process (core/indexes.py), and kept in step by the
library's change log.

Up to EXACT_UP_TO passages every int8 vector is scored. Above, that reads too much memory per
question, so sign codes of the centred vectors (48 bytes a passage) pick candidates by hamming
distance and only those are scored. Then the best RESCORE (50) by int8 are scored with their
float32 vectors (ExactVectors: read from the saved copy of the index, not kept in memory) and
put in that order ahead of the rest, so int8 rounding does not reorder the near-ties at the
top; a library whose table holds int8 only
(made before float storage) has no float vectors and keeps the int8 order. Top-10 agreement
with an exact float search is measured by tests/bench/search.py. Memory: 384 bytes (int8) + 48
(code) + 8 (id) + 4 (norm) = 444 bytes a passage at 384 dimensions, so a million passages take
~450 MB; the float vectors of passages patched in since the saved copy are held in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core import index_file

EXACT_UP_TO = 50_000  # passages; above, sign codes pick candidates for scoring
COARSE_CANDIDATES = 3_000  # at least; scaled up with the library (COARSE_SHARE)
# Of the passages, so that large libraries keep their agreement with an exact float search:
# at 1M, with the float rescoring below, 0.032 gave 99.8% / 98.7% of the float top-10
# (SciFact / Cranfield queries), 0.064 99.8% / 99.5% (docs/benchmarks.md,
# tests/bench/search.py --coarse-share); the candidate pass is what is left of the loss.
COARSE_SHARE = 0.064
# The best this many by int8 are scored again with their float vectors (read from disk, one
# row each: 300 rows took 45 ms from a cold page cache at 1M passages, 50 take ~8 ms).
RESCORE = 50
SCORE_BLOCK = 16_384  # rows turned into float32 at a time when scoring many
CENTER_SAMPLE = 20_000  # rows the centre of the sign codes is taken from

Ids = npt.NDArray[np.int64]
Int8s = npt.NDArray[np.int8]
Floats = npt.NDArray[np.float32]


class ExactVectors(Protocol):
    """The float32 vectors of the index's passages, looked up by passage id."""

    def of(self, ids: Ids) -> Floats | None:
        """Their vectors as rows, in the order of ids; None if one of them is not held."""


class MemoryVectors:
    """Float vectors held in memory (passages patched in since the saved copy)."""

    def __init__(self, ids: Ids, floats: Floats, older: ExactVectors | None = None) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids, self.floats, self.older = ids[order], floats[order], older

    def of(self, ids: Ids) -> Floats | None:
        at = np.minimum(np.searchsorted(self.ids, ids), max(0, len(self.ids) - 1))
        here = (self.ids[at] == ids) if len(self.ids) else np.zeros(len(ids), dtype=bool)
        if bool(here.all()):
            return self.floats[at]
        if self.older is None:
            return None
        rest = self.older.of(ids[~here])
        if rest is None:
            return None
        out = np.empty((len(ids), rest.shape[1]), dtype=np.float32)
        out[here], out[~here] = self.floats[at[here]], rest
        return out

    def changed(self, removed: Sequence[int], ids: Ids, floats: Floats) -> MemoryVectors:
        """These vectors without the removed passages, with the added ones (which replace
        any of the same passage)."""
        keep = ~np.isin(self.ids, np.concatenate([np.asarray(removed, dtype=np.int64), ids]))
        return MemoryVectors(np.concatenate([self.ids[keep], ids]),
                             np.concatenate([self.floats[keep], floats]), self.older)


class FileVectors:
    """Float vectors of the saved copy of the index, read by row from the file."""

    def __init__(self, ids: Ids, rows: index_file.RowFile) -> None:
        self.ids, self.rows = ids, rows

    def of(self, ids: Ids) -> Floats | None:
        at = np.minimum(np.searchsorted(self.ids, ids), max(0, len(self.ids) - 1))
        if not len(self.ids) or not bool((self.ids[at] == ids).all()):
            return None
        found: Floats = self.rows.read(at).astype(np.float32, copy=False)
        return found


class VectorIndex:
    """Passage ids (ascending), their int8 vectors, the inverse length of each, sign codes, and
    where their float vectors are (None: nowhere, the int8 order is final)."""

    def __init__(self, ids: Ids, vectors: Int8s, dim: int,
                 exact: ExactVectors | None = None) -> None:
        self.dim = dim
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.int8).reshape(len(ids), dim)
        self.center = self._center() if len(self.ids) else None
        self.inverse_norms, self.codes = self._norms_and_codes(self.vectors)
        self.exact = exact

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """What `of` makes this index again from (core/indexes.py saves them beside the
        library file, so that a later process maps them instead of reading vec0)."""
        center = self.center if self.center is not None else np.zeros(0, dtype=np.float32)
        return {"ids": self.ids, "vectors": self.vectors, "inverse_norms": self.inverse_norms,
                "codes": self.codes, "center": center, "dim": np.array(self.dim)}

    @classmethod
    def of(cls, arrays: dict[str, npt.NDArray[np.generic]],
           exact: ExactVectors | None = None) -> VectorIndex:
        """The index `arrays()` gave, as saved (read-only views are fine: an index is never
        changed once made). ValueError if the arrays do not fit together."""
        dim = int(arrays["dim"])
        ids, vectors = arrays["ids"], arrays["vectors"]
        norms, codes, center = arrays["inverse_norms"], arrays["codes"], arrays["center"]
        words = (dim + 63) // 64
        if (ids.dtype != np.int64 or vectors.dtype != np.int8 or norms.dtype != np.float32
                or codes.dtype != np.uint64 or center.dtype != np.float32
                or vectors.shape != (len(ids), dim) or norms.shape != (len(ids),)
                or center.shape != ((dim,) if len(ids) else (0,))
                or codes.shape != ((words, len(ids)) if len(ids) else codes.shape)):
            raise ValueError("the saved vector index's arrays do not fit together")
        index = cls.__new__(cls)
        index.dim, index.ids, index.vectors = dim, ids, vectors  # type: ignore[assignment]
        index.inverse_norms, index.codes = norms, codes  # type: ignore[assignment]
        index.center = center if len(ids) else None  # type: ignore[assignment]
        index.exact = exact
        return index

    @property
    def floats_patched_in(self) -> int:
        """How many float vectors are held in memory on top of a saved copy's (core/indexes.py
        saves the index again when they grow)."""
        exact = self.exact
        if isinstance(exact, MemoryVectors) and exact.older is not None:
            return len(exact.ids)
        return 0

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.vectors.nbytes + self.inverse_norms.nbytes
                   + self.codes.nbytes)

    def patched(self, removed: Sequence[int], ids: Ids, vectors: Int8s,
                floats: Floats | None = None) -> VectorIndex:
        """A new index without the passages removed (and those re-added), with ids added (their
        float vectors, if the library holds them, to score candidates exactly).

        The centre of the sign codes stays the one this index was built with: codes stay
        comparable, and a library changed by more than half is built anew (core/indexes.py).
        """
        keep = ~np.isin(self.ids, np.concatenate([np.asarray(removed, dtype=np.int64), ids]))
        new = VectorIndex.__new__(VectorIndex)
        new.dim, new.center = self.dim, self.center
        new.exact = _exact_with(self.exact, removed, ids, floats, self.dim)
        added = np.ascontiguousarray(vectors, dtype=np.int8).reshape(len(ids), self.dim)
        all_ids = np.concatenate([self.ids[keep], ids])
        order = np.argsort(all_ids, kind="stable")
        new.ids = all_ids[order]
        new.vectors = np.concatenate([self.vectors[keep], added])[order]
        if new.center is None and len(new.ids):
            new.center = new._center()
            new.inverse_norms, new.codes = new._norms_and_codes(new.vectors)
        else:
            added_norms, added_codes = new._norms_and_codes(added)
            new.inverse_norms = np.concatenate([self.inverse_norms[keep], added_norms])[order]
            new.codes = np.concatenate([self.codes[:, keep], added_codes], axis=1)[:, order]
        return new

    def nearest(self, vector: Floats, limit: int,
                rows: npt.NDArray[np.intp] | None = None) -> list[tuple[int, float]]:
        """(passage id, cosine distance) of the limit nearest passages, nearest first; among
        rows (of this index) if given."""
        if not len(self.ids) or limit <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        if norm > 0:
            query = query / norm
        if rows is None and len(self.ids) > EXACT_UP_TO:
            wanted = max(COARSE_CANDIDATES, int(COARSE_SHARE * len(self.ids)), 10 * limit)
            rows = self._coarse(query, wanted)
        similarity = self._similarity(query, rows)
        top = _best(similarity, max(limit, RESCORE) if self.exact is not None else limit)
        found = top if rows is None else rows[top]
        scores = similarity[top]
        if self.exact is not None and len(found):
            # The best RESCORE by int8 get their exact cosine and are put in its order; the
            # rest keep their int8 order after them (where rounding matters no more).
            head = min(len(found), RESCORE)
            floats = self.exact.of(self.ids[found[:head]])
            if floats is not None:
                lengths = np.maximum(np.linalg.norm(floats, axis=1), 1e-12)
                exact = (floats @ query) / lengths
                order = np.argsort(-exact, kind="stable")
                found = np.concatenate([found[:head][order], found[head:]])
                scores = np.concatenate([exact[order], scores[head:]])
        return [(int(pid), 1.0 - float(sim))
                for pid, sim in zip(self.ids[found[:limit]], scores[:limit], strict=True)]

    def rows_of(self, passage_ids: Sequence[int]) -> npt.NDArray[np.intp]:
        """Rows of those of passage_ids that are in the index, ascending."""
        wanted = np.unique(np.asarray(passage_ids, dtype=np.int64))
        at = np.searchsorted(self.ids, wanted)
        inside = at < len(self.ids)
        at, wanted = at[inside], wanted[inside]
        found: npt.NDArray[np.intp] = at[self.ids[at] == wanted]
        return found

    # --- scoring --------------------------------------------------------------------------

    def _similarity(self, query: Floats, rows: npt.NDArray[np.intp] | None) -> Floats:
        """Cosine of query (unit length) with every row, or with rows, in blocks of float32."""
        count = len(self.ids) if rows is None else len(rows)
        out = np.empty(count, dtype=np.float32)
        for start in range(0, count, SCORE_BLOCK):
            end = min(count, start + SCORE_BLOCK)
            if rows is None:
                block, scale = self.vectors[start:end], self.inverse_norms[start:end]
            else:
                picked = rows[start:end]
                block, scale = self.vectors[picked], self.inverse_norms[picked]
            out[start:end] = (block.astype(np.float32) @ query) * scale
        return out

    def _coarse(self, query: Floats, candidates: int) -> npt.NDArray[np.intp]:
        """Rows of the passages whose sign codes are nearest the query's (hamming distance):
        about `candidates` of them, in row order, for scoring."""
        code = _sign_codes(query[None, :], self.center)[:, 0]
        distance = np.bitwise_count(self.codes[0] ^ code[0]).astype(np.uint16)
        for word in range(1, len(code)):
            distance += np.bitwise_count(self.codes[word] ^ code[word])
        # The smallest distance that takes in `candidates` rows (ties all come along).
        counts = np.cumsum(np.bincount(distance, minlength=64 * len(code) + 1))
        threshold = int(np.searchsorted(counts, min(candidates, len(distance))))
        return np.flatnonzero(distance <= threshold)

    def _center(self) -> Floats:
        """The mean unit vector, from an evenly spread sample (CENTER_SAMPLE rows): the sign
        codes only need a centre near the library's, and a full pass costs a second at 1M."""
        step = max(1, len(self.ids) // CENTER_SAMPLE)
        sample = self.vectors[::step].astype(np.float32)
        sample /= np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
        center: Floats = sample.mean(axis=0).astype(np.float32)
        return center

    def _norms_and_codes(self, vectors: Int8s) -> tuple[Floats, npt.NDArray[np.uint64]]:
        """The inverse length and the sign code of every row, in one pass of float32 blocks."""
        inverse = np.empty(len(vectors), dtype=np.float32)
        parts = []
        for start in range(0, len(vectors), SCORE_BLOCK):
            block = vectors[start:start + SCORE_BLOCK].astype(np.float32)
            norms = np.sqrt(np.einsum("ij,ij->i", block, block))
            norms[norms == 0] = 1.0
            inverse[start:start + len(block)] = 1.0 / norms
            parts.append(_sign_codes(block / norms[:, None], self.center))
        words = (self.dim + 63) // 64 if self.center is not None else 0
        codes = (np.ascontiguousarray(np.concatenate(parts, axis=1)) if parts
                 else np.zeros((words, 0), dtype=np.uint64))
        return inverse, codes


def _best(scores: Floats, limit: int) -> npt.NDArray[np.intp]:
    """Positions of the limit highest scores, highest first (ties in position order)."""
    top = (np.argpartition(-scores, limit)[:limit] if limit < len(scores)
           else np.arange(len(scores)))
    ordered: npt.NDArray[np.intp] = top[np.argsort(-scores[top], kind="stable")]
    return ordered


def _exact_with(exact: ExactVectors | None, removed: Sequence[int], ids: Ids,
                floats: Floats | None, dim: int) -> ExactVectors | None:
    """exact with the float vectors of ids added; None once a patch brings none (an int8
    library). A passage without a float vector makes `of` answer None, so the candidates it
    is among keep their int8 order."""
    if floats is None:
        return None if len(ids) else exact
    floats = np.ascontiguousarray(floats, dtype=np.float32).reshape(len(ids), dim)
    if isinstance(exact, MemoryVectors):
        return exact.changed(removed, ids, floats)
    return MemoryVectors(ids, floats, older=exact)


def _sign_codes(matrix: Floats, center: Floats | None) -> npt.NDArray[np.uint64]:
    """One bit a dimension (above the library's mean vector or not), packed into 64-bit words,
    one row of words per word position: (words, rows), so that each pass is contiguous."""
    if center is None or not len(matrix):
        words = 0 if center is None else (len(center) + 63) // 64
        return np.zeros((words, 0), dtype=np.uint64)
    bits = np.packbits((matrix - center) > 0, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(np.ascontiguousarray(bits).view(np.uint64).T)
