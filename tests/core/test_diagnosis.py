"""Diagnosis: was a wrong answer's gap the retrieval's or the model's? And saved checks.

A real library of six notes and a real model stand-in (tests/ollama_server.py, told which
sources to cite), so that each verdict happens: found and cited, sent but not cited, ranked
just past the sources' cut, and a place that does not hold the answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import diagnosing, diagnosis, evaluation
from core.answer_types import AnswerDone
from core.cli import main
from core.engine import Engine
from core.errors import FolioError
from core.library import Library
from core.search import SearchMode
from tests.core.test_search import TOPICS
from tests.ollama_server import FakeOllama


def diagnose_turn(library: Library, conversation: int, turn: int,
                  expect: str) -> diagnosis.Diagnosis:
    """The diagnosis `folio diagnose --conversation` runs, without other embedding models."""
    return diagnosing.diagnose_turn(library, conversation, turn, expect, try_models=False)


def diagnose_question(library: Library, question: str, expect: str,
                      k: int | None = None) -> diagnosis.Diagnosis:
    return diagnosing.diagnose_question(library, question, expect, k, try_models=False)


QUESTION = "How long does the BX-200 battery warranty last?"


@pytest.fixture
def notes(library: Library, docs_dir: Path, fake_ollama: FakeOllama) -> Library:
    for name, text in TOPICS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    library.add([docs_dir])
    library.set_setting("ollama-host", fake_ollama.host)
    return library


def doc(library: Library, title: str) -> int:
    return next(d.id for d in library.documents() if d.title == title)


def ask(library: Library, question: str, k: int) -> int:
    """Ask and keep the turn; the conversation's id."""
    for event in library.ask(question, k=k):
        if isinstance(event, AnswerDone):
            assert event.answer.conversation_id is not None
            return event.answer.conversation_id
    raise AssertionError("no answer")


def test_a_source_the_answer_cited_is_found(notes: Library) -> None:
    conversation = ask(notes, QUESTION, k=3)
    found = diagnose_turn(notes, conversation, 1, str(doc(notes, "Battery manual")))
    assert (found.verdict, found.source_number, found.cited) == ("found", 1, True)
    assert found.ranks.keyword == 1 and found.ranks.fused == 1
    assert found.sources == 6  # 3 asked; as evidence briefs (the default), twice as many sent


def test_a_source_the_answer_ignored_is_behavioural(notes: Library,
                                                    fake_ollama: FakeOllama) -> None:
    fake_ollama.reply = "The warranty is not stated in these notes [2]."  # cites only [2]
    conversation = ask(notes, QUESTION, k=3)
    found = diagnose_turn(notes, conversation, 1, str(doc(notes, "Battery manual")))
    assert found.verdict == "behavioural" and found.source_number == 1 and found.cited is False
    assert "was source [1], but the answer did not use it" in found.sentence


def test_a_place_ranked_past_the_sources_is_factual_and_more_sources_would_find_it(
        notes: Library) -> None:
    notes.set_setting("prompt-sources", "passages")  # one source asked, one sent
    question = "pruning roses and kneading dough"
    second = notes.search(question, k=2).hits[1]
    conversation = ask(notes, question, k=1)
    found = diagnose_turn(notes, conversation, 1, str(second.document_id))
    assert found.verdict == "factual" and found.ranks.fused == 2 and found.source_number is None
    assert "not retrieved (fused rank 2; sources stop at 1)" in found.sentence
    assert any(t.setting == "2 sources" and t.finds_it for t in found.trials)


def test_with_evidence_briefs_twice_the_sources_count_as_sent(notes: Library) -> None:
    """prompt-sources brief sends twice answer-sources sources: a place ranked 2nd for one
    source per answer was sent, not 'not retrieved'."""
    question = "pruning roses and kneading dough"
    second = notes.search(question, k=2).hits[1]
    notes.set_setting("prompt-sources", "passages")
    assert diagnose_question(notes, question, str(second.document_id), k=1).verdict == "factual"
    notes.set_setting("prompt-sources", "brief")
    found = diagnose_question(notes, question, str(second.document_id), k=1)
    assert found.sources == 2 and found.verdict != "factual" and found.source_number == 2


