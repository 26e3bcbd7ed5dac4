"""Rank safety: the keyword side returns exactly the top 200 of exhaustive BM25 over every query
term, for every query of both development sets (SciFact, Cranfield), on real FTS5 libraries."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import apsw
import pytest

from core import evaluation, querytext
from core import keyword_index as keyword_module
from core.search import DEFAULT_PARAMS, Searcher, SearchParams
from core.store import search_queries
from core.store.connection import connect, write_transaction
from tests.core.search_helpers import indexes_of, keyword_index, keyword_ranks

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SETS = ("scifact", "cranfield")
DEPTH = 200

pytestmark = pytest.mark.skipif(not all((DATA / s / "corpus.jsonl").exists() for s in SETS),
                                reason="the development sets are not in ../shared/data")


class Exhaustive:
    """BM25 as the textbook writes it, in plain Python: every passage holding a query term is
    scored term by term from its own token counts; nothing shared with keyword_index but the
    FTS5 tokenizer (which defines what a term is)."""

    def __init__(self, db: apsw.Connection) -> None:
        self.db = db
        self.tokenize = db.fts5_tokenizer(*search_queries.FTS_TOKENIZER)
        self.postings: dict[str, list[tuple[int, int, int]]] = {}
        self.lengths: dict[int, tuple[int, int]] = {}
        self.counts: dict[int, tuple[Counter[str], Counter[str]]] = {}
        for pid, _, context, text in search_queries.passage_texts(db, None):
            c, t = self.tokens(context), self.tokens(text)
            self.lengths[pid] = (len(c), len(t))
            cc, tc = Counter(c), Counter(t)
            self.counts[pid] = (cc, tc)
            for term in cc.keys() | tc.keys():
                self.postings.setdefault(term, []).append((pid, cc[term], tc[term]))

    def tokens(self, text: str, reason: int = apsw.FTS5_TOKENIZE_DOCUMENT) -> list[str]:
        return [str(cast(tuple[int, int, str], t)[2])
                for t in self.tokenize(text.encode(), reason, None)]

    def query(self, text: str, params: SearchParams) -> dict[str, int]:
        words = querytext.parse(text, querytext.STOPWORD_LISTS[params.stopwords]).scored_words()
        terms: dict[str, int] = {}
        for word in words:
            for token in self.tokens(word, apsw.FTS5_TOKENIZE_QUERY):
                terms[token] = terms.get(token, 0) + 1 if params.query_repeats else 1
        return terms

    def top(self, text: str, params: SearchParams, depth: int = DEPTH,
            weighted: dict[str, float] | None = None) -> list[tuple[int, float]]:
        """The depth best passages by BM25 of the query's terms, or of weighted's (each
        term's BM25 times its weight)."""
        k1, b, wc, wt = params.bm25_k1, params.bm25_b, params.context_weight, params.text_weight
        n = len(self.lengths)
        average = sum(wc * c + wt * t for c, t in self.lengths.values()) / n
        scores: dict[int, float] = {}
        terms = self.query(text, params) if weighted is None else weighted
        for term, count in terms.items():
            found = self.postings.get(term, [])
            idf = math.log(1 + (n - len(found) + 0.5) / (len(found) + 0.5))
            for pid, c, t in found:
                tf = wc * c + wt * t
                length = wc * self.lengths[pid][0] + wt * self.lengths[pid][1]
                norm = k1 * (1 - b + b * length / average)
                scores[pid] = scores.get(pid, 0.0) + count * idf * tf * (k1 + 1) / (tf + norm)
        # Quoted phrases are required when some passage holds them all (FTS5 says which).
        phrases = querytext.parse(text).phrase_expression()
        holding = set(search_queries.phrase_matches(self.db, phrases)) if phrases else set()
        if holding & scores.keys():
            scores = {p: s for p, s in scores.items() if p in holding}
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:depth]


    def rm3(self, text: str, feedback: list[tuple[int, float]],
            params: SearchParams) -> dict[str, float]:
        """RM3's query as its paper writes it: the query's terms with shares of 1 - share, and
        the feedback_terms terms of the relevance model sum_D P(D) P(t|D) with shares of share;
        P(D) the passage's score over the feedback's, P(t|D) its BM25F-weighted tf over its
        weighted length; stopwords, digits and one-letter tokens never feedback terms."""
        wc, wt = params.context_weight, params.text_weight
        stop = {t for w in querytext.STOPWORD_LISTS[params.stopwords] for t in self.tokens(w)}
        total = sum(score for _, score in feedback)
        model: dict[str, float] = {}
        for pid, score in feedback:
            cc, tc = self.counts[pid]
            length = wc * self.lengths[pid][0] + wt * self.lengths[pid][1]
            for term in cc.keys() | tc.keys():
                if term not in stop and len(term) > 1 and not term.isdigit():
                    model[term] = model.get(term, 0.0) + (score / total) * (
                        wc * cc[term] + wt * tc[term]) / length
        chosen = sorted(model.items(), key=lambda item: (-item[1], item[0]))
        chosen = chosen[:params.feedback_terms]
        mass = sum(w for _, w in chosen)
        share = params.feedback_term_share
        query = self.query(text, params)
        weighted = {t: (1 - share) * c / sum(query.values()) for t, c in query.items()}
        for term, weight in chosen:
            weighted[term] = weighted.get(term, 0.0) + share * weight / mass
        return weighted


