"""Whole-document answers (core/overview.py): a 40-page PDF made here, summarised section by
section through the test Ollama server, the summaries kept, a stop that keeps only whole
sections, and the extractive overview without a model."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from core import outline, overview
from core.answer_types import Answer, AnswerDone, AnswerEvent, AnswerMode, Progress, Token
from core.cli import main
from core.library import Library
from core.store import queries, summaries
from tests.ollama_server import FakeOllama, Fault, first_sentence, parse_sources, refused_host

ANIMALS = ("otters", "herons", "voles", "badgers", "kestrels", "newts", "hares", "swifts",
           "moths", "trout")
PAGES_PER_SECTION = 4
SECTION_MARK = "Section summary request."
COMBINE_MARK = "Combine the section summaries."
_SECTION_LINE = re.compile(r"^Section: (.+) \((?:pp?\. [^)]*), section (\d+) of (\d+)\)$",
                           re.MULTILINE)
_CLAIM = re.compile(r"[^\n]*?[.!?](?:\s*\[\d+\])+")  # a line's first sentence, its marks
_BLOCK = re.compile(r"<section [^>]*>\n(.*?)\n</section>", re.DOTALL)
WEATHER = ("mild", "windy", "wet", "cold")
PLACES = ("the reed beds", "the old weir", "the north meadow", "the alder carr")


@dataclass(frozen=True)
class Chapter:
    heading: str
    first_page: int
    last_page: int
    fact: str  # the section's first sentence: what its summary restates


def survey_pdf(path: Path) -> list[Chapter]:
    """40 pages: ten chapters of four pages, each with a heading (and a bookmark) on its first
    page and its own count of its own animal as its first sentence."""
    doc = pymupdf.open()
    toc: list[list[Any]] = []
    chapters: list[Chapter] = []
    for s, animal in enumerate(ANIMALS):
        heading = f"Chapter {s + 1}: The {animal}"
        first = s * PAGES_PER_SECTION + 1
        fact = f"The survey counted {101 + 7 * s} {animal} at site {chr(65 + s)}."
        for p in range(PAGES_PER_SECTION):
            page = doc.new_page()
            y = 90.0
            if p == 0:
                page.insert_text((72, 72), heading, fontsize=20)
                toc.append([1, heading, first])
                y = 120.0
            lines = [fact] if p == 0 else []
            lines += [f"On page {first + p} the {animal} were watched near {PLACES[p]} by "
                      f"observer number {3 * s + p}.",
                      f"The weather for day {p + 1} of the {animal} count was {WEATHER[p]}, "
                      f"and {2 * p + s} volunteers took part.",
                      f"Field notes {s}-{p} describe how the {animal} behaved at dusk and "
                      f"which paths they used across {PLACES[(p + 1) % 4]}."]
            for line in lines:
                page.insert_text((72, y), line, fontsize=10)
                y += 18
        chapters.append(Chapter(heading, first, first + PAGES_PER_SECTION - 1, fact))
    doc.set_toc(toc)
    doc.save(path)
    doc.close()
    return chapters


@dataclass
class Recorder:
    """Answers section-summary prompts with their first source's first sentence and [1], and
    combine prompts with the first sentence of every line of every summary, its marks kept
    (so a combined part is shorter than its summaries, as a model's is); records which
    sections were asked for. stop_at: set `cancel` when that section's request comes."""

    sections: list[str]
    combines: int = 0
    cancel: threading.Event | None = None
    stop_at: int | None = None
    stop_combining: bool = False
    long_summaries: bool = False

    def __call__(self, messages: Sequence[Any]) -> str | None:
        user = str(messages[-1]["content"])
        if user.startswith(SECTION_MARK):
            found = _SECTION_LINE.search(user)
            assert found is not None, user[:300]
            self.sections.append(found.group(1))
            if self.cancel is not None and self.stop_at == int(found.group(2)):
                self.cancel.set()
            sources = parse_sources(user)
            parts = [f"{first_sentence(sources[0].text)} [1]"]
            while self.long_summaries and sum(map(len, parts)) < 1400:  # ~400 tokens: ten
                parts += [f"{first_sentence(s.text)} [{s.id}]" for s in sources]  # overflow 4k
            return " ".join(parts)
        if user.startswith(COMBINE_MARK):
            self.combines += 1
            if self.cancel is not None and self.stop_combining:
                self.cancel.set()
            claims = [_CLAIM.match(line.lstrip("- ")) for b in _BLOCK.findall(user)
                      for line in b.splitlines()]
            return "\n".join(f"- {c.group(0)}" for c in claims if c is not None)
        return None


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, int,
                                                                        list[Chapter]]]:
    folder = tmp_path_factory.mktemp("survey")
    chapters = survey_pdf(folder / "survey.pdf")
    library = Library.open(tmp_path_factory.mktemp("lib"))
    with library.db:  # `folio` commands would add the sample guide to a library's first use
        queries.set_meta(library.db, "sample_added", "by the test")
    outcome, = library.add([folder / "survey.pdf"])
    assert outcome.status.value == "added" and outcome.pages == 40
    assert outcome.document_id is not None
    yield library, outcome.document_id, chapters
    library.close()


