"""Tables of a PDF page as Markdown tables, built from the words the page already extracted.

No layout model and no text page per cell: the words of the page's one text page are grouped into
visual rows, each row is cut into segments where the gap between two words is wider than a word
space, and a table is a run of rows that end in values (numbers, `$`/`%` amounts, dashes) lined up
in columns. This is the shape of nearly every table of a financial filing, ruled or not: a label,
then columns of right-aligned numbers, with a header of years or "Fiscal 2015" above them. The
column bounds come from the values; the header rows above the values are merged per column
("Fiscal" over "2015" -> "Fiscal 2015").

Every word lands in exactly one cell (or is a dot leader and is dropped), so a table's text is the
words it is made of plus pipes and spaces; a table whose Markdown would still be more than
MAX_GROWTH times its words (a very sparse grid) is not made at all and its words stay text.
"""

from __future__ import annotations

import itertools
import operator
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pymupdf

from core.readers import layout

# Written by table_text; kept importable from here, where core.readers.paged and the tests look.
from core.readers.table_text import (
    TOP_TEXT_CHARS,
    continue_headers,
    header_of,
    markdown,
    outside,
)

__all__ = ["TOP_TEXT_CHARS", "continue_headers", "find_tables", "header_of", "markdown", "outside"]

GAP_RATIO = 0.6  # a gap wider than this many word heights separates two cells of a row
ROW_GAP_RATIO = 3.2  # rows further apart than this many line heights do not share a table
HEADER_GAP_RATIO = 2.6  # the same, between a header row and the row below it
MAX_HEADER_ROWS = 5
MAX_HEADER_WORDS = 10  # a header cell is a short phrase, not a sentence
MAX_HEADER_CELL = 60
MIN_DATA_ROWS = 2
MIN_FILL = 0.25  # at least this share of a table's cells hold something
MAX_GROWTH = 4.0  # a table's Markdown is at most this many times the characters of its words
_WRAPS = (",", " and", " of", " for", " to", " in", " from", "-")
MAX_WORDS = 20_000  # a page with more words than this is not searched for tables

_LEADER_CHARS = frozenset(".·…_")
_LEADER_ENDS = ("...", "…", "·", "___")
_LEADER = re.compile(r"^[.·…_\s]{2,}$|^[.·…]$")
_TRAILING_LEADER = re.compile(r"(?<=\S)[.·…]{3,}$")
_VALUE = re.compile(
    r"""^[~≈]?[(\[]?[-+–—−]?[$€£¥]?\s?[(\[]?[-+–—−]?\d[\d,]*(?:\.\d+)?\s?[)\]]?\s?%?[)\]]?
    (?:\s?(?:pts|bps|pp|x|bp|points|basis\ points))?(?:\s?\(\d\)|\*+)?$""",
    re.VERBOSE | re.IGNORECASE,
)
_DASH_VALUE = re.compile(r"^(?:[$€£]?\s?[-–—−]+\s?%?|n/?a|nm|none|\*|—%)$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:FY\s?|Fiscal\s|Q[1-4]\s)?(?:19|20)\d\d(?:\s?\(\d\))?$", re.IGNORECASE)
_NOTE = re.compile(r"^\(\d\)$")
_PREFIXES = frozenset("$€£¥")
_SUFFIXES = frozenset(("%", ")", ")%", "%)"))
_SPACE_AFTER_CURRENCY = re.compile(r"([$€£¥])\s+(?=[\d(.\-–—])")
_SPACE_BEFORE_PERCENT = re.compile(r"(?<=[\d)—–-])\s+(?=%)")
_SPACE_IN_PARENS = re.compile(r"\(\s+(?=[$\d])|(?<=[\d%])\s+\)")


_Word = tuple[float, float, str]  # x0, x1, text
_Line = tuple[float, float, float, float, float, list[_Word]]  # centre, x0, y0, x1, y1, words


