"""Tables of a PDF page as Markdown tables, so they stay tables and not a soup of numbers."""

from __future__ import annotations

import pymupdf

from core.readers import layout

MIN_RULES = 3


def _looks_ruled(page: pymupdf.Page) -> bool:
    """Whether the page draws a grid (three or more horizontal and two or more vertical rules).

    find_tables costs ~0.25 s a page, fifty times the text extraction, so it only runs where
    a ruled table can be.
    """
    horizontal: set[int] = set()
    vertical: set[int] = set()
    for drawing in page.get_cdrawings():
        for item in drawing.get("items", ()):
            if item[0] == "l":
                (x0, y0), (x1, y1) = item[1], item[2]
                if abs(y0 - y1) < 1 and abs(x1 - x0) > 10:
                    horizontal.add(round(y0))
                elif abs(x0 - x1) < 1 and abs(y1 - y0) > 5:
                    vertical.add(round(x0))
            elif item[0] == "re":
                x0, y0, x1, y1 = item[1]
                if y1 - y0 < 2:
                    horizontal.add(round(y0))
                elif x1 - x0 < 2:
                    vertical.add(round(x0))
                else:
                    horizontal.update((round(y0), round(y1)))
                    vertical.update((round(x0), round(x1)))
    return len(horizontal) >= MIN_RULES and len(vertical) >= MIN_RULES - 1


def find_tables(page: pymupdf.Page, textpage: pymupdf.TextPage, page_no: int) -> list[layout.Block]:
    """The tables of page as Blocks of kind "table" (table_text is Markdown, bbox the table's).

    textpage is the page's one text page (already extracted by the caller); blocks of the page
    whose centre lies inside a returned table's bbox are dropped by the caller.
    """
    del textpage  # not used yet
    try:
        if not _looks_ruled(page):
            return []
        found = page.find_tables()
    except Exception:
        return []
    blocks = []
    for table in found.tables:
        try:
            markdown = table.to_markdown(clean=False).strip()
        except Exception:
            continue
        if markdown.count("\n") < 2:
            continue
        x0, y0, x1, y1 = table.bbox
        blocks.append(layout.Block(page=page_no, lines=[], x0=x0, y0=y0, x1=x1, y1=y1,
                                   kind="table", table_text=markdown,
                                   chars=len(markdown)))
    return blocks
