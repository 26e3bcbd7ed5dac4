"""Table blocks as text: the Markdown of a table, its header row, and the text around tables.

core.readers.tables finds a page's tables; this module writes them (markdown), leaves the lines
they hold out of the page's other blocks (outside), and gives a table continued from the page
before the header of the table it continues (continue_headers). tables re-exports these.
"""

from __future__ import annotations

import re

from core.readers import layout

TOP_TEXT_CHARS = 300  # text above a continued table (a running header, "(continued)")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(header: list[str], body: list[list[str]]) -> str:
    """A Markdown table: the header row, the rule, the body rows."""
    lines = ["| " + " | ".join(_cell(c) for c in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)



def outside(blocks: list[layout.Block], page_tables: list[layout.Block]) -> list[layout.Block]:
    """The text of blocks that no table holds: lines whose centre lies in a table are left out.

    MuPDF's blocks do not follow a table's edges (a caption and the first rows can be one
    block, a block can hold a table and the paragraph after it), so dropping whole blocks by
    their centre loses text or repeats it; dropping lines keeps each word once.
    """
    if not page_tables:
        return blocks
    kept: list[layout.Block] = []
    for block in blocks:
        if block.kind == "table":
            kept.append(block)
            continue
        lines = [ln for ln in block.lines if not any(
            t.x0 - 1 <= (ln.rect.x0 + ln.rect.x1) / 2 <= t.x1 + 1
            and t.y0 - 1 <= (ln.rect.y0 + ln.rect.y1) / 2 <= t.y1 + 1 for t in page_tables)]
        if len(lines) == len(block.lines):
            kept.append(block)
        elif lines:
            kept.append(layout.Block(
                page=block.page, lines=lines, x0=min(ln.rect.x0 for ln in lines),
                y0=min(ln.rect.y0 for ln in lines), x1=max(ln.rect.x1 for ln in lines),
                y1=max(ln.rect.y1 for ln in lines), kind=block.kind, level=block.level,
                chars=sum(len(ln.text) for ln in lines)))
    return kept


def _split(text: str) -> list[list[str]]:
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in text.split("\n")]


def header_of(block: layout.Block) -> list[str]:
    """The header cells of a table block."""
    return _split(block.table_text.split("\n", 1)[0])[0]


def continue_headers(pages: list[list[layout.Block]]) -> None:
    """Give a table continued from the page before the header row of the table it continues.

    A page's first table continues the previous page's last table when that one ends its page
    and this one starts the next (at most TOP_TEXT_CHARS of text below the one, above the
    other: a running footer or header, "(continued)"), has the same number
    of columns and has no header of its own (an empty header row). Its empty header row is
    replaced by the previous table's, in place; pages are processed in order, so a table
    running over three pages keeps its header on all of them.
    """
    previous: layout.Block | None = None
    for blocks in pages:
        page_tables = sorted((b for b in blocks if b.kind == "table"), key=lambda b: b.y0)
        if page_tables and previous is not None:
            first = page_tables[0]
            above = sum(len(b.text) for b in blocks
                        if b.kind != "table" and b.y1 <= first.y0 + 1)
            own = header_of(first)
            prev_header = header_of(previous)
            if (above <= TOP_TEXT_CHARS and not any(own) and len(own) == len(prev_header)
                    and any(prev_header)):
                body = first.table_text.split("\n", 2)[2] if first.table_text.count("\n") >= 2 \
                    else ""
                first.table_text = markdown(prev_header, []) + ("\n" + body if body else "")
                first.chars = len(first.table_text)
        if page_tables:
            last = page_tables[-1]
            below = sum(len(b.text) for b in blocks if b.kind != "table" and b.y0 >= last.y1 - 1)
            previous = last if below <= TOP_TEXT_CHARS else None
        else:
            previous = None  # a page without a table between them: not a continuation
