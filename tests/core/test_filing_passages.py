"""Passages of real filings as a reader would check them: whole sentences, page labels, no
running header (read and chunked with the bundled tokenizer; nothing is embedded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import chunking
from core.embedding import BUNDLED_MODEL, Embedder
from core.engine import model_cache_dir
from core.readers.paged import read as read_pdf
from core.types import Passage, ReadResult

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "filings"
pytestmark = pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data/filings is absent")


def passages_of(name: str) -> tuple[ReadResult, list[Passage]]:
    result = read_pdf(FILINGS / name, Path(name).stem)
    embedder = Embedder(BUNDLED_MODEL, cache_dir=model_cache_dir())  # its tokenizer only

    def budget_for(headings: tuple[str, ...]) -> int:
        header = chunking.context_header(result.title, headings)
        return embedder.max_tokens - 2 - embedder.count_tokens(header)

    return result, chunking.chunk(result.paragraphs, embedder.count_tokens_batch, budget_for,
                                  result.label_of)


@pytest.fixture(scope="module")
def fedex() -> tuple[ReadResult, list[Passage]]:
    return passages_of("FEDEX_2023_annualreport.pdf")


def test_a_sentence_is_whole_in_one_passage_with_its_page_label(
        fedex: tuple[ReadResult, list[Passage]]) -> None:
    _, passages = fedex
    sentence = ("References to our transportation segments include, collectively, the FedEx "
                "Express segment, the FedEx Ground segment, and the FedEx Freight segment.")
    on_page = [p for p in passages if p.page_start <= 8 <= p.page_end]
    [passage] = [p for p in on_page if sentence in p.text]
    # the annual report restarts its page numbers: physical page 8 is the 10-K's page 4
    assert (passage.page_start, passage.page_label) == (8, "4")
    assert passage.headings[0] == "ITEM 1. BUSINESS"
    # no passage holds a cut piece of it: its start and its end are in that passage only
    for piece in (sentence[:60], sentence[-60:]):
        assert [p for p in on_page if piece in p.text] == [passage]


def test_the_page_labels_are_the_pdfs_own(fedex: tuple[ReadResult, list[Passage]]) -> None:
    result, _ = fedex
    assert result.page_labels[:8] == ["1", "2", "1", "2", "1", "2", "3", "4"]


def test_a_running_header_on_every_page_is_in_no_passage() -> None:
    result, passages = passages_of("SALESFORCE_2023_10K.pdf")  # "Table of Contents" atop 102 pages
    assert not [p for p in passages if "Table of Contents" in p.text]
    assert any("running header" in note for note in result.notes)