def test_a_place_that_does_not_hold_the_answer_is_said_so(notes: Library) -> None:
    found = diagnose_question(notes, QUESTION, str(doc(notes, "Household admin")), k=1)
    assert found.verdict == "absent" and found.ranks.keyword is None
    assert "has no passage that matches the question" in found.sentence


def test_a_keyword_only_place_suggests_keyword_mode() -> None:
    place = diagnosis.Place(1, "Manual", 4)
    verdict, sentence = diagnosis._verdict(
        place, diagnosis.Ranks(keyword=2, semantic=40, fused=9, similarity=0.2), 6, None, None,
        {1}, (diagnosis.Trial("12 sources", 9, True), diagnosis.Trial("keyword search only", 2,
                                                                      True)))
    assert verdict == "factual"
    assert sentence == ("The right place (page 4 of 'Manual') was not retrieved (fused rank 9; "
                        "sources stop at 6). Its keyword rank was 2: try keyword mode, or more "
                        "sources per answer.")


def test_a_follow_up_is_diagnosed_as_rewritten_and_as_typed(notes: Library) -> None:
    conversation = ask(notes, QUESTION, k=3)
    list(notes.ask("and for how many months?", conversation=conversation, k=3))
    found = diagnose_turn(notes, conversation, 2, str(doc(notes, "Battery manual")))
    assert found.searched != found.question and found.asked_ranks is not None


def test_bad_references_are_refused_with_a_sentence(notes: Library) -> None:
    with pytest.raises(FolioError, match="no turn 4"):
        diagnose_turn(notes, ask(notes, QUESTION, k=3), 4, "1")
    with pytest.raises(FolioError, match="is not a page"):
        notes.place(f"{doc(notes, 'Battery manual')}:9")


