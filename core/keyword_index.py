"""Exact BM25 over every query term: an in-memory impact index of the library's passages, made
with FTS5's own tokenizer (so a term is what FTS5 indexes), shared per library file and kept in
step by the library's change log (core/indexes.py, core/store/changes.py).

Why not FTS5's bm25(): it scores every passage that matches any OR-ed term, one docsize lookup
each, so a long question with a common word took 45 ms p50 / 105 ms p95 at 100k passages, and
its formula is fixed (k1 = 1.2, b = 0.75, an idf of 0 for words in half the passages, column
weights on tf but not on length). Here a query reads only its terms' postings (numpy arrays)
and sums exact BM25 contributions: a few milliseconds at 300k passages, nothing dropped.
"""

from __future__ import annotations

import itertools
import math
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import numpy as np
import numpy.typing as npt

from core import index_file
from core.paths import KEYWORD_INDEX_SUFFIX
from core.store import changes, search_queries, tokenizer

Rows = npt.NDArray[np.int64]
Int32s = npt.NDArray[np.int32]
Counts = npt.NDArray[Any]  # uint16, or uint32 for a segment with a count above 65,535


@dataclass(frozen=True)
class Bm25:
    """Lucene's BM25 (idf = ln(1 + (N - n + 0.5) / (n + 0.5))) over two fields, BM25F-style:
    a passage's term frequency and length are context_weight * (title and headings) +
    text_weight * (text), so at 1:1 it is BM25 of the concatenated passage."""

    k1: float = 1.2
    b: float = 0.75
    context_weight: float = 1.0
    text_weight: float = 1.0


class _Segment:
    """Postings of some passages, by term id: rows (into the index's row arrays) and the
    term's count in each column, sorted by term id then row."""

    def __init__(self, terms: Int32s, rows: Int32s, columns: npt.NDArray[np.int8],
                 counts: Int32s, vocabulary: int) -> None:
        """One entry per (term, row, column) with its count, in row order."""
        first_row = int(rows.min(initial=0))
        key = terms.astype(np.int64) * (int(rows.max(initial=0)) - first_row + 1) + (
            rows - first_row)
        order = np.argsort(key, kind="stable")  # a row's context entry stays before its text's
        key, terms, rows = key[order], terms[order], rows[order]
        context = np.where(columns[order] == 0, counts[order], 0)
        text = counts[order] - context
        first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(
            key) else np.zeros(0, dtype=np.int64)
        self.rows = rows[first].astype(np.int32)
        context = np.add.reduceat(context, first) if len(first) else context
        text = np.add.reduceat(text, first) if len(first) else text
        # passages are token-budgeted, so a count fits 16 bits; a bare huge one gets 32
        wide = max(int(context.max(initial=0)), int(text.max(initial=0))) > 0xFFFF
        self.context = context.astype(np.uint32 if wide else np.uint16)
        self.text = text.astype(np.uint32 if wide else np.uint16)
        self.starts = np.searchsorted(terms[first], np.arange(vocabulary + 1)).astype(np.int64)

    @classmethod
    def of(cls, rows: Int32s, context: Counts, text: Counts, starts: Rows) -> _Segment:
        segment = cls.__new__(cls)
        segment.rows, segment.context, segment.text, segment.starts = rows, context, text, starts
        return segment

    def postings(self, term: int) -> tuple[Int32s, Counts, Counts]:
        if term + 1 >= len(self.starts):
            empty = np.zeros(0, dtype=self.text.dtype)
            return np.zeros(0, dtype=np.int32), empty, empty
        start, end = int(self.starts[term]), int(self.starts[term + 1])
        return self.rows[start:end], self.context[start:end], self.text[start:end]

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.context.nbytes + self.text.nbytes + self.starts.nbytes)


FLUSH_POSTINGS = 1 << 20
CACHE_SUFFIX = KEYWORD_INDEX_SUFFIX  # library.db.keywords.npz, kept 0600 like library.db
CACHE_FORMAT = (f"folio keyword index 2, tokenizer {search_queries.FTS_TOKENIZER} "
                f"version {tokenizer.VERSION}")
REBUILD_SHARE = 0.25  # more passages than this share in later segments: build one segment anew
MAX_SEGMENTS = 8


