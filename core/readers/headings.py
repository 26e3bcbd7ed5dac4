"""Headings of a paged document and their levels: the outline when there is one, font sizes else.

A heading is the parent of every passage after it until a heading of its level or above comes,
so a wrong level puts a cover page's banner above a whole 10-K. Three rules keep the path
meaningful:
- front matter: a heading in a style (size, bold) used only on the first pages of a longer
  document (a cover page's big type: "FORM 10-K", the company's name) heads its own page only;
- running titles: a heading repeated at the top of many pages ("NOTES TO CONSOLIDATED FINANCIAL
  STATEMENTS—(Continued)", "Annual Report 2024 | 17") is kept the first time and left out after.
  Repeated means the same words and numbers, but for a page number: a number at the start or
  end that follows the page ("| 17" on page 19, "| 18" on page 20) in a block set in body size
  (running titles' type: bold body text, or smaller). A heading in larger type keeps its
  number, and so does a structure heading ("Chapter 2", "Part 3", "Item 7.") in any type, so
  "Chapter 2: Site 2" / "Chapter 3: Site 3" and "Lesson 1" on page 1 / "Lesson 2" on page 2
  in heading type are each a heading, not one repeated. A number-per-page heading in bold
  body size whose words are not a structure word ("Lesson 2" on page 2) is taken for a
  running title;
- structure words outrank styles: "PART II" is level 1 and "Item 7." level 2 in any font, and
  headings that the PDF's outline (bookmarks) names take the outline's levels.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.readers.layout import Block

HEADING_SIZE_RATIO = 1.15
FRONT_PAGES = 2  # a style seen only on these first pages is the cover's
FRONT_MIN_PAGES = 5  # ... of a document at least this long
RUNNING_MIN_PAGES = 3
MAX_LEVEL = 6
_PART = re.compile(r"^(?:part|chapter)\s+(?:[ivx]{1,5}|\d{1,3})\b", re.IGNORECASE)
_ITEM = re.compile(r"^item\s+\d{1,2}[a-z]?\s*[.:]", re.IGNORECASE)
_CONTINUED = re.compile(r"[\s\-—–(]*\(?continued\)?\s*$", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^a-z]+")
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
# A page number printed with a running title: "17 | Annual Report", "Annual Report — page 17",
# "Annual Report 17 of 40".
_PAGE_FIRST = re.compile(r"^(?:page\s+|p\.\s*)?(\d{1,4})(?:\s+of\s+\d{1,4})?\b[\s|·•:—–-]*")
_PAGE_LAST = re.compile(r"[\s|·•,:—–-]*\b(?:page\s+|p\.\s*)?(\d{1,4})(?:\s*(?:of|/)\s*\d{1,4})?$")


@dataclass(frozen=True, slots=True)
class OutlineEntry:
    """One bookmark of the PDF's outline: its level (1 = top) and title, on a 1-based page."""

    level: int
    title: str
    page: int


def body_font_size(pages: list[list[Block]]) -> float:
    sizes: Counter[float] = Counter()
    for blocks in pages:
        for block in blocks:
            for line in block.lines:
                sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _looks_like_heading(block: Block, body_size: float) -> bool:
    text = block.text.strip()
    if block.kind == "table" or len(block.lines) > 3 or len(text) > 200 or len(text) < 2:
        return False
    if text.endswith((".", ",", ";")) and not text[:-1].replace(".", "").isdigit():
        return False
    larger = _larger(block, body_size)
    words = 25 if _PART.match(text) or _ITEM.match(text) else 12
    bold_short = (all(ln.bold for ln in block.lines) and len(text.split()) <= words
                  and all(ln.size >= body_size - 0.5 for ln in block.lines))
    return larger or bold_short


def _larger(block: Block, body_size: float) -> bool:
    """Set in heading type: every line larger than the body text."""
    return all(ln.size >= body_size * HEADING_SIZE_RATIO for ln in block.lines)


def _key(text: str) -> str:
    return _NOT_WORD.sub("", _CONTINUED.sub("", text.lower()))


def _style(block: Block) -> tuple[float, bool]:
    return block.size, all(ln.bold for ln in block.lines)


def _page_numbers(text: str) -> list[tuple[str, int]]:
    """The ways text (lower case, "(Continued)" off) may carry a page number: (the text without
    it, the number) for a number at its end and one at its start. A structure heading's own
    number ("Chapter 2") is not one."""
    text = _CONTINUED.sub("", text.lower()).strip()
    structure = bool(_PART.match(text) or _ITEM.match(text))
    found = []
    for pattern in (_PAGE_LAST, _PAGE_FIRST):
        match = pattern.search(text)
        if match is None:
            continue
        rest = (text[:match.start()] + " " + text[match.end():]).strip()
        if any(c.isalpha() for c in rest) and not (
                structure and not (_PART.match(rest) or _ITEM.match(rest))):
            found.append((rest, int(match.group(1))))
    return found