def test_checks_run_gives_each_rank_the_totals_and_compares_settings(
        notes: Library, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--library", str(notes.root)]
    questions = {"Battery manual": ["battery warranty months", "BX-200 defects"],
                 "Garden diary": ["when to prune roses", "outward-facing bud"],
                 "Kitchen notes": ["how long to knead dough", "let the bread rise"],
                 "Harbour guide": ["yellow buoys", "cost of a visitor mooring"],
                 "Pet care": ["how much does a cat sleep"],
                 "Household admin": ["tax return deadline"]}
    for title, asked in questions.items():
        for question in asked:
            assert main(["checks", "add", question, "--expect", str(doc(notes, title)),
                         *root]) == 0
    assert main(["checks", "add", "yellow buoys", "--expect", str(doc(notes, "Harbour guide")),
                 *root]) == 0  # the same check again is not kept twice
    capsys.readouterr()
    assert main(["checks", "list", "--json", *root]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 10
    assert main(["checks", "run", "--json", "-k", "1", *root]) == 0
    hybrid = json.loads(capsys.readouterr().out)
    assert hybrid["totals"]["checks"] == 10 and hybrid["totals"]["cited"] is None
    ranks = {c["question"]: c["rank"] for c in hybrid["checks"]}
    assert ranks["yellow buoys"] == 1 and ranks["battery warranty months"] == 1
    assert hybrid["totals"]["hit@10"] == 10  # six documents: every place is in the top ten
    assert hybrid["totals"]["hit@1"] == sum(c["hit@1"] for c in hybrid["checks"])
    assert all(c["verdict"] in ("found", "factual") for c in hybrid["checks"])
    assert main(["checks", "run", "--json", "--mode", "keyword", "-k", "1", *root]) == 0
    keyword = json.loads(capsys.readouterr().out)
    assert keyword["mode"] == "keyword" and len(keyword["checks"]) == 10
    by_keyword = {c["question"]: c["rank"] for c in keyword["checks"]}
    assert by_keyword["yellow buoys"] == 1 and by_keyword["outward-facing bud"] == 1
    # the totals are the checks' own hits, in each run
    for run in (hybrid, keyword):
        assert run["totals"]["hit@1"] == sum(1 for c in run["checks"] if c["rank"] == 1)
    assert main(["checks", "run", *root]) == 0
    table = capsys.readouterr().out
    # answer-sources 6, sent as evidence briefs (the default): twice as many
    assert "| total (hybrid, 12 sources) |" in table and "10/10 (100%)" in table


def test_checks_with_a_model_report_whether_the_answer_cited_the_place(
        notes: Library, fake_ollama: FakeOllama) -> None:
    notes.add_check(QUESTION, str(doc(notes, "Battery manual")))
    notes.add_check("when to prune roses", str(doc(notes, "Garden diary")))
    run = notes.run_checks(k=2, model="llama3.2:3b")
    assert run.cited() == 2 and all(r.diagnosis.verdict == "found" for r in run.results)
    fake_ollama.reply = "Nothing here [2]."
    run = notes.run_checks(k=2, model="llama3.2:3b")
    assert run.cited() == 0
    assert {r.diagnosis.verdict for r in run.results} == {"behavioural"}
    assert notes.conversations() == []  # check answers are not kept


def test_a_removed_documents_check_is_listed_but_not_run(notes: Library) -> None:
    notes.add_check(QUESTION, str(doc(notes, "Battery manual")))
    notes.remove(str(doc(notes, "Battery manual")))
    [(_, place)] = notes.checks()
    assert place.title == "document removed"
    assert notes.run_checks(mode=SearchMode.KEYWORD).results == ()


def test_checks_imported_from_a_beir_set_agree_with_eval(tmp_path: Path, engine: Engine,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """`folio checks import`: one check per judged pair; hit@10 is `folio eval`'s Recall@10 and
    the mean reciprocal rank its MRR@10, for the same mode (one relevant document per query and
    one passage per document here, so a passage's rank is its document's)."""
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = [("d1", "Moorings", "Visitor moorings are the yellow buoys north of the breakwater."),
            ("d2", "Bread", "Knead the dough for ten minutes and let it rise until doubled."),
            ("d3", "Roses", "Prune the roses in late winter above an outward-facing bud."),
            ("d4", "Cats", "An adult cat sleeps for most of the day and needs fresh water.")]
    (beir / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x})
                                                 for i, t, x in docs), encoding="utf-8")
    asked = [("q1", "where are the visitor buoys", "d1"), ("q2", "how to make dough rise", "d2"),
             ("q3", "when should roses be cut back", "d3"), ("q4", "a pet that naps", "d4"),
             ("q5", "a yellow cat by the harbour", "d1")]
    (beir / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t})
                                                  for q, t, _ in asked), encoding="utf-8")
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in asked),
        encoding="utf-8")
    dataset = evaluation.load(beir)
    library = evaluation.library_for(dataset, tmp_path / "eval", engine=engine)
    assert main(["checks", "import", str(beir), "--library", str(library.root)]) == 0
    assert "5 check(s)" in capsys.readouterr().out
    for mode in (SearchMode.KEYWORD, SearchMode.SEMANTIC, SearchMode.HYBRID):
        [scores] = evaluation.evaluate(library, dataset, [mode])
        run = library.run_checks(mode=mode)
        assert run.hits(10) / len(run.results) == pytest.approx(scores.recall_at_10)
        reciprocal = [1 / r.rank if r.rank is not None and r.rank <= 10 else 0.0
                      for r in run.results]
        assert sum(reciprocal) / len(reciprocal) == pytest.approx(scores.mrr_at_10)
    library.close()


def test_an_answer_whose_document_was_reindexed_is_judged_by_todays_ranks(
        notes: Library, docs_dir: Path) -> None:
    conversation = ask(notes, QUESTION, k=3)
    battery = doc(notes, "Battery manual")
    (docs_dir / "battery.md").write_text(TOPICS["battery.md"] + " Keep the receipt.",
                                         encoding="utf-8")
    notes.add([docs_dir / "battery.md"])  # a new version: the same id, new passages
    assert doc(notes, "Battery manual") == battery
    found = diagnose_turn(notes, conversation, 1, str(battery))
    assert found.verdict == "found" and found.source_number == 1
    assert "have changed since this answer" in found.sentence
