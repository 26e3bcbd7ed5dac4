"""Checks proposed from the documents (core/check_proposals.py): questions written by a model
(the test Ollama server's responder plays the model, junk replies included) or, without one,
made from a passage's distinctive terms; kept ones are saved and marked generated.

A real library: the sample guide (9 pages), the Lighthouse Society report (5 pages) and six
short notes (each under the length a question is made from)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from core import prompt, settings
from core.check_proposals import Passage, eligible_passages, parse_question, propose
from core.cli import main
from core.engine import Engine
from core.errors import FolioError
from core.library import Library
from core.store import queries
from core.types import Document
from tests.core.test_search import TOPICS
from tests.fixtures.docs import make_report_pdf
from tests.ollama_server import FakeOllama, refused_host

PASSAGE_RE = re.compile(r"<passage>\n(.*?)\n</passage>", re.DOTALL)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Path:
    """The library, made once for this module (each test works on a copy)."""
    root = tmp_path_factory.mktemp("shelf")
    docs = root / "docs"
    docs.mkdir()
    make_report_pdf(docs)
    for name, text in TOPICS.items():
        (docs / name).write_text(text, encoding="utf-8")
    with Library.open(root / "library", engine) as library:
        library.ensure_sample()
        library.add([docs])
    return root / "library"


@pytest.fixture
def shelf(built: Path, tmp_path: Path, engine: Engine,
          fake_ollama: FakeOllama) -> Iterator[Library]:
    copy = tmp_path / "library"
    shutil.copytree(built, copy)
    library = Library.open(copy, engine)
    library.set_setting("ollama-host", fake_ollama.host)
    yield library
    library.close()


def titled(library: Library, start: str) -> Document:
    return next(d for d in library.documents() if d.title.startswith(start))


def keyword_rank_of_page(library: Library, question: str, document_id: int, page: int) -> int:
    hits = library.search(question, "keyword", k=10).hits
    return next((n for n, h in enumerate(hits, start=1)
                 if h.document_id == document_id and h.page <= page <= h.page_end), 99)


def test_extractive_questions_find_their_own_page_among_the_first_three(shelf: Library) -> None:
    for start in ("Folio user guide", "Annual Report"):
        doc = titled(shelf, start)
        found = propose(shelf, doc, 5, use_model=False)
        assert found.model is None and found.notice is None
        assert len(found.proposals) == 5
        pages = [p.page for p in found.proposals]
        assert len(set(pages)) >= 4  # spread over the document's pages (the report has 4 of text)
        for p in found.proposals:
            assert p.source == "terms" and p.question.startswith("What does it say about ")
            assert p.expect == f"{doc.id}:{p.page}"
            assert keyword_rank_of_page(shelf, p.question, doc.id, p.page) <= 3, p.question
    assert shelf.checks() == []  # nothing is saved by proposing


def test_short_notes_get_no_questions(shelf: Library) -> None:
    note = titled(shelf, "Battery manual")
    found = propose(shelf, note, 3, use_model=False)
    assert found.eligible == 0 and found.proposals == ()


def passage(text: str, ordinal: int = 0, page: int = 1) -> Passage:
    return Passage(ordinal, ordinal, page, "", "", text)


def test_boilerplate_figures_tables_forms_contents_and_repeats_are_not_sampled() -> None:
    prose = ("The keeper climbs the spiral stair at dusk to light the lamp, trims the wick, "
             "polishes the great lens and writes the weather in the log before the first ship "
             "passes the point. In winter the oil thickens and must be warmed by the stove.")
    notice = ("This report contains forward-looking statements within the meaning of the "
              "securities laws; actual results may differ materially from those expressed, for "
              "reasons described in the risk factors of our annual filings, page 12.")
    contents = "\n".join(f"{n} Chapter about lanterns and keepers of the coast ....... {n * 7}"
                         for n in range(1, 8))
    figures = " ".join(f"{n},{n * 3}.5 {n * 11}% ({n * 2})" for n in range(40))
    table = "\n".join(["| Lighthouse | Keeper | Lamp lit |", "|---|---|---|"] + [
        f"| Point {n} light | Keeper of the northern rocks {n} | Every evening at dusk |"
        for n in range(6)])
    form = ("Indicate by check mark whether the keeper has filed every report of the lamp "
            "required by the harbour board during the preceding twelve months. Yes ☒ No ☐ "
            "Indicate by check mark whether the lens was polished.")
    passages = [passage(prose, 0), passage("Too short to ask about.", 1), passage(contents, 2),
                passage(figures, 3), passage(notice, 4), passage(notice.replace("12", "40"), 5),
                passage(table, 6), passage(form, 7)]
    assert [p.ordinal for p in eligible_passages(passages)] == [0]


@pytest.mark.parametrize(("reply", "question", "reason"), [
    ("Question: \"How warm must the lamp oil be kept in winter?\"",
     "How warm must the lamp oil be kept in winter?", ""),
    ("<think>They want one question.</think>\n1. Why is the lens polished every evening?",
     "Why is the lens polished every evening?", ""),
    ("", None, "empty reply"),
    ("Sure! The keeper lights the lamp at dusk.", None, "no question in the reply"),
    ("What is described in the passage above?", None,
     "asks about the passage instead of its content"),
    ("Why does the keeper climb the spiral stair at dusk to light the lamp?", None,
     "copies the passage"),
    ("Why? " + "and " * 50, None, "too short to be a question"),
    ("What " + "very " * 45 + "long question is this?", None, "too long"),
])
def test_a_model_reply_is_taken_or_refused(reply: str, question: str | None,
                                           reason: str) -> None:
    text = ("The keeper climbs the spiral stair at dusk to light the lamp, trims the wick and "
            "polishes the great lens. In winter the oil thickens and must be warmed.")
    got, why = parse_question(reply, text)
    assert got == question and why.startswith(reason)


def question_writer(replies: Sequence[str]) -> Any:
    """A responder that answers Folio's question-writing prompt with the replies in turn
    (a reply may name {copy}: the passage's first eight words)."""
    queue = list(replies)

    def respond(messages: Sequence[Any]) -> str | None:
        found = PASSAGE_RE.search(messages[-1]["content"])
        if found is None:
            return None
        copy = " ".join(found.group(1).split()[:8])
        return queue.pop(0).format(copy=copy) if queue else "Why?"
    return respond


def test_questions_written_by_the_model_and_its_junk_refused(
        shelf: Library, fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = question_writer([
        "", "Question: How does Folio cope with a scan in German?",
        "Sure, here is a summary of the section.", "{copy}?",
        "2. What can I do when search returns nothing useful?",
        "Why " + "really " * 45 + "?"])
    guide = titled(shelf, "Folio user guide")
    found = propose(shelf, guide, 3, use_model=True)
    assert found.model == "llama3.2:3b"
    assert [p.question for p in found.proposals] == [
        "How does Folio cope with a scan in German?",
        "What can I do when search returns nothing useful?"]
    assert all(p.source == "model" for p in found.proposals)
    assert [r.reason.split(" (")[0] for r in found.refused] == [
        "empty reply", "no question in the reply", "copies the passage", "too long"]
    chats = [c for c in fake_ollama.chat_requests if "<passage>" in str(c["messages"])]
    assert len(chats) == 6  # three asked for, two passages tried for each at most
    assert all(c["options"]["num_ctx"] == prompt.MIN_CONTEXT for c in chats)
    instructions = chats[0]["messages"][-1]["content"]
    assert "do not copy phrases from the passage" in instructions
    # The passages asked about are spread over the guide's pages.
    pages = [p.page for p in found.proposals] + [r.page for r in found.refused]
    assert len(set(pages)) >= 5


def test_without_ollama_the_questions_come_from_the_terms_and_say_why(shelf: Library) -> None:
    shelf.set_setting("ollama-host", refused_host())
    found = propose(shelf, titled(shelf, "Annual Report"), 2, use_model=True)
    assert found.model is None and len(found.proposals) == 2
    assert all(p.source == "terms" for p in found.proposals)
    assert found.notice is not None and "Ollama is not running" in found.notice
    assert "made from the passages' terms instead" in found.notice


def test_bad_requests_are_refused_with_a_sentence(shelf: Library) -> None:
    with pytest.raises(FolioError, match="between 1 and 50"):
        propose(shelf, titled(shelf, "Annual Report"), 0)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_kept_proposals_are_saved_as_generated_checks_and_marked_in_every_table(
        shelf: Library, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--library", str(shelf.root)]
    report = titled(shelf, "Annual Report")
    shown = run_json(capsys, "checks", "propose", str(report.id), "--no-model", "--count", "3",
                     "--json", *root)
    assert len(shown["proposals"]) == 3 and shown["model"] is None
    assert all(p["kept_as"] is None for p in shown["proposals"])
    assert run_json(capsys, "checks", "list", "--json", *root) == []  # not saved yet

    kept = run_json(capsys, "checks", "propose", str(report.id), "--keep", "1,3", "--json",
                    *root)
    assert [p["question"] for p in kept["proposals"]] == [
        p["question"] for p in shown["proposals"]]  # the proposals shown
    assert [p["kept_as"] is not None for p in kept["proposals"]] == [True, False, True]
    assert main(["checks", "add", "Who keeps the lamp?", "--expect", f"{report.id}:2",
                 *root]) == 0  # a person's own check
    listed = run_json(capsys, "checks", "list", "--json", *root)
    assert [(c["question"], c["page"], c["generated"]) for c in listed] == [
        (shown["proposals"][0]["question"], shown["proposals"][0]["page"], True),
        (shown["proposals"][2]["question"], shown["proposals"][2]["page"], True),
        ("Who keeps the lamp?", 2, False)]
    ran = run_json(capsys, "checks", "run", "--json", "--mode", "keyword", *root)
    assert [c["generated"] for c in ran["checks"]] == [True, True, False]
    assert all(c["rank"] is not None and c["rank"] <= 3 for c in ran["checks"][:2])
    capsys.readouterr()
    assert main(["checks", "list", *root]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.endswith("(generated)") for line in lines] == [True, True, False]
    assert main(["checks", "run", *root]) == 0
    table = capsys.readouterr().out
    assert table.count("(generated)") == 2
    assert main(["checks", "add", "Where is the archive kept?", "--expect", f"{report.id}:3",
                 "--generated", *root]) == 0
    assert run_json(capsys, "checks", "list", "--json", *root)[-1]["generated"] is True


def test_propose_without_a_document_covers_every_document_without_checks(
        shelf: Library, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--library", str(shelf.root)]
    guide = titled(shelf, "Folio user guide")
    shelf.add_check("How do I add a PDF?", str(guide.id))
    every = run_json(capsys, "checks", "propose", "--no-model", "--count", "2", "--json", *root)
    titles = [d["title"] for d in every]
    assert guide.title not in titles and any(t.startswith("Annual Report") for t in titles)
    assert len(titles) == len(shelf.documents()) - 1
    report = next(d for d in every if d["title"].startswith("Annual Report"))
    assert main(["checks", "propose", str(report["document_id"]), "--keep", "7", *root]) == 1
    assert (f"There is no proposal 7: 2 were shown for '{report['title']}' (1 to 2)."
            in capsys.readouterr().err)
    kept = run_json(capsys, "checks", "propose", "--keep", "--json", *root)  # every one shown
    assert {d["title"] for d in kept} == set(titles)
    assert sum(p["kept_as"] is not None for d in kept for p in d["proposals"]) == sum(
        len(d["proposals"]) for d in every)
    listed = run_json(capsys, "checks", "list", "--json", *root)
    assert len(listed) == 1 + sum(len(d["proposals"]) for d in every)


def test_the_settings_read_none_of_the_proposals_shown(
        shelf: Library, capsys: pytest.CaptureFixture[str]) -> None:
    """Library.settings() runs on every ask: it reads the settings' rows of meta, not the
    proposals last shown, however many documents have them."""
    before = shelf.settings()
    run_json(capsys, "checks", "propose", "--no-model", "--count", "2", "--json",
             "--library", str(shelf.root))
    kept = [k for k, in shelf.db.execute("SELECT key FROM meta WHERE key LIKE 'proposals_%'")]
    assert len(kept) == len(shelf.documents())  # the short notes' too, with no proposals
    read: list[Any] = []

    def trace(_cursor: Any, row: Any) -> Any:
        read.append(row)
        return row
    shelf.db.row_trace = trace
    try:
        assert shelf.settings() == before
    finally:
        shelf.db.row_trace = None
    assert read and {str(k) for k, _v in read} <= {s.key for s in settings.SETTINGS}


def numbered_writer() -> Any:
    """A model that writes a new question every time it is asked (as a real one does): the
    question names how many it has written."""
    written = [0]

    def respond(messages: Sequence[Any]) -> str | None:
        if "<passage>" not in messages[-1]["content"]:
            return None
        written[0] += 1
        return f"What would a curious reader learn from remark number {written[0]}?"
    return respond


def test_keep_saves_the_proposals_shown_last_not_a_new_run_s(
        shelf: Library, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    fake_ollama.responder = numbered_writer()
    root = ["--library", str(shelf.root)]
    report = titled(shelf, "Annual Report")
    assert main(["checks", "propose", str(report.id), "--keep", "1", *root]) == 1
    assert ("No proposals have been shown for 'Annual Report" in capsys.readouterr().err)

    first = run_json(capsys, "checks", "propose", str(report.id), "--count", "3", "--json", *root)
    shown = run_json(capsys, "checks", "propose", str(report.id), "--count", "3", "--json", *root)
    questions = [p["question"] for p in shown["proposals"]]
    assert questions == [f"What would a curious reader learn from remark number {n}?"
                         for n in (4, 5, 6)]  # the second run replaced the first's
    assert shown["model"] == "llama3.2:3b" and first["proposals"] != shown["proposals"]
    asked = len(fake_ollama.chat_requests)
    kept = run_json(capsys, "checks", "propose", str(report.id), "--keep", "1,3", "--json",
                    *root)
    assert len(fake_ollama.chat_requests) == asked  # keeping asks the model nothing
    assert [p["question"] for p in kept["proposals"]] == questions
    listed = run_json(capsys, "checks", "list", "--json", *root)
    assert [(c["question"], c["page"], c["generated"]) for c in listed] == [
        (questions[0], shown["proposals"][0]["page"], True),
        (questions[2], shown["proposals"][2]["page"], True)]

    # Keeping again, or another of them, keeps each check once; the numbers still hold.
    capsys.readouterr()
    assert main(["checks", "propose", str(report.id), "--keep", "2,3", *root]) == 0
    out = capsys.readouterr().out
    assert out.count("[kept as check") == 3 and f"2. {questions[1]}" in out
    assert len(run_json(capsys, "checks", "list", "--json", *root)) == 3
    for wrong, says in ((["--keep", "4"], "There is no proposal 4: 3 were shown for"),
                        (["--keep", "1", "--count", "2"], "--keep saves proposals already "
                                                          "shown"),
                        (["--keep", "one"], "--keep takes proposal numbers")):
        assert main(["checks", "propose", str(report.id), *wrong, *root]) == 1
        assert says in capsys.readouterr().err

    # A removed document's proposals go the next time any are shown.
    shelf.remove(str(report.id))
    run_json(capsys, "checks", "propose", str(titled(shelf, "Folio user guide").id), "--count",
             "1", "--json", *root)
    assert queries.get_meta(shelf.db, f"proposals_shown:{report.id}") is None