@pytest.fixture
def fresh(survey: tuple[Library, int, list[Chapter]]) -> tuple[Library, int, list[Chapter]]:
    """The survey library with no summaries kept yet."""
    library, doc_id, _ = survey
    with library.db:
        summaries.forget_document(library.db, doc_id)
    return survey


def summarise(library: Library, doc_id: int, server: FakeOllama, recorder: Recorder,
              question: str = "Summarise this document", **kwargs: Any
              ) -> tuple[list[AnswerEvent], Answer]:
    server.responder = recorder
    events = list(library.ask(question, scope=[doc_id], host=server.host, save=False, **kwargs))
    done = events[-1]
    assert isinstance(done, AnswerDone), done
    return events, done.answer


def chapter_of(page: int, chapters: list[Chapter]) -> Chapter:
    return next(c for c in chapters if c.first_page <= page <= c.last_page)


def test_the_sections_are_the_chapters(fresh: tuple[Library, int, list[Chapter]]) -> None:
    library, doc_id, chapters = fresh
    sections = outline.sections_of(summaries.document_passages(library.db, doc_id), 1800)
    assert [s.heading for s in sections] == [c.heading for c in chapters]
    for section, chapter in zip(sections, chapters, strict=True):
        assert chapter.first_page == section.page_start
        assert section.page_end <= chapter.last_page
    # a budget smaller than a chapter cuts it into parts, every passage kept once, in order
    small = outline.sections_of(summaries.document_passages(library.db, doc_id), 150)
    assert len(small) > len(sections)
    assert [h.passage_id for s in small for h in s.passages] == [
        h.passage_id for s in sections for h in s.passages]
    assert "(part 1 of" in small[0].heading
    named = outline.named_sections("What are the main points of chapter 3?", sections)
    assert [s.heading for s in named] == [chapters[2].heading]


