"""Paragraphs to passages: whole paragraphs of one section, packed up to a token budget.

A paragraph longer than the budget is split only at sentence ends (a single sentence longer
than the budget, rare outside tables and code, is split at clause and then word boundaries).
Tables and code are split at row or line boundaries, a table repeating its header row when
it is small. The work is linear in the text, whatever a reader returns: nothing longer than
LONG_CHARS is tokenized whole, and the tokenizer is given at most COUNT_CHARS per call. What
it makes is told to the caller's check as it grows (the characters of the passages made so
far), so that the caller can bound it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.types import Paragraph, Passage, Rect

HEADER_MAX_CHARS = 160
LONG_CHARS = 20_000  # a paragraph or sentence longer than this is cut at spaces before counting
COUNT_CHARS = 500_000  # characters per tokenizer call, which bounds the tokenizer's memory
HEADER_SHARE = 0.5  # a table header is repeated in each piece only up to this share of the budget
FIND_SLACK = 1_000
PIECE_JOINER = "\n\n"  # between the paragraphs (or parts) of one passage

_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "cf", "fig", "figs", "eq", "eqs", "no", "nos", "vol", "pp", "p",
    "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "inc", "ltd", "co", "corp", "al", "approx",
    "ca", "sec", "ch", "art", "ref", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "u.s", "u.k", "ph.d", "resp",
}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")
_SPACES = re.compile(r"\s+")
_LAST_WORD = re.compile(r"(\S+)[.!?…][\"'”’)\]]*$")
_WORD_LOOKBACK = 64  # longer than any abbreviation with its closing quotes

CountTokens = Callable[[Sequence[str]], list[int]]
Check = Callable[[int], None]  # given the characters of the passages made so far; may raise


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends, not after abbreviations, initials or inside numbers."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        # Only the end of the candidate is looked at: after many abbreviations in a row the
        # candidate grows, and searching all of it each time would be quadratic.
        candidate = text[max(start, match.start() - _WORD_LOOKBACK):match.start()].rstrip()
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


def counted(count: CountTokens, texts: Sequence[str],
            check: Callable[[], None] | None = None) -> list[int]:
    """count(texts), in tokenizer calls of at most COUNT_CHARS characters, and only for str.

    The tokenizer's memory grows with what one call is given (a Rust allocation that fails
    aborts the process), and it raises a bare TypeError for anything but a str, including a
    str it cannot turn into UTF-8: a lone surrogate, or a huge one when memory is short.
    """
    out: list[int] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"only text can be tokenized, not {type(text).__name__}")
        if batch and size + len(text) > COUNT_CHARS:
            out.extend(count(batch))
            batch, size = [], 0
            if check is not None:
                check()
        batch.append(text)
        size += len(text)
    if batch:
        out.extend(count(batch))
    return out


def _windows(text: str, size: int) -> list[str]:
    """text cut into pieces of at most size characters, at a space where there is one."""
    pieces = []
    start, total = 0, len(text)
    while start < total:
        end = min(total, start + size)
        if end < total:
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    return pieces


def _cut_word(word: str, budget: int, count: CountTokens) -> list[str]:
    """A word of more tokens than the budget (a URL, a cell of `<br>` soup) in slices that fit."""
    size = max(1, budget)
    pending = [word]
    out: list[str] = []
    while pending:
        slices = [part[i:i + size] for part in pending for i in range(0, len(part), size)]
        pending = []
        for part, tokens in zip(slices, counted(count, slices), strict=True):
            (out if tokens <= budget or size == 1 else pending).append(part)
        size = max(1, size // 2)
    return out


def _split_long_unit(text: str, budget: int, count: CountTokens) -> list[str]:
    """A single sentence or row over budget: split at clauses, then at words."""
    for pattern in (_CLAUSE_BREAK, _SPACES):
        parts = [p for p in pattern.split(text) if p]
        counts = counted(count, parts)
        if len(parts) > 1 and max(counts) <= budget:
            return [" ".join(parts[i] for i in g) for g in _group(counts, budget)]
    # Some word alone is over budget: it is cut in slices (joined whole, it broke the budget).
    words: list[str] = []
    for word, tokens in zip(parts, counts, strict=True):
        words.extend([word] if tokens <= budget else _cut_word(word, budget, count))
    return [" ".join(words[i] for i in g) for g in _group(counted(count, words), budget)]


def _units_of(paragraph: Paragraph, budget: int,
              count: CountTokens) -> tuple[list[str], str, str, int]:
    """(units, joiner, header, header tokens): the sentences or rows a paragraph splits into.

    A table's first two rows (its header and the |---| rule) are repeated in each piece only
    while they take at most HEADER_SHARE of the budget: a huge header row repeated in every
    piece made a 2.7-million-character table cost hundreds of times its size.
    """
    text = paragraph.text
    if paragraph.kind == "text":
        return split_sentences(text), " ", "", 0
    units = text.split("\n")
    if paragraph.kind == "table" and len(units) > 2:
        header = "\n".join(units[:2])
        if len(header) <= LONG_CHARS:
            header_tokens = counted(count, [header])[0]
            if header_tokens <= budget * HEADER_SHARE:
                return units[2:], "\n", header, header_tokens
    return units, "\n", "", 0


class _Made:
    """The characters of the passages made so far (pieces waiting to be packed included),
    handed to the caller's check each time chunking looks up."""

    def __init__(self, check: Check) -> None:
        self.chars = 0
        self._check = check

    def __call__(self) -> None:
        self._check(self.chars)