def _running_keys(candidates: list[Block], body_size: float) -> dict[int, str]:
    """Each candidate's key as a running title: its words and numbers, less a page number.
    A number at its start or end is a page number when the block is in body size or smaller,
    and the candidates alike but for it are on two or more pages and it follows the page on
    all of them (number - page the same); else it is the heading's own ("Chapter 2: Site 2",
    "Lesson 2" in heading type)."""
    numbers = {id(b): [] if _larger(b, body_size) else _page_numbers(b.text)
               for b in candidates}
    offsets: defaultdict[tuple[int, str], set[int]] = defaultdict(set)
    pages: defaultdict[tuple[int, str], set[int]] = defaultdict(set)
    for block in candidates:
        for side, (rest, number) in enumerate(numbers[id(block)]):
            offsets[side, rest].add(number - block.page)
            pages[side, rest].add(block.page)
    keys = {}
    for block in candidates:
        sides = [(len(pages[side, rest]), rest) for side, (rest, _) in
                 enumerate(numbers[id(block)])
                 if len(offsets[side, rest]) == 1 and len(pages[side, rest]) >= 2]
        text = max(sides)[1] if sides else _CONTINUED.sub("", block.text.lower())
        keys[id(block)] = _NOT_LETTER_OR_DIGIT.sub("", text)
    return keys


def _drop_running_titles(pages: list[list[Block]], candidates: list[Block],
                         body_size: float) -> list[Block]:
    """Leave out repeats of a heading seen on many pages, kept the first time only."""
    keys = _running_keys(candidates, body_size)
    pages_of: defaultdict[str, set[int]] = defaultdict(set)
    for block in candidates:
        pages_of[keys[id(block)]].add(block.page)
    first_on_page = {id(blocks[0]) for blocks in pages if blocks}
    seen: set[str] = set()
    dropped: set[int] = set()
    for block in candidates:
        key = keys[id(block)]
        if len(pages_of[key]) >= RUNNING_MIN_PAGES and key in seen and (
                id(block) in first_on_page or _CONTINUED.search(block.text)):
            dropped.add(id(block))
        seen.add(key)
    if dropped:
        for index, blocks in enumerate(pages):
            pages[index] = [b for b in blocks if id(b) not in dropped]
    return [b for b in candidates if id(b) not in dropped]


def _outline_level(block: Block, outline: dict[int, list[OutlineEntry]]) -> int | None:
    key = _key(block.text)
    if not key:
        return None
    for entry in outline.get(block.page, ()):
        other = _key(entry.title)
        if other and (key == other or (len(other) >= 8 and (other in key or key in other))):
            return entry.level
    return None


def _split_structure(block: Block) -> list[Block]:
    """A block of lines "PART II" / "ITEM 5. MARKET ..." as one block per structural heading."""
    cuts = [i for i, ln in enumerate(block.lines)
            if i > 0 and (_PART.match(ln.text) or _ITEM.match(ln.text))]
    if not cuts:
        return [block]
    parts = [block.lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(block.lines)], strict=True)]
    return [Block(page=block.page, lines=lines, x0=min(ln.rect.x0 for ln in lines),
                  y0=min(ln.rect.y0 for ln in lines), x1=max(ln.rect.x1 for ln in lines),
                  y1=max(ln.rect.y1 for ln in lines), chars=sum(len(ln.text) for ln in lines))
            for lines in parts]


def mark_headings(pages: list[list[Block]], outline: Sequence[OutlineEntry] = ()) -> None:
    """Mark the heading blocks of pages in place, with their levels; see the module docstring."""
    body_size = body_font_size(pages)
    for index, blocks in enumerate(pages):
        pages[index] = [part for block in blocks
                        for part in (_split_structure(block)
                                     if block.kind == "text" and len(block.lines) > 1
                                     and _looks_like_heading(block, body_size) else [block])]
    candidates = [b for blocks in pages for b in blocks if _looks_like_heading(b, body_size)]
    candidates = _drop_running_titles(pages, candidates, body_size)
    by_page: defaultdict[int, list[OutlineEntry]] = defaultdict(list)
    for entry in outline:
        by_page[entry.page].append(entry)
    fixed: dict[int, int] = {}
    for block in candidates:
        text = block.text.strip()
        level = _outline_level(block, by_page) if by_page else None
        if level is None and _PART.match(text):
            level = 1
        elif level is None and _ITEM.match(text):
            level = 2
        if level is not None:
            fixed[id(block)] = level
    top = max(fixed.values(), default=0)
    style_pages: defaultdict[tuple[float, bool], set[int]] = defaultdict(set)
    for block in candidates:
        style_pages[_style(block)].add(block.page)
    front = {style for style, on in style_pages.items()
             if len(pages) >= FRONT_MIN_PAGES and max(on) <= FRONT_PAGES}
    body_styles = sorted({_style(b) for b in candidates if id(b) not in fixed} - front,
                         reverse=True)
    for block in candidates:
        block.kind = "heading"
        style = _style(block)
        if id(block) in fixed:
            block.level = fixed[id(block)]
            continue
        if style in front:
            block.level = MAX_LEVEL
            block.last_page = block.page
            continue
        block.level = min(top + body_styles.index(style) + 1, MAX_LEVEL)
