"""The keyword index on a corpus made by code: exact BM25, its saved copy loaded and patched,
a damaged copy rebuilt, scope and phrases, stale temporary copies swept (no ../shared needed)."""

from __future__ import annotations

import itertools
import math
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import cast

import apsw
import numpy as np
import pytest

from core import keyword_index as keyword_module
from core import querytext
from core.search import DEFAULT_PARAMS, SearchParams
from core.store import queries, search_queries
from core.store.connection import connect, write_transaction
from core.store.migrations import migrate
from tests.core.search_helpers import keyword_index, keyword_ranks

_WORD_TEXT = ("harbour tide gull lamp keeper rope quay sail anchor storm beacon ledger fog cliff "
         "current mooring hull lantern signal wreck buoy channel pilot ferry dock crane "
         "net cargo salt oar mast deck bell shoal reef compass chart gale swell ebb flood "
         "running lights lighting boats boating sailed sailing keepers kept wind winds")
WORDS = tuple(_WORD_TEXT.split())
DEPTH = 50


def _sentence(rng: random.Random, words: int) -> str:
    # Zipf-like: early words are common, late ones rare, so idf and tf both vary
    picked = [WORDS[min(len(WORDS) - 1, int(rng.paretovariate(0.9)) - 1)] for _ in range(words)]
    return " ".join(picked).capitalize() + "."


def _add_documents(db: apsw.Connection, rng: random.Random, count: int,
                   first: int = 0) -> list[int]:
    """count documents of a passage each, through the keyword-only path evaluation uses."""
    ids = []
    with write_transaction(db):
        for n in range(first, first + count):
            title = f"{rng.choice(WORDS)} {rng.choice(WORDS)} log {n}"
            doc_id = queries.insert_document(
                db, title=title, doc_type="markdown", original_path=f"/docs/{n}.md",
                stored_path=None, sha256=None, size_bytes=0, pages=1, status="indexed",
                error=None, error_kind=None, notes=None)
            text = " ".join(_sentence(rng, rng.randint(4, 30)) for _ in range(rng.randint(1, 4)))
            search_queries.insert_bare_passage(db, doc_id, text, title)
            ids.append(doc_id)
    return ids


def _remove(db: apsw.Connection, *documents: int) -> None:
    # the keyword-only library has no vector table for queries.delete_document to clear
    with write_transaction(db):
        for doc_id in documents:
            db.execute("DELETE FROM passages WHERE document_id = ?", (doc_id,))


def _library(path: Path, seed: int = 3) -> apsw.Connection:
    db = connect(path)
    migrate(db)
    _add_documents(db, random.Random(seed), 400)
    return db