def every_query(name: str) -> Iterator[str]:
    with (DATA / name / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)["text"]


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, apsw.Connection]:
    root = tmp_path_factory.mktemp("rank-safety")
    return {name: evaluation.keyword_only_db(evaluation.load(DATA / name, "test"),
                                             root / f"{name}.db") for name in SETS}


def differences(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> list[int]:
    """Ranks where the two lists differ other than by the order of equal scores (1e-9)."""
    assert len(got) == len(want)
    bad = []
    for rank, ((gp, gs), (wp, ws)) in enumerate(zip(got, want, strict=True)):
        assert gs == pytest.approx(ws, rel=1e-9, abs=1e-12), (rank, gp, wp)
        if gp != wp and abs(gs - ws) > 1e-9:
            bad.append(rank)
    cut = want[-1][1] if want else 0.0  # the same passages above the cut score
    assert {p for p, s in got if s > cut + 1e-9} == {p for p, s in want if s > cut + 1e-9}
    return bad


@pytest.mark.parametrize("name", SETS)
def test_top_200_equals_exhaustive_bm25_for_every_query(
        libraries: dict[str, apsw.Connection], name: str) -> None:
    db = libraries[name]
    reference = Exhaustive(db)
    queries = list(every_query(name))
    assert len(queries) == {"scifact": 1109, "cranfield": 225}[name]
    longest = max(len(querytext.parse(q).words) for q in queries)
    assert longest < querytext.MAX_WORDS  # the bound on pastes never cuts a real question
    differing = {}
    for text in queries:
        got = keyword_ranks(db, text, DEPTH, None)
        bad = differences(got, reference.top(text, DEFAULT_PARAMS))
        if bad:
            differing[text] = bad
    assert differing == {}


def test_index_holds_exactly_what_fts5_indexes(libraries: dict[str, apsw.Connection]) -> None:
    """Each term's passages are FTS5's own: the passages matching a query's terms OR-ed are
    the ones scored, and every term's document count is fts5vocab's."""
    for name, db in libraries.items():
        index = keyword_index(db)
        vocabulary = {str(t): int(d) for t, d in db.execute(
            "SELECT term, doc FROM passages_fts_terms")}
        assert len(vocabulary) == len(index.vocabulary)
        for token, term in index.vocabulary.items():
            found = sum(int(s.starts[term + 1] - s.starts[term]) for s in index.segments)
            assert found == vocabulary[token], (name, token)
        for text in list(every_query(name))[:50]:
            # each token as the stretch of the word it came from (FTS5 tokenizes the query
            # again: a stem is not always its own stem)
            pieces = {word.encode()[t[0]:t[1]].decode()
                      for word in querytext.parse(text).scored_words()
                      for t in cast(list[tuple[int, int, str]], index.tokenizer(
                          word.encode(), apsw.FTS5_TOKENIZE_QUERY, None))}
            expression = " OR ".join(f'"{p}"' for p in sorted(pieces))
            matched = set(search_queries.phrase_matches(db, expression)) if expression else set()
            scored = {p for p, _ in keyword_ranks(db, text, 10**9, None)}
            assert scored == matched, (name, text)


@pytest.mark.parametrize("params", [
    replace(DEFAULT_PARAMS, bm25_k1=0.9, bm25_b=0.4, context_weight=1.0, stopwords="lucene",
            query_repeats=True),
    replace(DEFAULT_PARAMS, bm25_k1=1.5, bm25_b=0.9, context_weight=3.0, stopwords="none"),
], ids=["lucene-like", "heavy-title"])
def test_other_knobs_are_exact_too(libraries: dict[str, apsw.Connection],
                                   params: SearchParams) -> None:
    db = libraries["cranfield"]
    reference = Exhaustive(db)
    for text in every_query("cranfield"):
        got = keyword_ranks(db, text, DEPTH, None, params)
        assert differences(got, reference.top(text, params)) == [], text


@pytest.mark.parametrize("name", SETS)
def test_a_feedback_query_is_scored_exactly(libraries: dict[str, apsw.Connection],
                                            name: str) -> None:
    """Pseudo-relevance feedback (RM3) makes a longer, weighted query from the top passages;
    that query is scored exactly too: its top 200 equal the textbook's, its feedback terms
    chosen by the textbook relevance model, for every Cranfield question and 300 SciFact
    claims."""
    db = libraries[name]
    reference = Exhaustive(db)
    params = replace(DEFAULT_PARAMS, feedback_passages=5, feedback_term_share=0.5)
    queries = list(every_query(name))[:300]
    for text in queries:
        first = reference.top(text, DEFAULT_PARAMS)[:params.feedback_passages]
        if not first:
            continue
        got = Searcher(db, indexes_of(db)).keyword_ranks(text, DEPTH, None, params, first)
        want = reference.top(text, params, weighted=reference.rm3(text, first, params))
        assert differences(got, want) == [], text


def test_scores_stay_exact_after_removing_and_adding_passages(
        libraries: dict[str, apsw.Connection], tmp_path: Path) -> None:
    """The index follows this connection's and another connection's writes, and scores as a
    fresh build would (N, lengths and document frequencies of live passages only)."""
    source = libraries["cranfield"]
    db = connect(tmp_path / "copy.db")
    with db.backup("main", source, "main") as backup:
        backup.step()
    keyword_ranks(db, "boundary layer", DEPTH, None)  # built
    removed = [1, 2, 3, 50, 700]
    with write_transaction(db):
        db.execute("DELETE FROM passages WHERE document_id IN (SELECT value FROM json_each(?))",
                   (json.dumps(removed),))
        db.execute("INSERT INTO passages (document_id, ordinal, text, heading_path, context, "
                   "page_start, page_end, token_count) VALUES (4, 1, ?, '', 'new', 1, 1, 0)",
                   ("boundary layer transition on a heated flat plate in supersonic flow",))
    other = connect(tmp_path / "copy.db")
    with write_transaction(other):
        other.execute("DELETE FROM passages WHERE document_id = 9")
        other.execute("INSERT INTO passages (document_id, ordinal, text, heading_path, context, "
                      "page_start, page_end, token_count) VALUES (5, 1, ?, '', '', 1, 1, 0)",
                      ("shock wave boundary layer interaction at hypersonic speeds",))
    other.close()
    reference = Exhaustive(db)
    for text in list(every_query("cranfield"))[:60]:
        got = keyword_ranks(db, text, DEPTH, None)
        assert differences(got, reference.top(text, DEFAULT_PARAMS)) == [], text
    assert len(keyword_index(db).segments) > 1  # patched, not rebuilt
    db.close()


def test_scope_and_phrases_rank_by_the_same_bm25(libraries: dict[str, apsw.Connection]) -> None:
    db = libraries["cranfield"]
    reference = Exhaustive(db)
    documents = dict(db.execute("SELECT id, document_id FROM passages"))
    scope = sorted(set(documents.values()))[::7]
    text = "what is the effect of heat transfer on the boundary layer"
    inside = [(p, s) for p, s in reference.top(text, DEFAULT_PARAMS, 10**9)
              if documents[p] in scope][:DEPTH]
    got = keyword_ranks(db, text, DEPTH, scope)
    assert differences(got, inside) == []
    phrased = 'heat transfer "boundary layer"'
    holding = set(search_queries.phrase_matches(db, '"boundary layer"'))
    want = [(p, s) for p, s in reference.top(phrased, DEFAULT_PARAMS, 10**9) if p in holding]
    assert differences(keyword_ranks(db, phrased, DEPTH, None), want[:DEPTH]) == []


def test_the_saved_index_is_loaded_patched_and_exact(libraries: dict[str, apsw.Connection],
                                                     tmp_path: Path) -> None:
    """A full build is saved beside the library; another connection loads it, tokenizes only
    the passages that changed since, and scores exactly; a damaged copy is built anew."""
    path = tmp_path / "library.db"
    first = connect(path)
    with first.backup("main", libraries["cranfield"], "main") as backup:
        backup.step()
    keyword_index(first)
    saved = tmp_path / f"library.db{keyword_module.CACHE_SUFFIX}"
    assert saved.exists()
    first.close()
    writer = connect(path)
    with write_transaction(writer):
        writer.execute("DELETE FROM passages WHERE document_id IN (11, 12)")
        writer.execute("INSERT INTO passages (document_id, ordinal, text, heading_path, context, "
                       "page_start, page_end, token_count) VALUES (13, 1, ?, '', '', 1, 1, 0)",
                       ("laminar boundary layer separation ahead of a forward facing step",))
    writer.close()
    second = connect(path)
    index = keyword_index(second)
    assert len(index.segments) == 2 and int((~index.alive).sum()) >= 2  # loaded, then patched
    reference = Exhaustive(second)
    for text in list(every_query("cranfield"))[:60]:
        got = keyword_ranks(second, text, DEPTH, None)
        assert differences(got, reference.top(text, DEFAULT_PARAMS)) == [], text
    second.close()
    saved.write_bytes(b"not an index")
    third = connect(path)
    assert len(keyword_index(third).segments) == 1  # built anew, and saved
    assert keyword_ranks(third, "boundary layer", 5, None)
    third.close()