def _pieces_of(paragraph: Paragraph, tokens: int | None, budget: int, count: CountTokens,
               check: _Made) -> list[_Piece]:
    """The paragraph whole if it fits (tokens None: too long to have been counted), else its
    sentence- or row-aligned parts packed up to the budget."""
    if tokens is not None and tokens <= budget:
        check.chars += len(paragraph.text)
        return [_Piece(paragraph.text, tokens, paragraph, paragraph.rects, paragraph.span)]
    text = paragraph.text
    units, joiner, header, header_tokens = _units_of(paragraph, budget, count)
    unit_budget = budget - header_tokens
    short: list[str] = []
    for unit in units:
        short.extend([unit] if len(unit) <= LONG_CHARS else _windows(unit, LONG_CHARS))
    check()
    expanded: list[str] = []
    counts: list[int] = []
    for index, (unit, unit_tokens) in enumerate(zip(short, counted(count, short, check),
                                                    strict=True)):
        if unit_tokens <= unit_budget:
            expanded.append(unit)
            counts.append(unit_tokens)
            if index % 256 == 255:
                check()
        else:
            parts = _split_long_unit(unit, unit_budget, count)
            expanded.extend(parts)
            counts.extend(counted(count, parts))
            check()
    pieces: list[_Piece] = []
    cursor = 0
    total = len(text)
    for group in _group(counts, unit_budget):
        body = joiner.join(expanded[i] for i in group)
        piece_text = f"{header}\n{body}" if header else body
        first = expanded[group[0]]
        # Searched near the cursor only: a part whose spaces were changed is not found, and
        # searching the rest of a huge paragraph for it each time would be quadratic.
        found = text.find(first, cursor, cursor + len(first) + FIND_SLACK)
        start = found if found >= 0 else cursor
        end = min(total, start + len(body))
        cursor = end
        check.chars += len(piece_text)
        if len(pieces) % 256 == 255:  # a header repeated in each piece grows what is made
            check()
        pieces.append(_Piece(piece_text, header_tokens + sum(counts[i] for i in group), paragraph,
                             _slice_rects(paragraph.rects, start, end, total),
                             _slice_span(paragraph.span, start, end, total)))
    return pieces


def _no_check(made: int) -> None:
    return None


def chunk(
    paragraphs: Sequence[Paragraph],
    count: CountTokens,
    budget_for: Callable[[tuple[str, ...]], int],
    label_of: Callable[[int], str | None],
    check: Check = _no_check,
) -> list[Passage]:
    """Pack paragraphs into passages; budget_for(headings) is the text budget of a section.

    The work is linear in the text. check(made) is called every so often, between tokenizer
    calls, with the characters of the passages made so far (at the end, their total); it may
    raise to stop (the caller's limits on time and on what chunking makes).
    """
    if not paragraphs:
        return []
    made = _Made(check)
    # A paragraph too long to be counted whole is never given to the tokenizer whole.
    measured = counted(count, [p.text if len(p.text) <= LONG_CHARS else "" for p in paragraphs],
                       made)
    paragraph_tokens = [n if len(p.text) <= LONG_CHARS else None
                        for p, n in zip(paragraphs, measured, strict=True)]
    passages: list[Passage] = []
    current: list[_Piece] = []
    used = 0

    def flush() -> None:
        nonlocal current, used
        if current:
            passages.append(_passage(len(passages), current, label_of))
            made.chars += len(PIECE_JOINER) * (len(current) - 1)
        current, used = [], 0

    for index, (paragraph, tokens) in enumerate(zip(paragraphs, paragraph_tokens, strict=True)):
        if index % 64 == 0:
            made()
        budget = budget_for(paragraph.headings)
        if current and current[0].paragraph.headings != paragraph.headings:
            flush()
        for piece in _pieces_of(paragraph, tokens, budget, count, made):
            if current and used + piece.tokens > budget:
                flush()
            current.append(piece)
            used += piece.tokens
    flush()
    made()
    return passages


def _passage(ordinal: int, pieces: list[_Piece], label_of: Callable[[int], str | None]) -> Passage:
    rects = tuple(r for piece in pieces for r in piece.rects)
    pages = [r.page for r in rects] or [p.paragraph.page for p in pieces]
    spans = [p.span for p in pieces if p.span is not None]
    return Passage(
        ordinal=ordinal,
        text=PIECE_JOINER.join(p.text for p in pieces),
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
