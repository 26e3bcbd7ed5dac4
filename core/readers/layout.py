"""Page layout from PyMuPDF text blocks: lines, running headers and footers, columns."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.types import Rect

MARGIN_FRACTION = 0.1  # running headers and footers sit in the top or bottom tenth of a page
_PAGE_NUMBER = re.compile(
    r"^(?:page|p\.|seite|pagina|página)?\s*[\divxlcdm]{1,7}(?:\s*(?:of|/|von|de)\s*\d{1,5})?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_BOLD_FLAG = 16


@dataclass(slots=True)
class Line:
    text: str
    rect: Rect
    size: float
    bold: bool


@dataclass(slots=True)
class Block:
    """A text block of one page, or a table found on it."""

    page: int
    lines: list[Line]
    x0: float
    y0: float
    x1: float
    y1: float
    kind: str = "text"  # "text", "heading" or "table"
    table_text: str = ""
    level: int = 0
    chars: int = field(default=0)
    last_page: int | None = None  # a heading of front matter heads nothing after this page

    @property
    def text(self) -> str:
        return self.table_text if self.kind == "table" else " ".join(ln.text for ln in self.lines)

    @property
    def size(self) -> float:
        return max((ln.size for ln in self.lines), default=0.0)


def blocks_from_dict(page_dict: dict[str, Any], page_no: int) -> list[Block]:
    """The text blocks of get_text('dict') as Blocks of Lines; image blocks are skipped."""
    blocks: list[Block] = []
    for raw in page_dict.get("blocks", []):
        if raw.get("type") != 0:
            continue
        lines: list[Line] = []
        for raw_line in raw.get("lines", []):
            spans = [s for s in raw_line.get("spans", []) if s.get("text", "").strip()]
            if not spans:
                continue
            text = "".join(s["text"] for s in raw_line["spans"]).strip()
            main = max(spans, key=lambda s: len(s["text"].strip()))
            x0, y0, x1, y1 = raw_line["bbox"]
            bold = bool(main.get("flags", 0) & _BOLD_FLAG) or "bold" in main.get("font", "").lower()
            lines.append(Line(text=text, rect=Rect(page_no, x0, y0, x1, y1),
                              size=round(float(main.get("size", 0.0)), 1), bold=bold))
        if lines:
            x0, y0, x1, y1 = raw["bbox"]
            blocks.append(Block(page=page_no, lines=lines, x0=x0, y0=y0, x1=x1, y1=y1,
                                chars=sum(len(ln.text) for ln in lines)))
    return blocks


def split_at_gaps(block: Block) -> list[Block]:
    """Split a block where the gap between two lines says a new paragraph starts."""
    if len(block.lines) < 2:
        return [block]
    parts: list[list[Line]] = [[block.lines[0]]]
    for prev, line in zip(block.lines, block.lines[1:], strict=False):
        height = max(prev.rect.y1 - prev.rect.y0, 1.0)
        gap = line.rect.y0 - prev.rect.y1
        if gap > 0.8 * height or line.rect.y0 < prev.rect.y0 - height:
            parts.append([line])
        else:
            parts[-1].append(line)
    if len(parts) == 1:
        return [block]
    return [
        Block(page=block.page, lines=p, x0=min(ln.rect.x0 for ln in p),
              y0=min(ln.rect.y0 for ln in p), x1=max(ln.rect.x1 for ln in p),
              y1=max(ln.rect.y1 for ln in p), chars=sum(len(ln.text) for ln in p))
        for p in parts
    ]


def _margin_key(text: str) -> str:
    return _DIGITS.sub("#", _SPACES.sub(" ", text.lower())).strip()


def drop_running_furniture(pages: list[list[Block]], heights: list[float]) -> int:
    """Remove running headers, footers and page numbers in place; returns how many were removed.

    A block in the top or bottom tenth of a page is furniture when its text (digits ignored)
    recurs on at least two pages and 40% of them; a bare page number is furniture there, and
    also as the page's first or last block wherever it sits (10-Ks print it above the margin).
    """
    seen: Counter[str] = Counter()
    for blocks, height in zip(pages, heights, strict=True):
        keys = {_margin_key(b.text) for b in blocks if _in_margin(b, height)}
        seen.update(keys)
    threshold = max(2, int(0.4 * len(pages) + 0.999))
    removed = 0
    for index, (blocks, height) in enumerate(zip(pages, heights, strict=True)):
        kept = []
        text_blocks = [b for b in blocks if b.kind != "table"]
        ends = ({id(min(text_blocks, key=lambda b: b.y0)), id(max(text_blocks, key=lambda b: b.y1))}
                if text_blocks else set())
        for block in blocks:
            if block.kind != "table" and (
                (_in_margin(block, height) and len(pages) >= 2
                 and seen[_margin_key(block.text)] >= threshold)
                or ((_in_margin(block, height) or id(block) in ends)
                    and _PAGE_NUMBER.match(block.text.strip()))
            ):
                removed += 1
                continue
            kept.append(block)
        pages[index] = kept
    return removed


def _in_margin(block: Block, height: float) -> bool:
    return block.y1 <= height * MARGIN_FRACTION or block.y0 >= height * (1 - MARGIN_FRACTION)


def reading_order(blocks: list[Block], page_width: float) -> list[Block]:
    """Order a page's blocks as a person reads them: bands top to bottom, columns left to right.

    A block narrower than 55% of the text area that sits wholly in one half is a column block;
    a run of them (between full-width blocks) is read left column first, then right.
    """
    if len(blocks) < 2:
        return list(blocks)
    left = min(b.x0 for b in blocks)
    right = max(b.x1 for b in blocks)
    width = max(right - left, 1.0)
    middle = left + width / 2

    def column_of(block: Block) -> int:
        if block.x1 - block.x0 > 0.55 * width:
            return -1
        if block.x1 <= middle + 0.02 * width:
            return 0
        if block.x0 >= middle - 0.02 * width:
            return 1
        return -1

    ordered: list[Block] = []
    band: list[Block] = []
    for block in sorted(blocks, key=lambda b: (round(b.y0, 1), b.x0)):
        if column_of(block) == -1:
            ordered.extend(_read_band(band, column_of))
            band = []
            ordered.append(block)
        else:
            band.append(block)
    ordered.extend(_read_band(band, column_of))
    return ordered


def _read_band(band: list[Block], column_of: Any) -> list[Block]:
    columns = {column_of(b) for b in band}
    if len(columns) < 2:
        return sorted(band, key=lambda b: (b.y0, b.x0))
    return sorted(band, key=lambda b: (column_of(b), b.y0, b.x0))