class _Segment:
    """Words of one row that sit close together: one cell's worth of text."""

    __slots__ = ("_text", "words", "x0", "x1")

    def __init__(self, x0: float, x1: float, words: list[str]) -> None:
        self.x0, self.x1, self.words = x0, x1, words
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _tidy(" ".join(self.words))
        return self._text

    def absorb(self, other: _Segment) -> None:
        self.x0, self.x1 = min(self.x0, other.x0), max(self.x1, other.x1)
        self.words.extend(other.words)
        self._text = None


class _Row:
    """One visual line of the page: its words (x0, x1, text) left to right."""

    __slots__ = ("_segments", "height", "items", "kind", "value_x0", "x0", "x1", "y0", "y1")

    def __init__(self, lines: list[_Line]) -> None:
        # lines: MuPDF lines of one visual row as (centre, x0, y0, x1, y1, words)
        if len(lines) == 1:
            self.items = lines[0][5]
        else:
            lines.sort(key=_SECOND)
            self.items = [w for line in lines for w in line[5]]
            self.items.sort(key=_FIRST)
        self.x0 = min(line[1] for line in lines)
        self.y0 = min(line[2] for line in lines)
        self.x1 = max(line[3] for line in lines)
        self.y1 = max(line[4] for line in lines)
        heights = sorted(line[4] - line[2] for line in lines)
        self.height: float = heights[len(heights) // 2]
        self.kind = "other"  # "data" (ends in values), "years" (a header of years) or "other"
        self.value_x0 = 0.0  # where the first value cell starts (data rows)
        self._segments: list[_Segment] | None = None
        if len(self.items) >= 2 and any(_maybe_value(i[2]) for i in self.items):
            _classify(self)

    @property
    def segments(self) -> list[_Segment]:
        if self._segments is None:
            self._segments = _cut(self.items, self.height)
        return self._segments


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


def _maybe_value(text: str) -> bool:
    """A cheap first test of a word: could it be (part of) a value?"""
    last = text[-1]
    return last.isdigit() or last in "%)—–-−" or text[0].isdigit()


@dataclass(slots=True)
class _Column:
    x0: float
    x1: float
    rows: int = 0


@dataclass
class _Grid:
    header: list[str]
    body: list[list[str]] = field(default_factory=list)
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0
    chars: int = 0


def _tidy(text: str) -> str:
    if " " not in text:
        return text
    text = _SPACE_AFTER_CURRENCY.sub(r"\1", text)
    text = _SPACE_BEFORE_PERCENT.sub("", text)
    return _SPACE_IN_PARENS.sub(lambda m: m.group(0).strip(), text)


def _is_value(text: str) -> bool:
    return bool(_VALUE.match(text) or _DASH_VALUE.match(text))


def _rows(words: list[tuple[Any, ...]]) -> list[_Row]:
    """The page's words as visual rows, top to bottom (leaders dropped).

    words come from get_text("words", sort=False): in MuPDF's order, line by line. A row is
    the MuPDF lines whose vertical centres agree (the cells of a table row are often lines of
    blocks of their own).
    """
    lines: list[_Line] = []
    key = None
    line: list[_Word] = []
    lx0 = ly0 = lx1 = ly1 = 0.0
    for w in words:
        x0, y0, x1, y1, text = w[0], w[1], w[2], w[3], w[4]
        if x1 <= x0 or y1 <= y0:
            continue
        if text[0] in _LEADER_CHARS or text.endswith(_LEADER_ENDS):
            if _LEADER.match(text):
                continue
            text = _TRAILING_LEADER.sub("", text)
        if (w[5], w[6]) != key or x0 < lx1 - 1:
            if line:
                lines.append(((ly0 + ly1) / 2, lx0, ly0, lx1, ly1, line))
            key, line = (w[5], w[6]), []
            lx0, ly0, lx1, ly1 = x0, y0, x1, y1
        else:
            lx1, ly0, ly1 = max(lx1, x1), min(ly0, y0), max(ly1, y1)
        line.append((x0, x1, text))
    if line:
        lines.append(((ly0 + ly1) / 2, lx0, ly0, lx1, ly1, line))
    lines.sort(key=_FIRST)
    rows: list[_Row] = []
    current: list[_Line] = []
    top = bottom = 0.0  # the tallest line of the current row
    for item in lines:
        y0, y1 = item[2], item[4]
        if current and min(y1, bottom) - max(y0, top) >= 0.5 * min(y1 - y0, bottom - top):
            current.append(item)  # a superscript, or the next cell of the row
            if y1 - y0 > bottom - top:
                top, bottom = y0, y1
            continue
        if current:
            rows.append(_Row(current))
        current, top, bottom = [item], y0, y1
    if current:
        rows.append(_Row(current))
    return rows


def _cut(items: list[_Word], height: float) -> list[_Segment]:
    """A row's words as segments: a gap wider than a word space starts a new one."""
    segments: list[_Segment] = []
    gap = GAP_RATIO * height
    for x0, x1, text in items:
        if segments and x0 - segments[-1].x1 <= gap:
            segments[-1].x1 = max(segments[-1].x1, x1)
            segments[-1].words.append(text)
        else:
            segments.append(_Segment(x0, x1, [text]))
    merged: list[_Segment] = []
    for seg in segments:  # "$" belongs to the number after it, "%" and ")" to the one before
        last = merged[-1] if merged else None
        if last is not None and last.words[-1] in _PREFIXES and _is_value(seg.text):
            if len(last.words) == 1:
                last.absorb(seg)
                continue
            seg.words.insert(0, last.words.pop())  # "Net income $" | "99,803"
            last._text = seg._text = None
        elif last is not None and seg.words[0] in _SUFFIXES and _is_value(last.text):
            last.absorb(seg)
            continue
        merged.append(seg)
    return merged


def _classify(row: _Row) -> None:
    """A data row is a label (or nothing) followed by values; a years row is a header of years."""
    segments = row.segments
    if len(segments) == 1 and len(segments[0].words) > 3:
        return  # a line of prose
    texts = [s.text for s in segments]
    values = [i for i, t in enumerate(texts) if _is_value(t)]
    if not values:
        if len(texts) >= 2 and all(_YEAR.match(t) for t in texts[1:]) and _YEAR.match(texts[-1]):
            row.kind = "years"
        return
    first = values[0]
    if first == 0 and len(texts) > 1:  # a number as the row's label (a year, a note number)
        first = values[1] if len(values) > 1 else len(texts)
    if first >= len(texts):
        return
    # After the first value come values, or (in a row of three cells or more) short texts: a
    # line of prose with a number in it goes on with more prose.
    trailing = [t for t in texts[first:] if not _is_value(t)]
    if trailing and (len(texts) < 3 or any(len(t) > 60 or t.count(" ") >= 8 for t in trailing)):
        return
    if all(_YEAR.match(t) for t in texts[first:] if _is_value(t)):
        row.kind = "years"
        return
    row.kind = "data"
    row.value_x0 = row.segments[first].x0


def _crosses(seg: _Segment, x: float) -> bool:
    return seg.x0 < x - 2 and seg.x1 > x + 2


def _labels(row: _Row) -> list[_Segment]:
    return [s for s in row.segments if s.x0 < row.value_x0]


def _regions(rows: list[_Row]) -> list[tuple[int, int, float]]:
    """Runs of rows that make one table body: (first row, last row, where values start)."""
    regions = []
    i = 0
    while i < len(rows):
        if rows[i].kind != "data":
            i += 1
            continue
        start = last_data = i
        value_x0 = rows[i].value_x0
        j = i + 1
        while j < len(rows):
            row, prev = rows[j], rows[j - 1]
            if row.y0 - prev.y1 > ROW_GAP_RATIO * max(prev.height, row.height):
                break
            if row.kind == "data":
                if (any(_crosses(s, row.value_x0) for s in _labels(rows[last_data]))
                        or any(_crosses(s, value_x0) for s in _labels(row))):
                    break
                value_x0 = min(value_x0, row.value_x0)
                last_data = j
            elif row.kind == "years" or row.x1 <= value_x0 + 2 or all(
                    not _crosses(s, value_x0) and len(s.words) <= MAX_HEADER_WORDS
                    for s in row.segments):
                pass  # a label row (a wrapped label, "Net sales:"), a sub-header
            else:
                break
            j += 1
        data_rows = sum(1 for r in rows[start:last_data + 1] if r.kind == "data")
        if data_rows >= MIN_DATA_ROWS:
            regions.append((start, last_data, value_x0))
        i = last_data + 1
    return regions


def _header_rows(rows: list[_Row], start: int, value_x0: float, floor: int) -> tuple[int, int]:
    """Where the header rows above the body rows[start:] begin, and where the body begins.

    Up to two label-only rows just above the first values ("Net sales:") belong to the body;
    above them, rows with short phrases over the value columns (and none reaching from the
    labels into the values, as a caption does) are the header.
    """
    head = body = start
    below = rows[start]
    k = start - 1
    while k >= floor and start - k <= MAX_HEADER_ROWS + 2:
        row = rows[k]
        if below.y0 - row.y1 > HEADER_GAP_RATIO * max(row.height, below.height):
            break
        if any(_crosses(s, value_x0) or len(s.words) > MAX_HEADER_WORDS
               or len(s.text) > MAX_HEADER_CELL for s in row.segments):
            break
        if row.x1 <= value_x0 + 2:  # label-only: part of the body just above its first value
            if head != start or start - k > 2 or row.segments[-1].text.endswith("."):
                break
            body = k
        elif row.kind == "data" or any(_is_value(s.text) and not _YEAR.match(s.text)
                                       and not _NOTE.match(s.text) for s in row.segments):
            break
        else:
            head = k
        below = row
        k -= 1
    return (head, body) if head != start else (start, start)


def _columns(rows: list[_Row], value_x0: float) -> list[_Column]:
    """Column bounds of a table body: label columns left of value_x0, value columns right of it."""
    spans = sorted(((s.x0, s.x1) for r in rows if r.kind == "data" for s in r.segments
                    if s.x0 >= value_x0 - 1), key=lambda s: s[0])
    columns: list[_Column] = []
    for x0, x1 in spans:
        if columns and x0 < columns[-1].x1 - 0.5:
            columns[-1].x1 = max(columns[-1].x1, x1)
            columns[-1].rows += 1
        else:
            columns.append(_Column(x0, x1, 1))
    labels = sorted(((s.x0, s.x1) for r in rows for s in r.segments if s.x1 < value_x0 + 2),
                    key=lambda s: s[0])
    label_columns: list[_Column] = []
    for x0, x1 in labels:
        if label_columns and x0 < label_columns[-1].x1 + 4:
            label_columns[-1].x1 = max(label_columns[-1].x1, x1)
        else:
            label_columns.append(_Column(x0, x1))
    if not label_columns:
        label_columns = [_Column(min(r.x0 for r in rows), value_x0 - 1)]
    return label_columns + columns


def _column_of(seg: _Segment, columns: list[_Column]) -> int:
    best, best_overlap = -1, 0.0
    for index, col in enumerate(columns):
        overlap = min(seg.x1, col.x1) - max(seg.x0, col.x0)
        if overlap > best_overlap:
            best, best_overlap = index, overlap
    if best >= 0:
        return best
    centre = (seg.x0 + seg.x1) / 2
    return min(range(len(columns)),
               key=lambda i: min(abs(centre - columns[i].x0), abs(centre - columns[i].x1)))


def _cells(row: _Row, columns: list[_Column]) -> list[str]:
    cells = [""] * len(columns)
    for seg in row.segments:
        index = _column_of(seg, columns)
        cells[index] = f"{cells[index]} {seg.text}" if cells[index] else seg.text
    return cells


def _grid(rows: list[_Row], head: int, start: int, end: int, value_x0: float) -> _Grid | None:
    body_rows = rows[start:end + 1]
    columns = _columns(body_rows, value_x0)
    if len(columns) < 2:
        return None
    header = [""] * len(columns)
    for row in rows[head:start]:
        for index, text in enumerate(_cells(row, columns)):
            if text:
                header[index] = f"{header[index]} {text}" if header[index] else text
    body: list[list[str]] = []
    prev_row: _Row | None = None
    for row in body_rows:
        cells = _cells(row, columns)
        prev = body[-1] if body else None
        if prev is not None and prev_row is not None and prev[0] and not any(prev[1:]) and (
                # a label that wraps: "Accumulated other comprehensive" / "income (loss) ..."
                ((cells[0][:1].islower() or prev[0].endswith(_WRAPS)) and any(cells[1:]))
                # values set lower than their label, in a taller cell
                or (not cells[0] and row.y0 < prev_row.y1)):
            cells[0] = f"{prev[0]} {cells[0]}".rstrip()
            body[-1] = cells
        elif (prev is not None and prev_row is not None and prev[0] and any(prev[1:])
              and cells[0][:1].islower() and not any(cells[1:])
              and row.y0 - prev_row.y1 < 0.5 * row.height):
            prev[0] = f"{prev[0]} {cells[0]}"  # the label wraps below its values
        else:
            body.append(cells)
        prev_row = row
    used = [i for i in range(len(columns)) if header[i] or any(r[i] for r in body)]
    header = [header[i] for i in used]
    body = [[r[i] for i in used] for r in body]
    all_rows = rows[head:end + 1]
    chars = sum(len(w) + 1 for r in all_rows for s in r.segments for w in s.words)
    return _Grid(header=header, body=body, chars=chars,
                 x0=min(r.x0 for r in all_rows), y0=all_rows[0].y0,
                 x1=max(r.x1 for r in all_rows), y1=max(r.y1 for r in all_rows))


def _is_contents(grid: _Grid) -> bool:
    """A table of contents: one column of page numbers that only go up."""
    if len(grid.header) != 2:
        return False
    numbers = [r[1] for r in grid.body if r[1]]
    if not numbers or not all(n.isdigit() and len(n) <= 4 for n in numbers):
        return False
    pages = [int(n) for n in numbers]
    return all(a <= b for a, b in itertools.pairwise(pages))


def _acceptable(grid: _Grid) -> bool:
    cells = len(grid.header) * (len(grid.body) + 1)
    filled = sum(1 for c in grid.header if c) + sum(1 for r in grid.body for c in r if c)
    return (len(grid.header) >= 2 and len(grid.body) >= MIN_DATA_ROWS
            and filled >= MIN_FILL * cells and not _is_contents(grid))


def find_tables(page: pymupdf.Page, textpage: pymupdf.TextPage, page_no: int, *,
                deadline: float | None = None) -> list[layout.Block]:
    """The tables of page as Blocks of kind "table" (table_text is Markdown, bbox the table's).

    textpage is the page's one text page (already extracted by the caller); the caller leaves
    out of the page's other blocks the lines whose centre lies inside a returned table's bbox
    (outside). deadline (a time.monotonic() value) stops the search when passed: the tables
    found so far are returned.
    """
    try:
        words = page.get_text("words", textpage=textpage, sort=False)
    except Exception:
        return []
    if len(words) > MAX_WORDS:
        return []
    rows = _rows(words)
    blocks: list[layout.Block] = []
    floor = 0
    for start, end, value_x0 in _regions(rows):
        if deadline is not None and time.monotonic() > deadline:
            break
        head, body = _header_rows(rows, start, value_x0, floor)
        floor = end + 1
        grid = _grid(rows, head, body, end, value_x0)
        if grid is None or not _acceptable(grid):
            continue
        text = markdown(grid.header, grid.body)
        if len(text) > MAX_GROWTH * grid.chars + 64:
            continue
        blocks.append(layout.Block(page=page_no, lines=[], x0=grid.x0, y0=grid.y0, x1=grid.x1,
                                   y1=grid.y1, kind="table", table_text=text, chars=len(text)))
    return blocks
