"""Chunking: whole paragraphs per section, budgets counted with the model's tokenizer, sentence-safe."""

from __future__ import annotations

import re

import pytest

from core.chunking import chunk, context_header, split_sentences
from core.embedding import Embedder
from core.types import Paragraph, Rect


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_sentences_split_at_ends_not_abbreviations() -> None:
    text = ("Dr. Smith measured 3.5 m of rope, e.g. for the bell. It rang! Did it ring twice? "
            "See Fig. 2 for J. R. Tolkien's map. The end.")
    assert split_sentences(text) == [
        "Dr. Smith measured 3.5 m of rope, e.g. for the bell.",
        "It rang!",
        "Did it ring twice?",
        "See Fig. 2 for J. R. Tolkien's map.",
        "The end.",
    ]


def _para(text: str, page: int = 1, headings: tuple[str, ...] = ("A",), lines: int = 3) -> Paragraph:
    rects = tuple(Rect(page, 50, 100 + 12 * i, 500, 110 + 12 * i) for i in range(lines))
    return Paragraph(text=text, page=page, rects=rects, headings=headings)


def test_whole_paragraphs_are_packed_up_to_the_budget(embedder: Embedder) -> None:
    paras = [_para(f"Paragraph number {i} talks about the sea and its many moods. " * 3)
             for i in range(12)]
    passages = chunk(paras, embedder.count_tokens_batch, lambda h: 100, lambda p: str(p))
    assert len(passages) > 1
    for passage in passages:
        assert embedder.count_tokens(passage.text) <= 100
        # every passage is a run of whole paragraphs
        for piece in passage.text.split("\n\n"):
            assert piece in [p.text for p in paras]
    assert sum(len(p.text.split("\n\n")) for p in passages) == len(paras)


def test_long_paragraph_splits_only_at_sentence_ends(embedder: Embedder) -> None:
    sentences = [f"Sentence {i} describes the lighthouse keeper's duties in some detail."
                 for i in range(40)]
    para = _para(" ".join(sentences), lines=40)
    passages = chunk([para], embedder.count_tokens_batch, lambda h: 60, lambda p: None)
    assert len(passages) > 3
    rebuilt = []
    for passage in passages:
        assert embedder.count_tokens(passage.text) <= 60
        assert re.match(r"^Sentence \d+ ", passage.text)
        assert passage.text.endswith("detail.")
        rebuilt.extend(split_sentences(passage.text))
        assert passage.rects and all(r in para.rects for r in passage.rects)
    assert rebuilt == sentences
    # the rectangles advance through the paragraph as the passages do
    assert passages[0].rects[0].y0 < passages[-1].rects[-1].y0


def test_sections_are_never_mixed(embedder: Embedder) -> None:
    paras = [_para("Short one.", headings=("Intro",)), _para("Short two.", headings=("Methods",))]
    passages = chunk(paras, embedder.count_tokens_batch, lambda h: 200, lambda p: None)
    assert [(p.text, p.headings) for p in passages] == [
        ("Short one.", ("Intro",)), ("Short two.", ("Methods",))]


def test_passage_crossing_a_page_keeps_rects_on_both_pages(embedder: Embedder) -> None:
    paras = [_para("End of page one.", page=1), _para("Start of page two.", page=2)]
    [passage] = chunk(paras, embedder.count_tokens_batch, lambda h: 200, lambda p: f"p{p}")
    assert (passage.page_start, passage.page_end, passage.page_label) == (1, 2, "p1")
    assert {r.page for r in passage.rects} == {1, 2}


def test_long_table_splits_at_rows_and_repeats_its_header(embedder: Embedder) -> None:
    rows = "\n".join(f"| item {i} | {i * 7} units of lamp oil |" for i in range(60))
    table = Paragraph(text="| Item | Amount |\n|---|---|\n" + rows, page=1, kind="table")
    passages = chunk([table], embedder.count_tokens_batch, lambda h: 80, lambda p: None)
    assert len(passages) > 2
    for passage in passages:
        assert passage.text.startswith("| Item | Amount |\n|---|---|\n| item ")
        assert embedder.count_tokens(passage.text) <= 80


def test_context_header_names_document_and_section() -> None:
    assert context_header("Battery Manual", ("Battery Manual", "Warranty", "Exclusions")) == (
        "Battery Manual › Warranty › Exclusions")
