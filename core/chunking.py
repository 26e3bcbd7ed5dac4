"""Paragraphs to passages: whole paragraphs of one section, packed up to a token budget.

A paragraph longer than the budget is split only at sentence ends (a single sentence longer
than the budget, rare outside tables and code, is split at clause and then word boundaries).
Tables and code are split at row or line boundaries, a table repeating its header row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.types import Paragraph, Passage, Rect

HEADER_MAX_CHARS = 160

_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "cf", "fig", "figs", "eq", "eqs", "no", "nos", "vol", "pp", "p",
    "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "inc", "ltd", "co", "corp", "al", "approx",
    "ca", "sec", "ch", "art", "ref", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "u.s", "u.k", "ph.d", "resp",
}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")
_LAST_WORD = re.compile(r"(\S+)[.!?…][\"'”’)\]]*$")

CountTokens = Callable[[Sequence[str]], list[int]]


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends, not after abbreviations, initials or inside numbers."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        candidate = text[start:match.start()].rstrip()
        last = _LAST_WORD.search(candidate)
        if last is not None:
            word = last.group(1).lower().lstrip("(\"'“‘")
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        sentences.append(text[start:match.start()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


@dataclass(slots=True)
class _Piece:
    """A paragraph or a sentence-aligned part of one, ready to be packed."""

    text: str
    tokens: int
    paragraph: Paragraph
    rects: tuple[Rect, ...]
    span: tuple[int, int] | None


def _slice_rects(rects: tuple[Rect, ...], start: int, end: int, total: int) -> tuple[Rect, ...]:
    """The line rectangles that hold characters [start, end) of a paragraph of total chars."""
    if not rects or total <= 0:
        return rects
    n = len(rects)
    first = min(n - 1, math.floor(start / total * n))
    last = max(first + 1, math.ceil(end / total * n))
    return rects[first:last]


def _slice_span(span: tuple[int, int] | None, start: int, end: int,
                total: int) -> tuple[int, int] | None:
    if span is None or total <= 0:
        return span
    width = span[1] - span[0]
    return (span[0] + round(start / total * width), span[0] + round(end / total * width))


def _group(counts: list[int], budget: int) -> list[list[int]]:
    """Greedy groups of consecutive unit indexes whose token counts fit the budget."""
    groups: list[list[int]] = []
    used = 0
    for index, count in enumerate(counts):
        if groups and used + count <= budget:
            groups[-1].append(index)
            used += count
        else:
            groups.append([index])
            used = count
    return groups


def _split_long_unit(text: str, budget: int, count: CountTokens) -> list[str]:
    """A single sentence or row over budget: split at clauses, then at words."""
    for pattern in (_CLAUSE_BREAK, re.compile(r"\s+")):
        parts = [p for p in pattern.split(text) if p]
        counts = count(parts)
        if len(parts) > 1 and max(counts) <= budget:
            return [" ".join(parts[i] for i in g) for g in _group(counts, budget)]
    words = text.split()
    size = max(1, budget // 2)
    return [" ".join(words[i:i + size]) for i in range(0, len(words), size)]


def _pieces_of(paragraph: Paragraph, tokens: int, budget: int,
               count: CountTokens) -> list[_Piece]:
    if tokens <= budget:
        return [_Piece(paragraph.text, tokens, paragraph, paragraph.rects, paragraph.span)]
    text = paragraph.text
    header = ""
    if paragraph.kind == "text":
        units, joiner = split_sentences(text), " "
    else:
        units, joiner = text.split("\n"), "\n"
        if paragraph.kind == "table" and len(units) > 2:
            header = "\n".join(units[:2])
            units = units[2:]
    header_tokens = count([header])[0] if header else 0
    unit_budget = budget - header_tokens
    expanded: list[str] = []
    for unit, unit_tokens in zip(units, count(units), strict=True):
        expanded.extend([unit] if unit_tokens <= unit_budget
                        else _split_long_unit(unit, unit_budget, count))
    counts = count(expanded)
    pieces: list[_Piece] = []
    cursor = 0
    total = len(text)
    for group in _group(counts, unit_budget):
        body = joiner.join(expanded[i] for i in group)
        piece_text = f"{header}\n{body}" if header else body
        found = text.find(expanded[group[0]], cursor)
        start = found if found >= 0 else cursor
        end = min(total, start + len(body))
        cursor = end
        pieces.append(_Piece(piece_text, header_tokens + sum(counts[i] for i in group), paragraph,
                             _slice_rects(paragraph.rects, start, end, total),
                             _slice_span(paragraph.span, start, end, total)))
    return pieces


def chunk(
    paragraphs: Sequence[Paragraph],
    count: CountTokens,
    budget_for: Callable[[tuple[str, ...]], int],
    label_of: Callable[[int], str | None],
) -> list[Passage]:
    """Pack paragraphs into passages; budget_for(headings) is the text budget of a section."""
    if not paragraphs:
        return []
    paragraph_tokens = count([p.text for p in paragraphs])
    passages: list[Passage] = []
    current: list[_Piece] = []
    used = 0

    def flush() -> None:
        nonlocal current, used
        if current:
            passages.append(_passage(len(passages), current, label_of))
        current, used = [], 0

    for paragraph, tokens in zip(paragraphs, paragraph_tokens, strict=True):
        budget = budget_for(paragraph.headings)
        if current and current[0].paragraph.headings != paragraph.headings:
            flush()
        for piece in _pieces_of(paragraph, tokens, budget, count):
            if current and used + piece.tokens > budget:
                flush()
            current.append(piece)
            used += piece.tokens
    flush()
    return passages


def _passage(ordinal: int, pieces: list[_Piece], label_of: Callable[[int], str | None]) -> Passage:
    rects = tuple(r for piece in pieces for r in piece.rects)
    pages = [r.page for r in rects] or [p.paragraph.page for p in pieces]
    spans = [p.span for p in pieces if p.span is not None]
    return Passage(
        ordinal=ordinal,
        text="\n\n".join(p.text for p in pieces),
        headings=pieces[0].paragraph.headings,
        page_start=min(pages),
        page_end=max(pages),
        page_label=label_of(min(pages)),
        rects=rects,
        token_count=sum(p.tokens for p in pieces),
        span=(spans[0][0], spans[-1][1]) if spans else None,
    )


def context_header(title: str, headings: tuple[str, ...]) -> str:
    """The short line embedded and indexed with a passage: its document title and section."""
    path = [h for h in headings if h.strip() and h.strip() != title.strip()]
    header = " › ".join([title, *path[-2:]]) if title else " › ".join(path[-2:])
    return header if len(header) <= HEADER_MAX_CHARS else header[:HEADER_MAX_CHARS - 1] + "…"