class Exhaustive:
    """BM25 as the textbook writes it, in plain Python, from each passage's own tokens: nothing
    shared with keyword_index but the FTS5 tokenizer (which defines what a term is)."""

    def __init__(self, db: apsw.Connection) -> None:
        self.db = db
        self.tokenize = db.fts5_tokenizer(*search_queries.FTS_TOKENIZER)
        self.counts: dict[int, tuple[Counter[str], Counter[str]]] = {}
        self.documents: dict[int, int] = {}
        for pid, document, context, text in search_queries.passage_texts(db, None):
            self.counts[pid] = (Counter(self.tokens(context)), Counter(self.tokens(text)))
            self.documents[pid] = document

    def tokens(self, text: str, reason: int = apsw.FTS5_TOKENIZE_DOCUMENT) -> list[str]:
        return [str(cast(tuple[int, int, str], t)[2])
                for t in self.tokenize(text.encode(), reason, None)]

    def top(self, text: str, params: SearchParams = DEFAULT_PARAMS,
            scope: set[int] | None = None, depth: int = DEPTH) -> list[tuple[int, float]]:
        parsed = querytext.parse(text, querytext.STOPWORD_LISTS[params.stopwords])
        terms: dict[str, int] = {}
        for word in parsed.scored_words():
            for token in self.tokens(word, apsw.FTS5_TOKENIZE_QUERY):
                terms[token] = terms.get(token, 0) + 1 if params.query_repeats else 1
        k1, b, wc, wt = params.bm25_k1, params.bm25_b, params.context_weight, params.text_weight
        n = len(self.counts)
        length = {p: wc * sum(c.values()) + wt * sum(t.values())
                  for p, (c, t) in self.counts.items()}
        average = sum(length.values()) / n
        scores: dict[int, float] = {}
        for term, times in terms.items():
            holding = [p for p, (c, t) in self.counts.items() if term in c or term in t]
            idf = math.log(1 + (n - len(holding) + 0.5) / (len(holding) + 0.5))
            for p in holding:
                c, t = self.counts[p]
                tf = wc * c[term] + wt * t[term]
                norm = k1 * (1 - b + b * length[p] / average)
                scores[p] = scores.get(p, 0.0) + times * idf * tf * (k1 + 1) / (tf + norm)
        if scope is not None:
            scores = {p: s for p, s in scores.items() if self.documents[p] in scope}
        expression = parsed.phrase_expression()
        if expression is not None:  # phrases are required when some passage holds them all
            phrased = set(search_queries.phrase_matches(self.db, expression)) & scores.keys()
            if phrased:
                scores = {p: s for p, s in scores.items() if p in phrased}
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:depth]


def assert_same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """The same scores rank by rank, and the same passages but for the order of equal scores."""
    assert len(got) == len(want)
    for rank, ((gp, gs), (wp, ws)) in enumerate(zip(got, want, strict=True)):
        assert gs == pytest.approx(ws, rel=1e-9, abs=1e-12), (rank, gp, wp)
    cut = want[-1][1] if want else 0.0
    assert {p for p, s in got if s > cut + 1e-9} == {p for p, s in want if s > cut + 1e-9}


QUERIES = ("harbour lamp", "the keeper kept the lighting", "storm gale swell wreck", "sailing",
           "boats boating boat", "gull gull gull rope", "running lights of the ferry",
           "compass chart reef shoal ebb flood", "nothing matches zebra", "log 7",
           "winds and the tide", "anchor mooring buoy channel pilot dock crane net cargo salt")


def assert_exact(db: apsw.Connection, params: SearchParams = DEFAULT_PARAMS) -> None:
    reference = Exhaustive(db)
    for text in QUERIES:
        got = keyword_ranks(db, text, DEPTH, None, params)
        assert_same(got, reference.top(text, params))
    assert any(reference.top(text) for text in QUERIES)  # not an empty comparison


@pytest.mark.parametrize("params", [
    DEFAULT_PARAMS,
    replace(DEFAULT_PARAMS, bm25_k1=0.9, bm25_b=0.9, context_weight=1.0, stopwords="lucene",
            query_repeats=True),
    replace(DEFAULT_PARAMS, bm25_k1=1.5, bm25_b=0.2, context_weight=3.0, stopwords="none"),
], ids=["default", "lucene-like", "heavy-title"])
def test_top_results_equal_exhaustive_bm25(tmp_path: Path, params: SearchParams) -> None:
    db = _library(tmp_path / "library.db")
    assert db.execute("SELECT count(*) FROM passages").fetchone()[0] > 300
    assert_exact(db, params)


