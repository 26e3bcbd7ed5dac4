"""Search: exact terms by keywords, paraphrases by meaning, fusion, scope, and hostile queries."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.library import Library
from core.search import EmptyQueryError, SearchMode
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
    assert library.db.execute("SELECT count(*) FROM passages").fetchone()[0] > 0


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
    assert main(["search", "cats", "--doc", "999", "--json",
                 "--library", str(library.root)]) == 0
    assert json.loads(capsys.readouterr().out) == []

