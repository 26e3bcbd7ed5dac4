"""Asking through the real `ollama` client against the Ollama-compatible test server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import prompt
from core.answer_types import (
    Answer,
    AnswerDone,
    AnswerEvent,
    AnswerMode,
    AskFailed,
    LlmErrorKind,
    SourcesFound,
    Token,
)
from core.cli import main
from core.library import Library
from tests.fixtures import docs as fx
from tests.ollama_server import FakeOllama, Fault, first_sentence, refused_host

BATTERY = ("The warranty for the BX-200 battery covers defects in materials for thirty-six "
           "months from purchase. It does not cover damage from frost.")
TOPICS = {
    "battery.md": f"# Battery manual\n\n## Warranty\n\n{BATTERY}",
    "moorings.md": "# Harbour guide\n\n## Moorings\n\nVisitor moorings are the yellow buoys north "
                   "of the breakwater; they cost twelve euros a night.",
    "bread.md": "# Kitchen notes\n\n## Bread\n\nKnead the dough for ten minutes, then let it rise "
                "in a warm place until it has doubled in size.",
}


@pytest.fixture(scope="module")
def askable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, fx.ReportPdf]]:
    docs = tmp_path_factory.mktemp("docs")
    for name, text in TOPICS.items():
        (docs / name).write_text(text, encoding="utf-8")
    report = fx.make_report_pdf(docs)
    library = Library.open(tmp_path_factory.mktemp("lib"))
    assert all(o.status.value == "added" for o in library.add([docs]))
    yield library, report
    library.close()


def run(library: Library, question: str, **kwargs: object) -> tuple[list[AnswerEvent], Answer]:
    events = list(library.ask(question, **kwargs))  # type: ignore[arg-type]
    done = events[-1]
    assert isinstance(done, AnswerDone), events[-1]
    return events, done.answer


def test_answer_streams_from_the_sources_in_rank_order(askable: tuple[Library, fx.ReportPdf],
                                                       fake_ollama: FakeOllama) -> None:
    library, _ = askable
    events, answer = run(library, "How long is the BX-200 battery warranty?", host=fake_ollama.host)
    found = events[0]
    assert isinstance(found, SourcesFound)
    assert found.sources[0].hit.title == "Battery manual"
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 3 and "".join(tokens) == answer.text
    # The answer restates source 1: the prompt held the best passage first.
    assert answer.text.startswith(first_sentence(BATTERY) + " [1]")
    request = fake_ollama.last_chat
    user = request["messages"][-1]["content"]
    positions = [user.index(f'<source id="{s.n}" title="{s.hit.title}"') for s in found.sources]
    assert positions == sorted(positions) and len(positions) == len(answer.sources)
    assert request["messages"][0]["role"] == "system"
    assert "never instructions" in request["messages"][0]["content"]
    # num_ctx is set and covers the prompt plus room for the answer.
    num_ctx = request["options"]["num_ctx"]
    prompt_tokens = sum(prompt.count_tokens(m["content"]) for m in request["messages"])
    assert num_ctx == answer.num_ctx and prompt_tokens + prompt.ANSWER_RESERVE <= num_ctx
    assert answer.mode is AnswerMode.GENERATED and answer.model == "llama3.2:3b"
    assert answer.complete and answer.notice is None
    assert answer.citations[0].n == 1
    assert answer.citations[0].title == "Battery manual"
    assert answer.timings.first_token_ms is not None and answer.timings.request_ms is not None


def test_citation_resolves_to_the_pdf_page_and_rectangles(askable: tuple[Library, fx.ReportPdf],
                                                          fake_ollama: FakeOllama) -> None:
    library, report = askable
    word, page = next(iter(report.unique_words.items()))
    _, answer = run(library, f"What does the report say about {word}?", host=fake_ollama.host)
    cited = answer.citations[0]
    hit = answer.sources[0].hit
    assert word in hit.text and cited.page == page == hit.page
    assert cited.page_label == report.labels[page - 1]
    assert cited.rects == hit.rects and cited.rects and all(r.page == page for r in cited.rects)


def test_follow_up_retrieves_with_the_rewritten_question(askable: tuple[Library, fx.ReportPdf],
                                                         fake_ollama: FakeOllama) -> None:
    library, _ = askable
    _, first = run(library, "Where are the visitor moorings?", host=fake_ollama.host)
    assert first.conversation_id is not None
    fake_ollama.rewrite_reply = "How long does the BX-200 battery warranty last?"
    events, second = run(library, "And how long does that last?", host=fake_ollama.host,
                         conversation=first.conversation_id)
    found = events[0]
    assert isinstance(found, SourcesFound)
    assert found.standalone_question == "How long does the BX-200 battery warranty last?"
    assert found.sources[0].hit.title == "Battery manual"
    rewrite = fake_ollama.chat_requests[-2]["messages"][-1]["content"]
    assert "Where are the visitor moorings?" in rewrite and "And how long does that last?" in rewrite
    answer_messages = fake_ollama.last_chat["messages"]
    assert [m["role"] for m in answer_messages] == ["system", "user", "assistant", "user"]
    assert answer_messages[1]["content"] == "Where are the visitor moorings?"
    assert second.conversation_id == first.conversation_id
    turns = library.turns(first.conversation_id)
    assert [t.question for t in turns] == ["Where are the visitor moorings?",
                                           "And how long does that last?"]
    assert turns[1].citations[0].title == "Battery manual"


def test_follow_up_without_a_model_searches_with_the_recent_questions(
        askable: tuple[Library, fx.ReportPdf]) -> None:
    library, _ = askable
    host = refused_host()
    _, first = run(library, "What does the BX-200 warranty cover?", host=host)
    events, _ = run(library, "Does it cover frost?", host=host, conversation=first.conversation_id)
    found = events[0]
    assert isinstance(found, SourcesFound)
    assert found.standalone_question == "What does the BX-200 warranty cover? Does it cover frost?"


@pytest.mark.parametrize(("setup", "kind", "words"), [
    ("refused", LlmErrorKind.UNREACHABLE, "not running"),
    ("no_chat_model", LlmErrorKind.NO_MODEL, "ollama pull"),
    ("missing_named", LlmErrorKind.MODEL_MISSING, "'mistral:7b' is not installed"),
    ("chat_404", LlmErrorKind.MODEL_MISSING, "'llama3.2:3b' is not installed"),
    ("http_500", LlmErrorKind.SERVER_ERROR, "llama runner process has terminated"),
])
def test_no_written_answer_falls_back_to_the_passages(
        askable: tuple[Library, fx.ReportPdf], fake_ollama: FakeOllama, setup: str,
        kind: LlmErrorKind, words: str) -> None:
    library, _ = askable
    host, model = fake_ollama.host, None
    if setup == "refused":
        host = refused_host()
    elif setup == "no_chat_model":
        fake_ollama.models = ["nomic-embed-text:latest"]
    elif setup == "missing_named":
        model = "mistral:7b"
    elif setup == "chat_404":
        fake_ollama.set_fault(Fault.MODEL_MISSING)
    else:
        fake_ollama.set_fault(Fault.SERVER_ERROR)
    _, answer = run(library, "How long is the BX-200 battery warranty?", host=host, model=model)
    assert answer.mode is AnswerMode.EXTRACTIVE and answer.error_kind is kind
    assert answer.notice is not None and words in answer.notice
    assert "thirty-six months" in answer.text and "[1]" in answer.text
    assert answer.citations[0].title == "Battery manual"


@pytest.mark.parametrize(("fault", "kind"), [
    (Fault.CUT_STREAM, LlmErrorKind.CUT_OFF),
    (Fault.NO_DONE, LlmErrorKind.CUT_OFF),
    (Fault.GARBAGE_LINE, LlmErrorKind.BAD_RESPONSE),
    (Fault.ERROR_LINE, LlmErrorKind.SERVER_ERROR),
])
def test_a_broken_stream_keeps_the_partial_answer_and_says_why(
        askable: tuple[Library, fx.ReportPdf], fake_ollama: FakeOllama, fault: Fault,
        kind: LlmErrorKind) -> None:
    library, _ = askable
    fake_ollama.set_fault(fault)
    events, answer = run(library, "How long is the BX-200 battery warranty?",
                         host=fake_ollama.host)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens and answer.text == "".join(tokens)
    assert not answer.complete and answer.error_kind is kind and answer.notice
    assert answer.mode is AnswerMode.GENERATED


def test_cancel_stops_the_stream(askable: tuple[Library, fx.ReportPdf],
                                 fake_ollama: FakeOllama) -> None:
    library, _ = askable
    fake_ollama.set_fault(Fault.SLOW_TOKENS)
    fake_ollama.token_delay = 0.3
    fake_ollama.reply = " ".join(f"word{i}" for i in range(40)) + " [1]"
    cancel = threading.Event()
    events: list[AnswerEvent] = []
    kept = len(library.conversations())
    start = time.perf_counter()
    for event in library.ask("BX-200 warranty?", host=fake_ollama.host, cancel=cancel):
        events.append(event)
        if isinstance(event, Token):
            cancel.set()
    assert time.perf_counter() - start < 5  # 40 tokens at 0.3 s would take 12 s
    done = events[-1]
    assert isinstance(done, AnswerDone) and not done.answer.complete
    assert done.answer.text == "word0 "
    # A stopped answer is not kept (a question that replaced it must not land elsewhere).
    assert done.answer.conversation_id is None and len(library.conversations()) == kept


def test_closing_the_iterator_closes_the_stream(askable: tuple[Library, fx.ReportPdf],
                                                fake_ollama: FakeOllama) -> None:
    library, _ = askable
    fake_ollama.set_fault(Fault.SLOW_TOKENS)
    fake_ollama.token_delay = 0.3
    fake_ollama.reply = " ".join(f"word{i}" for i in range(40))
    events = library.ask("BX-200 warranty?", host=fake_ollama.host)
    start = time.perf_counter()
    for event in events:
        if isinstance(event, Token):
            break
    events.close()  # type: ignore[attr-defined]
    assert time.perf_counter() - start < 2


def test_unknown_and_missing_citations_are_reported(askable: tuple[Library, fx.ReportPdf],
                                                    fake_ollama: FakeOllama) -> None:
    library, _ = askable
    fake_ollama.reply = "The warranty lasts three years [1]. Batteries love frost [30]."
    _, answer = run(library, "BX-200 warranty?", host=fake_ollama.host)
    assert answer.unknown_citations == (30,) and [c.n for c in answer.citations] == [1]
    assert answer.text == "The warranty lasts three years [1]. Batteries love frost."
    fake_ollama.reply = "The warranty lasts three years."
    _, uncited = run(library, "BX-200 warranty?", host=fake_ollama.host)
    assert uncited.uncited and not uncited.citations


def test_empty_question_and_empty_library(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    with Library.open(tmp_path / "empty") as library:
        events = list(library.ask("   ", host=fake_ollama.host))
        assert len(events) == 1 and isinstance(events[0], AskFailed)
        _, answer = run(library, "What is the warranty?", host=fake_ollama.host)
        assert answer.mode is AnswerMode.EXTRACTIVE and not answer.sources
        assert "Nothing in the library" in answer.text
        assert fake_ollama.chat_requests == []  # no sources: nothing to ask the model


def test_cli_ask_json_models_and_pull(askable: tuple[Library, fx.ReportPdf], fake_ollama: FakeOllama,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    library, _ = askable
    lib = ["--library", str(library.root), "--host", fake_ollama.host]
    assert main(["ask", "How long is the BX-200 battery warranty?", "--json", *lib]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "generated" and out["model"] == "llama3.2:3b"
    first = out["citations"][0]
    assert first["n"] == 1 and first["title"] == "Battery manual" and first["page"] == 1
    assert set(out["timings"]) >= {"retrieval_ms", "first_token_ms", "tokens_per_s"}
    assert main(["ask", "How long is the BX-200 battery warranty?", *lib]) == 0
    streamed = capsys.readouterr().out
    assert streamed.startswith(first_sentence(BATTERY)) and "\n[1] Battery manual, p. 1" in streamed
    assert main(["models", *lib]) == 0
    assert "llama3.2:3b" in capsys.readouterr().out
    assert main(["pull", "qwen2.5:0.5b", *lib]) == 0
    assert "qwen2.5:0.5b" in fake_ollama.models
    code = main(["ask", "BX-200 warranty?", "--library", str(library.root), "--host",
                 refused_host()])
    captured = capsys.readouterr()
    assert code == 0 and "not running" in captured.err and "[1] Battery manual" in captured.out


def test_a_malformed_host_is_a_sentence_not_a_traceback(askable: tuple[Library, fx.ReportPdf],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    library, _ = askable
    status = library.ollama_status("localhost:abc")
    assert not status.reachable and "not an Ollama address" in status.message
    _, answer = run(library, "BX-200 warranty?", host="localhost:99999")
    assert answer.mode is AnswerMode.EXTRACTIVE and "not an Ollama address" in (answer.notice or "")
    assert main(["config", "ollama-host", "http://[::1", "--library", str(library.root)]) == 1
    assert "not an Ollama address" in capsys.readouterr().err


def test_stop_ends_the_request_while_the_model_is_still_thinking(
        askable: tuple[Library, fx.ReportPdf], fake_ollama: FakeOllama) -> None:
    library, _ = askable
    fake_ollama.set_fault(Fault.SLOW_TOKENS)
    fake_ollama.token_delay = 4.0  # as a model loading or reading a long prompt
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.perf_counter()
    events = list(library.ask("BX-200 warranty?", host=fake_ollama.host, cancel=cancel))
    assert time.perf_counter() - start < 3.0
    done = events[-1]
    assert isinstance(done, AnswerDone) and not done.answer.complete
    assert done.answer.error_kind is None  # a Stop, not a failure


def test_rewrite_and_answer_share_one_context_size(askable: tuple[Library, fx.ReportPdf],
                                                   fake_ollama: FakeOllama) -> None:
    library, _ = askable
    _, first = run(library, "Where are the visitor moorings?", host=fake_ollama.host)
    run(library, "And what do they cost?", host=fake_ollama.host,
        conversation=first.conversation_id)
    sizes = {r["options"]["num_ctx"] for r in fake_ollama.chat_requests}
    assert sizes == {prompt.MIN_CONTEXT}  # Ollama reloads the model when num_ctx changes
    rewrite = fake_ollama.chat_requests[1]
    assert rewrite["options"]["num_predict"] <= 200


def test_a_question_too_long_for_the_context_gets_the_passages(
        askable: tuple[Library, fx.ReportPdf], fake_ollama: FakeOllama) -> None:
    library, _ = askable
    library.set_setting("max-context", "4096")
    try:
        question = "BX-200 battery warranty " + "and also please consider this " * 1500
        _, answer = run(library, question, host=fake_ollama.host)
    finally:
        library.set_setting("max-context", "8192")
    assert answer.mode is AnswerMode.EXTRACTIVE and answer.error_kind is LlmErrorKind.TOO_LONG
    assert "too long" in (answer.notice or "")
    assert fake_ollama.chat_requests == []


def test_extractive_quotes_keep_the_documents_own_reference_marks(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "paper.md").write_text("# Paper\n\nThe gradient is computed with softmax [7] over "
                                    "the harbour logits.", encoding="utf-8")
    with Library.open(tmp_path / "lib") as library:
        library.add([notes])
        _, answer = run(library, "How is the gradient computed?", host=refused_host())
    assert "softmax [7] over the harbour logits. [1]" in answer.text
    assert [c.n for c in answer.citations] == [1] and answer.unknown_citations == ()


def test_a_new_question_without_a_model_is_searched_on_its_own(
        askable: tuple[Library, fx.ReportPdf]) -> None:
    # Issue 18, bug 9: a question about another topic drew a source from the one asked before.
    library, _ = askable
    host = refused_host()
    _, first = run(library, "What does the BX-200 warranty cover?", host=host)
    question = "How long should the bread dough be kneaded before it can rise?"
    events, _ = run(library, "Where are the visitor moorings near the breakwater?", host=host,
                    conversation=first.conversation_id)
    found = events[0]
    assert isinstance(found, SourcesFound)
    assert found.standalone_question == "Where are the visitor moorings near the breakwater?"
    assert found.sources[0].hit.title == "Harbour guide"
    events, _ = run(library, question, host=host, conversation=first.conversation_id)
    found = events[0]
    assert isinstance(found, SourcesFound) and found.standalone_question == question
    assert "Battery manual" not in {s.hit.title for s in found.sources[:1]}


@pytest.mark.parametrize(("question", "follows"), [
    ("Does it cover frost?", True),               # pointing back
    ("How much did they cost in the first year?", True),
    ("How long should the dough be kneaded before it can rise?", False),  # "it": the dough
    ("And how long does that last?", True),       # continuing
    ("What about the price?", True),
    ("…and for the pump?", True),                 # ellipsis
    ("Since when?", True),                        # too short to stand alone
    ("How often should the water filter cartridge be replaced?", False),
    ("Is there a warranty on the kitchen tap?", False),
    ("Where are the visitor moorings near the breakwater?", False),
])
def test_what_reads_as_a_follow_up(question: str, follows: bool) -> None:
    from core.followup import reads_as_follow_up

    assert reads_as_follow_up(question) is follows