class KeywordIndex:
    """Every passage's term counts (title/headings and text) and lengths, in numpy arrays.

    Built on the first keyword search from the passages table, tokenized with the FTS5 table's
    tokenizer (or loaded from the copy saved beside the library file). Brought up to date from
    the change log: changed passages are masked out and tokenized again into a new small
    segment; statistics (N, lengths, document frequencies) count live passages only, so
    scores are always those of a fresh build. Call within one read transaction
    (changes.snapshot), so that the position and the passages read agree.
    """

    def __init__(self, db: apsw.Connection, save: bool = True) -> None:
        self.tokenizer = db.fts5_tokenizer(*search_queries.FTS_TOKENIZER)
        self._tokenize = tokenizer.tokens(db)  # the same tokens, quicker for most text
        vocabulary: defaultdict[str, int] = defaultdict()
        vocabulary.default_factory = vocabulary.__len__  # a new term gets the next id, in C
        self.vocabulary = vocabulary
        self.position = changes.position(db)
        self.ids: Rows = np.zeros(0, dtype=np.int64)
        self.documents: Rows = np.zeros(0, dtype=np.int64)
        self.lengths = np.zeros((2, 0), dtype=np.float64)
        self.alive = np.zeros(0, dtype=bool)
        self.sizes: Rows = np.zeros(0, dtype=np.int64)  # UTF-8 bytes of context + text
        self.segments: list[_Segment] = []
        self._norms: dict[tuple[float, float, float, float], tuple[npt.NDArray[np.float64],
                                                                    float]] = {}
        self._stopped: dict[frozenset[str], frozenset[str]] = {}  # a stopword list's tokens
        if (saved := _cache_path(db)) is not None:
            index_file.sweep_temporaries(saved)
        if not self._load(db):
            self._add(search_queries.passage_texts(db, None))
            if save:
                self._save(db)

    # --- building ----------------------------------------------------------------------------

    def _tokens(self, text: str | bytes, reason: int = apsw.FTS5_TOKENIZE_DOCUMENT) -> list[str]:
        """The tokens FTS5 indexes for text (without offsets or colocated tokens, strings)."""
        utf8 = text.encode("utf-8") if isinstance(text, str) else text
        return self._tokenize(utf8, reason)

    def _add(self, passages: Iterable[tuple[int, int, str, str]]) -> None:
        ids: list[int] = []
        documents: list[int] = []
        lengths: list[int] = []
        sizes: list[int] = []
        passage_bytes: list[int] = []
        terms: list[int] = []
        counts: list[int] = []
        term_arrays: list[npt.NDArray[np.int32]] = []
        count_arrays: list[npt.NDArray[np.int32]] = []
        lookup = self.vocabulary.__getitem__
        for pid, document, context, text in passages:
            ids.append(pid)
            documents.append(document)
            size = 0
            for value in (context, text):
                utf8 = value.encode("utf-8")
                size += len(utf8)
                tokens = self._tokens(utf8)
                lengths.append(len(tokens))
                found = Counter(tokens)
                terms.extend(map(lookup, found))
                counts.extend(found.values())
                sizes.append(len(found))
            passage_bytes.append(size)
            if len(terms) > FLUSH_POSTINGS:  # Python ints take 36 bytes each, int32s 4
                term_arrays.append(np.asarray(terms, dtype=np.int32))
                count_arrays.append(np.asarray(counts, dtype=np.int32))
                terms, counts = [], []
        if not ids:
            return
        term_arrays.append(np.asarray(terms, dtype=np.int32))
        count_arrays.append(np.asarray(counts, dtype=np.int32))
        cells = np.arange(len(sizes), dtype=np.int64)  # (row, column) pairs in order
        sized = np.asarray(sizes, dtype=np.int64)
        self.segments.append(_Segment(
            np.concatenate(term_arrays),
            np.repeat((len(self.ids) + cells // 2).astype(np.int32), sized),
            np.repeat((cells % 2).astype(np.int8), sized), np.concatenate(count_arrays),
            len(self.vocabulary)))
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.documents = np.concatenate([self.documents, np.asarray(documents, dtype=np.int64)])
        self.lengths = np.concatenate(
            [self.lengths, np.asarray(lengths, dtype=np.float64).reshape(-1, 2).T], axis=1)
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=bool)])
        self.sizes = np.concatenate([self.sizes, np.asarray(passage_bytes, dtype=np.int64)])
        self._norms.clear()

    # --- the copy on disk --------------------------------------------------------------------
    # Building takes ~6-11 s of CPU at 100k passages (tokenizing every passage in Python), so a
    # full build is saved next to the library file and the next connection or process loads
    # it and patches what differs: the passages the change log names since the saved position
    # are tokenized again (a copy older than the log, or of another epoch, is built anew).
    # Best effort: a library that cannot be written still
    # searches, building in memory.

    def _save(self, db: apsw.Connection) -> None:
        path = _cache_path(db)
        words = list(self.vocabulary)
        if path is None or len(self.segments) != 1 or any("\n" in w for w in words):
            return
        segment = self.segments[0]
        index_file.save(path, {
            "format": np.array(CACHE_FORMAT),
            "vocabulary": np.frombuffer("\n".join(words).encode("utf-8"), np.uint8),
            "rows": segment.rows, "context": segment.context, "text": segment.text,
            "starts": segment.starts, "ids": self.ids, "documents": self.documents,
            "lengths": self.lengths, "sizes": self.sizes,
            "epoch": np.array(self.position.epoch), "seq": np.array(self.position.seq)})

    def _forget(self) -> None:
        self.vocabulary.clear()
        self.segments = []
        self.ids = self.documents = self.sizes = np.zeros(0, dtype=np.int64)
        self.lengths = np.zeros((2, 0), dtype=np.float64)
        self.alive = np.zeros(0, dtype=bool)

    def _load(self, db: apsw.Connection) -> bool:
        path = _cache_path(db)
        if path is None:
            return False
        try:
            data = index_file.load(path)  # memory-mapped: postings are read as searches need
            if data is None or str(data["format"]) != CACHE_FORMAT:
                return False
            words = bytes(data["vocabulary"]).decode("utf-8")
            self.vocabulary.update(zip(words.split("\n") if words else [], itertools.count()))
            self.segments = [_Segment.of(data["rows"], data["context"], data["text"],
                                         data["starts"])]
            self.ids, self.documents = data["ids"], data["documents"]
            self.lengths, self.sizes = data["lengths"], data["sizes"]
            saved = changes.Position(str(data["epoch"]), int(data["seq"]), 0)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
            self._forget()
            return False
        self.alive = np.ones(len(self.ids), dtype=bool)
        changed = changes.changed_between(db, saved, self.position)
        if changed is None or len(changed) > REBUILD_SHARE * max(1, len(self.ids)):
            self._forget()  # quicker to build anew (and save that)
            return False
        self._remove(changed)
        self._add(search_queries.passage_texts(db, changed))
        return True

    def _remove(self, ids: Sequence[int]) -> None:
        if ids:
            self.alive &= ~np.isin(self.ids, np.asarray(ids, dtype=np.int64))
            self._norms.clear()

    def refresh(self, db: apsw.Connection) -> KeywordIndex:
        """This index brought up to date with the database, or a new one if that is simpler."""
        now = changes.position(db)
        changed = changes.changed_between(db, self.position, now)
        if changed == []:
            return self
        later = sum(len(s.rows) for s in self.segments[1:])
        if (changed is None or len(changed) > REBUILD_SHARE * max(1, int(self.alive.sum()))
                or len(self.segments) >= MAX_SEGMENTS
                or later > REBUILD_SHARE * len(self.segments[0].rows if self.segments else ())):
            return KeywordIndex(db)
        self.position = now
        self._remove(sorted(changed))
        self._add(search_queries.passage_texts(db, sorted(changed)))
        return self

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.documents, self.lengths, self.alive)
        return sum(s.nbytes for s in self.segments) + sum(int(a.nbytes) for a in arrays)

    # --- scoring -----------------------------------------------------------------------------

    def query_terms(self, words: Sequence[str]) -> dict[str, int]:
        """{FTS5 token: times in the query} of the words (a word may be several tokens)."""
        counts: dict[str, int] = {}
        for word in words:
            for token in self._tokens(word, apsw.FTS5_TOKENIZE_QUERY):
                counts[token] = counts.get(token, 0) + 1
        return counts

    def _norm(self, bm25: Bm25) -> tuple[npt.NDArray[np.float64], float]:
        """k1 * (1 - b + b * length / average length) of every row, and the live row count."""
        key = (bm25.k1, bm25.b, bm25.context_weight, bm25.text_weight)
        if key not in self._norms:
            length = bm25.context_weight * self.lengths[0] + bm25.text_weight * self.lengths[1]
            live = int(self.alive.sum())
            average = float(length[self.alive].sum()) / live if live else 1.0
            norm = bm25.k1 * (1 - bm25.b + bm25.b * length / (average or 1.0))
            self._norms.clear()
            self._norms[key] = (norm, float(live))
        return self._norms[key]

    def relevance_model(self, passages: Sequence[tuple[str, str, float]], bm25: Bm25,
                        count: int, stopwords: frozenset[str]) -> dict[str, float]:
        """RM3's feedback words from (context, text, weight) passages: the count tokens with
        the largest sum of weight * tf / length over the passages (columns weighted as bm25
        weights them), as {token: share}, the shares summing to 1. The tokens of stopwords,
        of digits only or of one character are left out."""
        stopped = self._stopped.get(stopwords)
        if stopped is None:
            stopped = frozenset(t for word in stopwords for t in self._tokens(word))
            self._stopped = {stopwords: stopped}
        model: defaultdict[str, float] = defaultdict(float)
        for context, text, weight in passages:
            found: defaultdict[str, float] = defaultdict(float)
            length = 0.0
            for value, column in ((context, bm25.context_weight), (text, bm25.text_weight)):
                tokens = self._tokens(value)
                length += column * len(tokens)
                for token, times in Counter(tokens).items():
                    found[token] += column * times
            if length <= 0:
                continue
            for token, tf in found.items():
                if token not in stopped and len(token) > 1 and not token.isdigit():
                    model[token] += weight * tf / length
        chosen = sorted(model.items(), key=lambda item: (-item[1], item[0]))[:count]
        total = sum(w for _, w in chosen)
        return {t: w / total for t, w in chosen} if total > 0 else {}

    def scores(self, terms: Mapping[str, float], bm25: Bm25,
               repeats: bool = True) -> tuple[Rows, npt.NDArray[np.float64]]:
        """(rows, BM25 scores) of every live passage holding at least one of terms, with each
        term's contribution times its weight in the query if repeats (its count, as in
        Lucene's OR query, or a feedback query's weight), else once."""
        norm, total = self._norm(bm25)
        all_rows: list[npt.NDArray[np.int32]] = []
        all_scores: list[npt.NDArray[np.float64]] = []
        dead = not bool(self.alive.all())
        for token, count in terms.items():
            term = self.vocabulary.get(token)
            if term is None:
                continue
            parts = [segment.postings(term) for segment in self.segments]
            rows = np.concatenate([p[0] for p in parts])
            context = np.concatenate([p[1] for p in parts])
            text = np.concatenate([p[2] for p in parts])
            if dead:
                keep = self.alive[rows]
                rows, context, text = rows[keep], context[keep], text[keep]
            if not len(rows):
                continue
            found = len(rows)
            idf = math.log(1.0 + (total - found + 0.5) / (found + 0.5))
            weight = idf * (count if repeats else 1)
            tf = bm25.context_weight * context + bm25.text_weight * text.astype(np.float64)
            all_rows.append(rows)
            all_scores.append(weight * tf * (bm25.k1 + 1) / (tf + norm[rows]))
        if not all_rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        rows = np.concatenate(all_rows)
        summed = np.bincount(rows, weights=np.concatenate(all_scores), minlength=len(self.ids))
        if bm25.context_weight > 0 and bm25.text_weight > 0:  # every contribution is > 0
            touched = np.flatnonzero(summed).astype(np.int64)
        else:
            touched = np.flatnonzero(np.bincount(rows, minlength=len(self.ids))).astype(np.int64)
        return touched, summed[touched].astype(np.float64)

    def top(self, terms: Mapping[str, float], limit: int, bm25: Bm25, repeats: bool = True,
            allowed: npt.NDArray[np.bool_] | None = None) -> list[tuple[int, float]]:
        """(passage id, BM25) of the limit best passages, best first, ties by passage id;
        only rows where allowed is true, if given."""
        rows, scores = self.scores(terms, bm25, repeats)
        if allowed is not None:
            keep = allowed[rows]
            rows, scores = rows[keep], scores[keep]
        if limit < len(rows):
            # everything scoring at least the limit-th best, so ties at the cut are all kept
            cut = np.partition(scores, len(scores) - limit)[len(scores) - limit]
            keep = scores >= cut
            rows, scores = rows[keep], scores[keep]
        ids = self.ids[rows]
        order = np.lexsort((ids, -scores))[:limit]
        return [(int(p), float(s)) for p, s in zip(ids[order], scores[order], strict=True)]

    def rows_of_documents(self, documents: Sequence[int]) -> npt.NDArray[np.bool_]:
        return np.isin(self.documents, np.asarray(documents, dtype=np.int64)) & self.alive

    def rows_of_passages(self, ids: Sequence[int]) -> npt.NDArray[np.bool_]:
        return np.isin(self.ids, np.asarray(ids, dtype=np.int64)) & self.alive


def _cache_path(db: apsw.Connection) -> Path | None:
    """library.db.keywords.npz beside library.db (None for an in-memory database)."""
    name = db.filename
    return Path(name).with_name(Path(name).name + CACHE_SUFFIX) if name else None