def test_the_saved_copy_is_loaded_and_patched_after_writes_here_and_elsewhere(
        tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    db = _library(path)
    rng = random.Random(11)
    keyword_index(db)  # built, and saved
    saved = tmp_path / f"library.db{keyword_module.CACHE_SUFFIX}"
    assert saved.exists()
    # This connection's writes: in the change log, patched into a new segment.
    _remove(db, 3, 40, 77)
    _add_documents(db, rng, 12, first=1000)
    assert_exact(db)
    assert len(keyword_index(db).segments) == 2  # patched, not rebuilt
    # Another connection's writes: in the same log.
    other = connect(path)
    _remove(other, 5, 6)
    _add_documents(other, rng, 9, first=2000)
    other.close()
    assert_exact(db)
    assert len(keyword_index(db).segments) == 3
    db.close()
    # A new connection loads the saved full build and patches what changed since it was made.
    later = connect(path)
    index = keyword_index(later)
    assert len(index.segments) == 2 and int((~index.alive).sum()) > 0  # loaded, then patched
    assert_exact(later)
    later.close()


def test_a_damaged_saved_copy_is_built_anew(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    db = _library(path)
    keyword_index(db)
    db.close()
    saved = tmp_path / f"library.db{keyword_module.CACHE_SUFFIX}"
    whole = saved.read_bytes()
    for damage in (b"not an index", whole[: len(whole) // 2]):
        saved.write_bytes(damage)
        again = connect(path)
        assert len(keyword_index(again).segments) == 1  # built anew
        assert_exact(again)
        again.close()
        with np.load(saved, allow_pickle=False) as data:  # and saved whole again
            assert str(data["format"]) == keyword_module.CACHE_FORMAT


def test_scope_and_phrases_rank_by_the_same_bm25(tmp_path: Path) -> None:
    db = _library(tmp_path / "library.db")
    reference = Exhaustive(db)
    scope = sorted(set(reference.documents.values()))[::7]
    for text in QUERIES:
        assert_same(keyword_ranks(db, text, DEPTH, scope),
                    reference.top(text, scope=set(scope)))
    # A phrase some passages hold: only they are ranked, by BM25 of all the words.
    phrase = next(f"{a} {b}" for a, b in itertools.pairwise(WORDS)
                  if search_queries.phrase_matches(db, f'"{a} {b}"'))
    holding = set(search_queries.phrase_matches(db, f'"{phrase}"'))
    text = f'lamp "{phrase}" storm'
    got = keyword_ranks(db, text, DEPTH, None)
    assert got and {p for p, _ in got} <= holding
    assert_same(got, reference.top(text))
    # A phrase no passage holds is not required: its words are scored as words.
    absent = 'storm "zebra harbour"'
    assert_same(keyword_ranks(db, absent, DEPTH, None), reference.top(absent))
    assert keyword_ranks(db, absent, DEPTH, None)


@pytest.mark.skipif(os.name != "posix", reason="asks after pids with signal 0")
def test_temporary_copies_of_writers_that_died_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    db = _library(path)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead_pid = int(ended.stdout)
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    name = f"library.db{keyword_module.CACHE_SUFFIX}"
    try:
        dead = tmp_path / f".{name}.{dead_pid}.140001"
        alive = tmp_path / f".{name}.{living.pid}.140002"
        mine = tmp_path / f".{name}.{os.getpid()}.140003"  # perhaps another thread, saving now
        unrelated = tmp_path / ".library.db.notes.1.2"
        for stale in (dead, alive, mine, unrelated):
            stale.write_bytes(b"half a copy")
        keyword_index(db)
        assert not dead.exists()
        assert alive.exists() and mine.exists() and unrelated.exists()
        assert (tmp_path / name).exists()
    finally:
        living.kill()
        living.wait()
        db.close()


def test_a_saved_copy_serves_only_the_library_that_wrote_it(tmp_path: Path) -> None:
    """A library.db replaced at the same path (restored from a backup, another library copied
    in) is another library: the saved keyword index beside it is not patched onto it."""
    path = tmp_path / "library.db"
    first = _library(path, seed=3)
    keyword_index(first)  # built and saved beside library.db
    first.close()
    other = _library(tmp_path / "other.db", seed=9)
    _add_documents(other, random.Random(5), 5, first=5000)  # a later position in its own log
    other.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"library.db{suffix}").unlink(missing_ok=True)
    (tmp_path / "other.db").rename(path)
    replaced = connect(path)
    index = keyword_index(replaced)
    assert len(index.segments) == 1  # built anew, not the first library's patched
    assert_exact(replaced)
    replaced.close()
