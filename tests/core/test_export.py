"""Answers that leave the app: a conversation as Markdown with its sources as footnotes and
folio:// deep links, and the link handler that opens nothing but a page of a document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.answer_types import AnswerDone
from core.cli import main
from core.export import LinkError
from core.library import Library
from tests.core.test_search import TOPICS
from tests.fixtures import docs as fx
from tests.ollama_server import FakeOllama


@pytest.fixture
def answered(library: Library, docs_dir: Path, fake_ollama: FakeOllama) -> tuple[Library, int]:
    for name, text in TOPICS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    report = fx.make_report_pdf(docs_dir)
    library.add([docs_dir])
    assert report.path.exists()
    library.set_setting("ollama-host", fake_ollama.host)
    conversation = None
    for event in library.ask("How long does the BX-200 battery warranty last?", k=3):
        if isinstance(event, AnswerDone):
            conversation = event.answer.conversation_id
    assert conversation is not None
    return library, conversation


def test_a_conversation_as_markdown_has_footnotes_with_quotes_and_links(
        answered: tuple[Library, int], capsys: pytest.CaptureFixture[str]) -> None:
    library, conversation = answered
    assert main(["conversations", "--show", str(conversation), "--markdown",
                 "--library", str(library.root)]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# How long does the BX-200 battery warranty last?")
    assert "## How long does the BX-200 battery warranty last?" in markdown
    assert "[^1]" in markdown.split("[^1]:")[0]  # the mark in the answer
    battery = next(d for d in library.documents() if d.title == "Battery manual")
    note = next(line for line in markdown.splitlines() if line.startswith("[^1]:"))
    assert f"(folio://open?doc={battery.sha256}&page=1)" in note
    assert "Battery manual, p. 1" in note
    assert "thirty-six months" in note  # the supporting sentence, quoted
    assert not re.search(r"\[\d\]", markdown.split("[^1]:")[0])  # no raw [n] left


def test_a_removed_document_is_a_footnote_without_a_link(answered: tuple[Library, int]) -> None:
    library, conversation = answered
    battery = next(d for d in library.documents() if d.title == "Battery manual")
    library.remove(str(battery.id))
    markdown = library.conversation_markdown(conversation)
    note = next(line for line in markdown.splitlines() if line.startswith("[^1]:"))
    assert "(document removed)" in note and "folio://" not in note


def test_a_deep_link_opens_only_a_page_of_a_document_in_the_library(
        answered: tuple[Library, int]) -> None:
    library, _ = answered
    report = next(d for d in library.documents() if d.doc_type == "pdf")
    assert report.sha256 is not None
    assert library.open_link(f"folio://open?doc={report.sha256}&page=2") == (report, 2)
    assert library.open_link(f"FOLIO://open?doc={report.sha256.upper()}&page=1")[1] == 1
    refused = [
        "https://example.com/open?doc=x&page=1",
        f"folio://add?doc={report.sha256}&page=1",
        f"folio://open?doc={report.sha256}&page=1&path=/etc/passwd",
        f"folio://open?doc={report.sha256}&page=1&page=2",
        f"folio://open/../../etc?doc={report.sha256}&page=1",
        "folio://open?doc=../../etc/passwd&page=1",
        f"folio://open?doc={report.sha256[:10]}&page=1",
        f"folio://open?doc={'0' * 64}&page=1",
        f"folio://open?doc={report.sha256}&page=-1",
        f"folio://open?doc={report.sha256}&page=999",
        f"folio://open?doc={report.sha256}&page=1#run",
        f"folio://open?doc={report.sha256}&page=²",
        f"folio://open?doc={report.sha256}&page=١",
        f"folio://open?doc={report.sha256}&page={'9' * 5000}",
        f"folio://open?doc={report.sha256}&page=01",
        "folio://open",
    ]
    for url in refused:
        with pytest.raises(LinkError):
            library.open_link(url)