def test_a_summary_visits_every_section_once_and_cites_their_pages(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, chapters = fresh
    recorder = Recorder([])
    events, answer = summarise(library, doc_id, fake_ollama, recorder)

    assert recorder.sections == [c.heading for c in chapters]  # each once, in order
    assert recorder.combines == 1
    progress = [e.message for e in events if isinstance(e, Progress)]
    assert progress[:10] == [f"Summarising: section {i} of 10" for i in range(1, 11)]
    assert answer.mode is AnswerMode.GENERATED and answer.complete
    assert "".join(e.text for e in events if isinstance(e, Token)) == answer.text
    # every chapter's fact is in the answer, cited on that chapter's pages, numbered 1-10
    assert [c.n for c in answer.citations] == list(range(1, 11))
    assert [s.n for s in answer.sources] == list(range(1, 11))  # only what is cited
    # each line is a claim of its own, supported by its source
    assert len(answer.support) == 10 and not any(s.not_found_in for s in answer.support)
    for chapter in chapters:
        assert chapter.fact in answer.text
    for citation in answer.citations:
        chapter = chapter_of(citation.page, chapters)
        line = next(line for line in answer.text.splitlines() if f"[{citation.n}]" in line)
        assert chapter.fact in line and chapter.fact in citation.text
        assert citation.document_id == doc_id and citation.rects
        assert all(r.page == citation.page for r in citation.rects[:1])
        assert citation.found_by == overview.FOUND_BY
    kept = summaries.of_document(library.db, doc_id)
    assert [s.kind for s in kept].count("section") == 10
    assert [s.kind for s in kept].count("document") == 1
    assert library.check().ok  # the kept summaries are no inconsistency


def test_the_second_time_asks_the_model_nothing(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, _ = fresh
    fake_ollama.models.append("qwen2.5:7b")
    _, first = summarise(library, doc_id, fake_ollama, Recorder([]))
    asked = len(fake_ollama.chat_requests)
    recorder = Recorder([])
    events, again = summarise(library, doc_id, fake_ollama, recorder,
                              "Give me a summary of it")  # other words, the same request
    assert recorder.sections == [] and len(fake_ollama.chat_requests) == asked
    assert again.text == first.text
    assert [(c.n, c.page, c.passage_id) for c in again.citations] == [
        (c.n, c.page, c.passage_id) for c in first.citations]
    assert not any(isinstance(e, Progress) and "Summarising" in e.message for e in events)
    # another model is another summary: its key differs
    other = Recorder([])
    summarise(library, doc_id, fake_ollama, other, model="qwen2.5:7b")
    assert len(other.sections) == 10


def test_a_stop_halfway_keeps_only_whole_sections_and_the_next_run_goes_on(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, chapters = fresh
    cancel = threading.Event()
    recorder = Recorder([], cancel=cancel, stop_at=5)  # Stop while section 5 is being written
    _, stopped = summarise(library, doc_id, fake_ollama, recorder, cancel=cancel)

    assert not stopped.complete and "Stopped after 4 of 10 sections" in (stopped.notice or "")
    assert recorder.sections == [c.heading for c in chapters[:5]]
    kept = summaries.of_document(library.db, doc_id)
    assert sorted(s.heading for s in kept) == sorted(c.heading for c in chapters[:4])
    assert all(s.kind == "section" for s in kept)  # nothing that looks like a whole answer
    assert {chapter_of(c.page, chapters).heading for c in stopped.citations} == {
        c.heading for c in chapters[:4]}  # what was done is shown, cited

    rerun = Recorder([])
    _, answer = summarise(library, doc_id, fake_ollama, rerun)
    assert rerun.sections == [c.heading for c in chapters[4:]]  # from where it stopped
    assert answer.complete and len(answer.citations) == 10
    assert [s.kind for s in summaries.of_document(library.db, doc_id)].count("document") == 1


def test_a_stop_while_combining_keeps_no_answer(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, _ = fresh
    cancel = threading.Event()
    recorder = Recorder([], cancel=cancel, stop_combining=True)
    _, stopped = summarise(library, doc_id, fake_ollama, recorder, cancel=cancel)
    assert not stopped.complete
    kinds = [s.kind for s in summaries.of_document(library.db, doc_id)]
    assert kinds.count("section") == 10 and "document" not in kinds
    again = Recorder([])
    _, answer = summarise(library, doc_id, fake_ollama, again)
    assert again.sections == [] and again.combines == 1 and answer.complete


def test_summaries_that_do_not_fit_are_combined_in_rounds(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, chapters = fresh
    fake_ollama.context_length = 4096  # the model's context: ten long summaries overflow it
    recorder = Recorder([], long_summaries=True)
    _, answer = summarise(library, doc_id, fake_ollama, recorder)
    assert len(recorder.sections) == 10
    assert recorder.combines > 1  # the parts first, then the whole
    assert all(r["options"]["num_ctx"] <= 4096 for r in fake_ollama.chat_requests)
    assert answer.complete
    assert {chapter_of(c.page, chapters).heading for c in answer.citations} == {
        c.heading for c in chapters}


def test_without_ollama_the_overview_quotes_each_section_cited(
        fresh: tuple[Library, int, list[Chapter]]) -> None:
    library, doc_id, chapters = fresh
    events = list(library.ask("Summarise this document", scope=[doc_id], host=refused_host(),
                              save=False))
    done = events[-1]
    assert isinstance(done, AnswerDone)
    answer = done.answer
    assert answer.mode is AnswerMode.EXTRACTIVE and answer.complete
    assert "not running" in (answer.notice or "")
    lines = answer.text.splitlines()
    for chapter in chapters:  # the outline, in order, each heading with its pages
        assert any(line.startswith(f"**{chapter.heading.replace(':', ':')}**") for line in lines)
    cited_chapters = set()
    for citation in answer.citations:
        chapter = chapter_of(citation.page, chapters)
        quoted = [line for line in lines if line.endswith(f"[{citation.n}]")]
        assert quoted and all(q[2:-len(f" [{citation.n}]")] in " ".join(citation.text.split())
                              for q in quoted)
        # the quote is under its own chapter's heading
        heading_line = max(i for i, line in enumerate(lines[:lines.index(quoted[0])])
                           if line.startswith("**"))
        assert lines[heading_line].startswith(f"**{chapter.heading}**")
        cited_chapters.add(chapter.heading)
    assert cited_chapters == {c.heading for c in chapters}
    kept = summaries.of_document(library.db, doc_id)
    assert [(s.kind, s.model) for s in kept] == [("document", "")]  # not a model's summary
    again = list(library.ask("Give an overview", scope=[doc_id], host=refused_host(), save=False))
    assert not any(isinstance(e, Progress) for e in again)  # kept: nothing read again
    assert isinstance(again[-1], AnswerDone) and again[-1].answer.text == answer.text
    assert again[-1].answer.citations == answer.citations


def test_which_questions_walk_the_document() -> None:
    for question in ("Summarise this document", "summarize it", "Give me an overview",
                     "What are the main points?", "list every date in this contract",
                     "List all the names mentioned"):
        assert overview.wanted(question, [3]), question
    assert not overview.wanted("Summarise this document", None)  # the whole library
    assert not overview.wanted("Summarise this document", [3, 4])  # two documents
    assert overview.wanted("Which are all the deadlines in it?", [3])
    assert overview.wanted("every date mentioned, please", [3])
    assert not overview.wanted("When is the battery warranty over?", [3])
    assert not overview.wanted("Does every employee get a bonus?", [3])
    # a yes/no question about every or all of something is asked of the top passages
    for question in ("Does every employee in Germany get a bonus?", "Is every payment in euros?",
                     "Are all the risks of the merger disclosed?"):
        assert not overview.wanted(question, [3]), question
    assert overview.wanted("Can you list every date in it?", [3])  # a request, not yes/no
    for question in ("What is this document about?", "What is this about?",
                     "what's the report about"):
        assert overview.request_of(question) == overview.Request(""), question
    assert not overview.wanted("Outline the refund procedure", [3])  # a question, top-k
    assert overview.request_of("Summarise it") == overview.Request("")
    assert overview.request_of("list every date") == overview.Request("list every date")


def test_folio_summarise_and_ask_about_one_document(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama,
        capsys: pytest.CaptureFixture[str]) -> None:
    library, doc_id, chapters = fresh
    recorder = Recorder([])
    fake_ollama.responder = recorder
    root = str(library.root)
    assert main(["summarise", str(doc_id), "--json", "--library", root,
                 "--host", fake_ollama.host]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "generated" and out["complete"]
    assert len(recorder.sections) == 10
    assert {chapter_of(c["page"], chapters).heading for c in out["citations"]} == {
        c.heading for c in chapters}
    # folio ask --doc ID "summarise this": the same path, and the summaries are kept
    assert main(["ask", "summarise this", "--doc", str(doc_id), "--library", root,
                 "--host", fake_ollama.host]) == 0
    captured = capsys.readouterr()
    assert len(recorder.sections) == 10  # nothing summarised again
    assert chapters[0].fact in captured.out and "[1]" in captured.out
    assert main(["summarise", str(doc_id), "--fresh", "--library", root,
                 "--host", fake_ollama.host]) == 0
    assert len(recorder.sections) == 20  # made again
    assert "Summarising: section 10 of 10" in capsys.readouterr().err
    assert main(["summarise", str(doc_id), "Which sites were surveyed?", "--library", root,
                 "--host", fake_ollama.host]) == 0
    asked = [r["messages"][-1]["content"] for r in fake_ollama.chat_requests[-11:]]
    assert all("“Which sites were surveyed?”" in a for a in asked[:10])  # asked of each
    assert "Request: Which sites were surveyed?" in asked[10]
    assert main(["summarise", "nope", "--library", root]) == 1
    assert "No document" in capsys.readouterr().err


def test_a_document_without_headings_is_walked_in_page_ranges() -> None:
    from core.types import Hit
    hits = [(Hit(passage_id=i, document_id=1, title="Notes", page=i, page_end=i, page_label=None,
                 heading_path="", text=f"Page {i} says something of its own.", score=0.0,
                 keyword_rank=None, semantic_rank=None), 200) for i in range(1, 13)]
    sections = outline.sections_of(hits, 1800)
    assert [s.heading for s in sections] == ["Pages 1–5", "Pages 6–10", "Pages 11–12"]
    assert [s.pages for s in sections] == ["pp. 1–5", "pp. 6–10", "pp. 11–12"]
    # the budget bounds a range too
    assert [len(s.passages) for s in outline.sections_of(hits, 400)] == [2, 2, 1, 2, 2, 1, 2]


def test_a_changed_document_is_summarised_afresh(tmp_path: Path, library: Library,
                                                 fake_ollama: FakeOllama) -> None:
    notes = tmp_path / "notes.md"
    body = ("# Field notes\n\n## Spring\n\nThe first swallows arrived on the ninth of April "
            "this year.\n\n## Summer\n\nThe pond dried out in the last week of July.\n")
    notes.write_text(body, encoding="utf-8")
    doc_id = library.add([notes])[0].document_id
    assert doc_id is not None
    first = Recorder([])
    _, answer = summarise(library, doc_id, fake_ollama, first)
    assert first.sections == ["Spring / Summer"]  # two short sections: one request
    assert "ninth of April" in answer.text
    notes.write_text(body.replace("ninth of April", "second of May"), encoding="utf-8")
    assert library.add([notes])[0].status.value == "replaced"
    assert summaries.of_document(library.db, doc_id) == []  # the old version's went with it
    again = Recorder([])
    _, answer = summarise(library, doc_id, fake_ollama, again)
    assert again.sections == ["Spring / Summer"] and "second of May" in answer.text



def test_a_list_asks_each_section_for_it_and_leaves_out_the_sections_without(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, chapters = fresh
    question = "List every count of herons and newts in this survey"
    combine = Recorder([])
    asked: list[str] = []

    def lists(messages: Sequence[Any]) -> str | None:
        user = str(messages[-1]["content"])
        if not user.startswith(SECTION_MARK):
            return combine(messages)
        asked.append(user)
        found = [s for s in parse_sources(user) if "counted" in s.text and (
            "herons" in s.text or "newts" in s.text)]
        return f"{first_sentence(found[0].text)} [{found[0].id}]" if found else "None."

    fake_ollama.responder = lists
    events = list(library.ask(question, scope=[doc_id], host=fake_ollama.host, save=False))
    done = events[-1]
    assert isinstance(done, AnswerDone)
    answer = done.answer
    assert len(asked) == 10 and all(f"“{question}”" in a for a in asked)
    combined = next(r for r in fake_ollama.chat_requests
                    if r["messages"][-1]["content"].startswith(COMBINE_MARK))
    assert combined["messages"][-1]["content"].count("<section ") == 2  # the Nones left out
    assert f"Request: {question}" in combined["messages"][-1]["content"]
    assert chapters[1].fact in answer.text and chapters[5].fact in answer.text
    assert {chapter_of(c.page, chapters).heading for c in answer.citations} == {
        chapters[1].heading, chapters[5].heading}
    # a summary of the same document is another request: its sections are summarised anew
    recorder = Recorder([])
    summarise(library, doc_id, fake_ollama, recorder)
    assert len(recorder.sections) == 10


def test_a_model_failing_partway_gives_the_overview_and_keeps_the_sections_done(
        fresh: tuple[Library, int, list[Chapter]], fake_ollama: FakeOllama) -> None:
    library, doc_id, chapters = fresh
    recorder = Recorder([])

    def failing(messages: Sequence[Any]) -> str | None:
        reply = recorder(messages)
        if len(recorder.sections) == 3:
            fake_ollama.set_fault(Fault.SERVER_ERROR)  # from the fourth request on
        return reply

    fake_ollama.responder = failing
    events = list(library.ask("Summarise this document", scope=[doc_id], host=fake_ollama.host,
                              save=False))
    done = events[-1]
    assert isinstance(done, AnswerDone)
    answer = done.answer
    assert answer.mode is AnswerMode.EXTRACTIVE and "Ollama reported an error" in (
        answer.notice or "")
    assert {chapter_of(c.page, chapters).heading for c in answer.citations} == {
        c.heading for c in chapters}  # the whole outline, numbered afresh
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    kept = summaries.of_document(library.db, doc_id)
    assert sorted((s.kind, s.heading) for s in kept if s.model) == sorted(
        ("section", c.heading) for c in chapters[:3])
    fake_ollama.set_fault(Fault.NONE)
    rerun = Recorder([])
    _, again = summarise(library, doc_id, fake_ollama, rerun)
    assert rerun.sections == [c.heading for c in chapters[3:]] and again.complete
