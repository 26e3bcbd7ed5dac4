"""Span-exact citations: each cited sentence of an answer is aligned to the source sentence that
supports it; unsupported sentences and made-up numbers are flagged. Answers are written by the
test Ollama server (told what to say), sources found in a real library by the real search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.answer_types import Answer, AnswerDone
from core.cli import main
from core.library import Library
from tests.ollama_server import FakeOllama

BATTERY = ("# Battery manual\n\n## Warranty\n\nThe warranty for the BX-200 battery covers defects "
           "in materials for thirty-six months from purchase. It does not cover damage from "
           "water or from dropping the battery. Claims need the receipt and the serial number "
           "printed on the case.")
GARDEN = ("# Garden diary\n\n## Roses\n\nPrune the roses in late winter, cutting each stem just "
          "above an outward-facing bud. Feed them with compost in April.")


@pytest.fixture
def library_with_notes(library: Library, docs_dir: Path, fake_ollama: FakeOllama) -> Library:
    (docs_dir / "battery.md").write_text(BATTERY, encoding="utf-8")
    (docs_dir / "garden.md").write_text(GARDEN, encoding="utf-8")
    library.add([docs_dir])
    library.set_setting("ollama-host", fake_ollama.host)
    return library


def answer(library: Library, reply: str, server: FakeOllama) -> Answer:
    server.reply = reply
    for event in library.ask("What does the BX-200 battery warranty cover, and how long?", k=2,
                             save=False):
        if isinstance(event, AnswerDone):
            return event.answer
    raise AssertionError("no answer")


def source_number(found: Answer, title: str) -> int:
    return next(s.n for s in found.sources if s.hit.title == title)


def test_a_quoted_sentence_is_aligned_to_itself(library_with_notes: Library,
                                                fake_ollama: FakeOllama) -> None:
    probe = answer(library_with_notes, "x", fake_ollama)
    n = source_number(probe, "Battery manual")
    found = answer(library_with_notes, f"It does not cover damage from water or from dropping "
                   f"the battery [{n}].", fake_ollama)
    [sentence] = found.support
    [span] = sentence.spans
    assert span.supported and span.text == ("It does not cover damage from water or from "
                                            "dropping the battery.")
    assert span.page == 1 and sentence.not_found_in == () and sentence.unsupported_numbers == ()


def test_a_paraphrase_is_supported_an_invention_and_a_made_up_number_are_flagged(
        library_with_notes: Library, fake_ollama: FakeOllama) -> None:
    n = source_number(answer(library_with_notes, "x", fake_ollama), "Battery manual")
    found = answer(library_with_notes,
                   f"Material defects in the BX-200 battery are covered for thirty-six months "
                   f"after you buy it [{n}]. "
                   f"The warranty also includes free replacement batteries every 48 months [{n}]. "
                   f"The manufacturer was founded in Lisbon by two sisters [{n}].",
                   fake_ollama)
    paraphrase, number, invented = found.support
    assert paraphrase.spans[0].supported and "thirty-six months" in paraphrase.spans[0].text
    assert number.unsupported_numbers == ("48",)
    assert invented.not_found_in == (n,) and not invented.spans[0].supported
    assert invented.spans[0].score < paraphrase.spans[0].score


def test_a_sentence_citing_the_wrong_source_is_not_found_there(
        library_with_notes: Library, fake_ollama: FakeOllama) -> None:
    probe = answer(library_with_notes, "x", fake_ollama)
    battery, garden = source_number(probe, "Battery manual"), source_number(probe, "Garden diary")
    found = answer(library_with_notes, f"Claims need the receipt and the serial number [{garden}]. "
                   f"Claims need the receipt and the serial number [{battery}].", fake_ollama)
    wrong, right = found.support
    assert wrong.not_found_in == (garden,) and right.not_found_in == ()


def test_folio_ask_json_carries_each_citations_span(
        library_with_notes: Library, fake_ollama: FakeOllama,
        capsys: pytest.CaptureFixture[str]) -> None:
    n = source_number(answer(library_with_notes, "x", fake_ollama), "Battery manual")
    fake_ollama.reply = f"The BX-200 warranty covers defects in materials for thirty-six months [{n}]."
    assert main(["ask", "What does the BX-200 battery warranty cover?", "--json", "-k", "2",
                 "--library", str(library_with_notes.root)]) == 0
    data = json.loads(capsys.readouterr().out)
    [citation] = data["citations"]
    assert citation["span"]["supported"] and citation["span"]["page"] == 1
    assert citation["span"]["text"].startswith("The warranty for the BX-200 battery covers")
    assert data["support"][0]["not_found_in"] == []


def test_a_mark_after_the_full_stop_belongs_to_the_sentence_before_it(
        library_with_notes: Library, fake_ollama: FakeOllama) -> None:
    """"... months. [1] Prune ..." (as small models often write): [1] supports the first."""
    probe = answer(library_with_notes, "x", fake_ollama)
    battery, garden = source_number(probe, "Battery manual"), source_number(probe, "Garden diary")
    found = answer(library_with_notes, f"The BX-200 warranty covers defects for thirty-six "
                   f"months. [{battery}] Prune the roses in late winter. [{garden}]", fake_ollama)
    first, second = found.support
    assert first.spans[0].n == battery and first.spans[0].supported
    assert second.spans[0].n == garden and second.spans[0].supported


def test_a_wrong_number_is_flagged_even_when_it_equals_a_citation_mark(
        library_with_notes: Library, fake_ollama: FakeOllama) -> None:
    n = source_number(answer(library_with_notes, "x", fake_ollama), "Battery manual")
    found = answer(library_with_notes, f"The warranty covers {n} years of defects [{n}].",
                   fake_ollama)
    assert found.support[0].unsupported_numbers == (str(n),)


def test_each_item_of_a_list_without_full_stops_is_a_claim_of_its_own(
        library_with_notes: Library, fake_ollama: FakeOllama) -> None:
    """Models often answer in a list whose items end without a full stop: each line is
    aligned to its own source, not run into the next as one sentence citing both."""
    probe = answer(library_with_notes, "x", fake_ollama)
    battery, garden = source_number(probe, "Battery manual"), source_number(probe, "Garden diary")
    found = answer(library_with_notes, f"- The warranty covers defects for thirty-six months "
                   f"[{battery}]\n- Prune the roses in late winter [{garden}]", fake_ollama)
    first, second = found.support
    assert [s.n for s in first.spans] == [battery] and first.spans[0].supported
    assert [s.n for s in second.spans] == [garden] and second.spans[0].supported
    assert first.not_found_in == () and second.not_found_in == ()
