"""Search: exact terms by keywords, paraphrases by meaning, fusion, scope, and hostile queries."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from core import search as search_module
from core.cli import main
from core.library import Library
from core.search import EmptyQueryError, SearchMode
from core.store import queries
from tests.core.search_helpers import keyword_ranks
from tests.fixtures import docs as fx

TOPICS = {
    "moorings.md": "# Harbour guide\n\n## Moorings\n\nVisitor moorings are the yellow buoys north "
                   "of the breakwater; they cost twelve euros a night.",
    "bread.md": "# Kitchen notes\n\n## Bread\n\nKnead the dough for ten minutes, then let it rise "
                "in a warm place until it has doubled in size.",
    "battery.md": "# Battery manual\n\n## Warranty\n\nThe warranty for the BX-200 battery covers "
                  "defects in materials for thirty-six months from purchase.",
    "garden.md": "# Garden diary\n\n## Roses\n\nPrune the roses in late winter, cutting each "
                 "stem just above an outward-facing bud.",
    "taxes.md": "# Household admin\n\n## Taxes\n\nThe annual tax return must be filed before the "
                "end of May, together with the statements from every bank account.",
    "cats.md": "# Pet care\n\n## Cats\n\nAn adult cat sleeps for most of the day and needs fresh "
               "water, a clean litter tray and regular play.",
}


@pytest.fixture(scope="module")
def searchable(tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, fx.ReportPdf]:
    docs = tmp_path_factory.mktemp("docs")
    for name, text in TOPICS.items():
        (docs / name).write_text(text, encoding="utf-8")
    report = fx.make_report_pdf(docs)
    library = Library.open(tmp_path_factory.mktemp("lib"))
    outcomes = library.add([docs])
    assert all(o.status.value == "added" for o in outcomes)
    return library, report


def doc_id(library: Library, title: str) -> int:
    return next(d.id for d in library.documents() if d.title == title)


@pytest.mark.parametrize("mode", [SearchMode.KEYWORD, SearchMode.HYBRID])
def test_page_unique_term_is_rank_one(searchable: tuple[Library, fx.ReportPdf],
                                      mode: SearchMode) -> None:
    library, report = searchable
    for word, page in report.unique_words.items():
        top = library.search(word, mode=mode, k=5).hits[0]
        assert word in top.text, (word, mode)
        assert top.page <= page <= top.page_end
        assert top.page_label == report.labels[top.page - 1]
        assert top.keyword_rank == 1
        assert any(r.page == page for r in top.rects)


@pytest.mark.parametrize("mode", [SearchMode.SEMANTIC, SearchMode.HYBRID])
def test_paraphrase_without_shared_words_is_found_by_meaning(
        searchable: tuple[Library, fx.ReportPdf], mode: SearchMode) -> None:
    library, _ = searchable
    query = "Where can guests tie up their yacht overnight, and what is the fee?"
    assert library.search(query, mode=SearchMode.KEYWORD).hits == [] or all(
        "moorings" not in h.text for h in library.search(query, mode=SearchMode.KEYWORD).hits)
    top = library.search(query, mode=mode, k=3).hits[0]
    assert top.title == "Harbour guide" and "yellow buoys" in top.text
    assert top.semantic_rank == 1


def test_hybrid_explains_why_each_hit_was_found(searchable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = searchable
    hits = library.search("BX-200 battery guarantee length", k=5).hits
    assert hits[0].title == "Battery manual"
    assert hits[0].found_by == "both"
    assert hits[0].keyword_rank == 1 and hits[0].semantic_rank is not None
    assert all(h.found_by in ("keywords", "meaning", "both") for h in hits)


def test_document_title_counts(searchable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = searchable
    # "Kitchen" is only in the document title and "Bread" only in the heading
    assert library.search("kitchen", mode=SearchMode.KEYWORD).hits[0].title == "Kitchen notes"
    assert library.search("bread", mode=SearchMode.KEYWORD).hits[0].title == "Kitchen notes"


def test_long_question_with_noise_words_is_not_swamped(
        searchable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = searchable
    query = ("Please give a response based on the details shown in the documents and tell me, "
             "according to the text, what is said about the zorbicon in the report?")
    top = library.search(query, mode=SearchMode.KEYWORD).hits[0]
    assert "zorbicon" in top.text


def test_scope_limits_results_to_chosen_documents(searchable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = searchable
    cats = doc_id(library, "Pet care")
    garden = doc_id(library, "Garden diary")
    for mode in SearchMode:
        query = "battery warranty months, fresh water, stem"
        assert any(h.title == "Battery manual" for h in library.search(query, mode=mode).hits)
        hits = library.search(query, mode=mode, k=10, scope=[cats, garden]).hits
        assert {h.document_id for h in hits} == {cats, garden}, mode
    assert library.search("battery", scope=[]).hits == []


def test_quoted_phrase_is_honoured(searchable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = searchable
    hits = library.search('"yellow buoys" euros', mode=SearchMode.KEYWORD).hits
    assert [h.title for h in hits] == ["Harbour guide"]
    # a phrase found nowhere falls back to the words
    assert library.search('"buoys yellow" moorings', mode=SearchMode.KEYWORD).hits


HOSTILE = ['"', '""', "'", "AND", "OR NOT", "NOT cats", "cats AND", "( cats", "cats )", "*",
           "cat*", "col:cats", "context: bread", "^bread", "NEAR(cats bread)", "bread + -",
           "😀", "🐈 cats 🐈", "a-b-c", "--", "\\", "%_", "'; DROP TABLE passages; --",
           "\x00", "ünïcödé", "x" * 5000, "bread " * 1000, "({[<>]})", "?!.,;"]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_never_raise(searchable: tuple[Library, fx.ReportPdf], query: str) -> None:
    library, _ = searchable
    for mode in SearchMode:
        result = library.search(query, mode=mode, k=5)
        assert len(result.hits) <= 5
    assert queries.count_rows(library.db, "passages") > 0


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_a_clear_message(searchable: tuple[Library, fx.ReportPdf],
                                        query: str) -> None:
    library, _ = searchable
    with pytest.raises(EmptyQueryError, match="Type something to search for"):
        library.search(query)


def test_cli_search_json(searchable: tuple[Library, fx.ReportPdf],
                         capsys: pytest.CaptureFixture[str]) -> None:
    library, report = searchable
    code = main(["search", "fennickory", "--json", "-k", "3", "--library", str(library.root)])
    assert code == 0
    hits = json.loads(capsys.readouterr().out)
    top = hits[0]
    assert set(top) >= {"document_id", "title", "page", "page_label", "text", "score",
                        "keyword_rank", "semantic_rank", "rects"}
    assert top["title"] == report.title and top["page"] == report.unique_words["fennickory"]
    assert top["page_label"] == report.labels[top["page"] - 1]
    assert top["keyword_rank"] == 1
    assert top["rects"] and set(top["rects"][0]) == {"page", "x0", "y0", "x1", "y1"}
    assert main(["search", "", "--library", str(library.root)]) == 1
    capsys.readouterr()
    # a document that is not there is said so (f5aa350), not answered with no hits
    assert main(["search", "cats", "--doc", "999", "--json",
                 "--library", str(library.root)]) == 1
    assert "no document 999" in capsys.readouterr().err



def _exact_nearest(library: Library, query: str, scope: set[int] | None) -> list[int]:
    """Passage ids by cosine to the query, computed here from every stored vector."""
    vector = library.embedder.embed_query(query)
    scored = []
    for pid, did in library.db.execute("SELECT id, document_id FROM passages"):
        if scope is None or did in scope:
            stored = library.vector_of_passage(pid)
            assert stored is not None
            scored.append((float(stored @ vector / np.linalg.norm(stored)), pid))
    return [pid for _, pid in sorted(scored, reverse=True)]


def test_semantic_search_is_exact_within_scope(searchable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = searchable
    query = "how long does the guarantee last"
    found = [h.passage_id for h in library.search(query, mode=SearchMode.SEMANTIC, k=5).hits]
    assert found == _exact_nearest(library, query, None)[:5]
    scope = {doc_id(library, "Pet care"), doc_id(library, "Garden diary")}
    hits = library.search(query, mode=SearchMode.SEMANTIC, k=50, scope=sorted(scope)).hits
    assert [h.passage_id for h in hits] == _exact_nearest(library, query, scope)
    assert [h.semantic_rank for h in hits] == list(range(1, len(hits) + 1))


def test_vector_index_follows_added_and_removed_documents(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("bread.md", "garden.md"):
        (docs / name).write_text(TOPICS[name], encoding="utf-8")
    query = "Where can guests tie up their yacht overnight, and what is the fee?"
    with Library.open(tmp_path / "lib") as library:
        library.add([docs])
        assert all(h.title != "Harbour guide"
                   for h in library.search(query, mode=SearchMode.SEMANTIC).hits)
        (docs / "moorings.md").write_text(TOPICS["moorings.md"], encoding="utf-8")
        library.add([docs / "moorings.md"])
        assert library.search(query, mode=SearchMode.SEMANTIC).hits[0].title == "Harbour guide"
        library.remove(str(doc_id(library, "Harbour guide")))
        assert all(h.title != "Harbour guide"
                   for h in library.search(query, mode=SearchMode.SEMANTIC).hits)
        # another connection (another thread or process) changes the library
        with Library.open(tmp_path / "lib") as other:
            other.add([docs / "moorings.md"])
        assert library.search(query, mode=SearchMode.SEMANTIC).hits[0].title == "Harbour guide"
        with Library.open(tmp_path / "lib") as other:
            other.remove(str(doc_id(other, "Harbour guide")))
        hits = library.search(query, mode=SearchMode.SEMANTIC).hits
        assert hits and all(h.title != "Harbour guide" for h in hits)
        assert found_ids(library, query) == _exact_nearest(library, query, None)


def found_ids(library: Library, query: str) -> list[int]:
    return [h.passage_id for h in library.search(query, mode=SearchMode.SEMANTIC, k=100).hits]


def test_every_query_word_counts_and_a_repeated_word_can_count_twice(
        searchable: tuple[Library, fx.ReportPdf]) -> None:
    """No word is dropped for being common: a passage with both words outranks one with the
    rarer only. By default a repeated word counts once; with query_repeats twice (Lucene)."""
    library, _ = searchable
    hits = library.search("battery warranty months", mode=SearchMode.KEYWORD).hits
    assert hits[0].title == "Battery manual"
    db = library.db
    once = dict(keyword_ranks(db, "roses winter", 10, None))
    assert keyword_ranks(db, "roses roses winter", 10, None) == list(once.items())
    lucene = dataclasses.replace(search_module.DEFAULT_PARAMS, query_repeats=True)
    twice = dict(keyword_ranks(db, "roses roses winter", 10, None, lucene))
    assert set(once) == set(twice)
    roses = {h.passage_id for h in library.search("roses", mode=SearchMode.KEYWORD).hits}
    assert roses and all((twice[p] > once[p]) == (p in roses) for p in once)


def test_large_library_path_scores_only_the_nearest_sign_codes(
        searchable: tuple[Library, fx.ReportPdf], monkeypatch: pytest.MonkeyPatch) -> None:
    """Above EXACT_UP_TO passages, candidates come from sign codes; the best stay the best."""
    from core import vector_index

    library, _ = searchable
    query = "Which pet sleeps most of the day?"
    exact = [h.passage_id for h in library.search(query, mode="semantic", k=3).hits]
    index = library.indexes.vectors(library.db)
    vector = library.embedder.embed_query(query)
    vector = vector / np.linalg.norm(vector)
    half = max(3, len(index.ids) // 2)
    rows = index._coarse(vector, half)
    assert half <= len(rows) < len(index.ids)  # really a subset, ties included
    monkeypatch.setattr(vector_index, "EXACT_UP_TO", 0)
    monkeypatch.setattr(vector_index, "COARSE_CANDIDATES", half)
    monkeypatch.setattr(vector_index, "COARSE_SHARE", 0.0)
    coarse = [h.passage_id for h in library.search(query, mode="semantic", k=3).hits]
    assert coarse[0] == exact[0]


def test_feedback_moves_only_the_meaning_side_of_a_hybrid_search(
        searchable: tuple[Library, fx.ReportPdf]) -> None:
    """Pseudo-relevance feedback (on by default: the fused top 3 move the query vector) changes
    hybrid search's meaning side only: keyword and meaning searches alone, the keyword side of
    a hybrid search and a scoped search's bounds stay as without it."""
    library, _ = searchable
    off = dataclasses.replace(search_module.DEFAULT_PARAMS, feedback_passages=0)
    assert search_module.DEFAULT_PARAMS.feedback_passages > 0
    query = "how long must dough rise before baking bread"
    for mode in (SearchMode.KEYWORD, SearchMode.SEMANTIC):
        with_feedback = library.search(query, mode=mode, k=8).hits
        without = library.search(query, mode=mode, k=8, params=off).hits
        assert [(h.passage_id, h.score) for h in with_feedback] == [
            (h.passage_id, h.score) for h in without]
    searcher = library.searcher()
    keyword, semantic = searcher.hybrid_sides(query, 50, None)
    plain_keyword, plain_semantic = searcher.hybrid_sides(query, 50, None, off)
    assert keyword == plain_keyword
    assert semantic != plain_semantic  # the moved vector scores every passage anew
    top = library.search(query, k=3).hits
    assert top[0].title == "Kitchen notes" and "dough" in top[0].text
    bread = doc_id(library, "Kitchen notes")
    scoped = library.search(query, k=5, scope=[bread]).hits
    assert scoped and {h.document_id for h in scoped} == {bread}
