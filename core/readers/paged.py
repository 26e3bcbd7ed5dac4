"""PDF, EPUB, XPS and FB2 through PyMuPDF: paragraphs with pages, line rectangles and labels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pymupdf

from core.errors import IngestError
from core.readers import layout
from core.readers.textblocks import join_lines
from core.types import FailureKind, Paragraph, ReadResult, Rect

_SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word - .*|document\d*|slide \d+|\s*)$",
                          re.IGNORECASE)
MIN_RULES = 3
_HEX_LABEL = re.compile(r"^<FEFF((?:[0-9A-Fa-f]{4})*)>$")


def _open(path: Path, password: str | None = None) -> pymupdf.Document:
    try:
        doc = pymupdf.open(path)
    except pymupdf.FileNotFoundError as exc:
        raise IngestError(FailureKind.NOT_FOUND, "The file vanished before it could be read.") from exc
    except pymupdf.EmptyFileError as exc:
        raise IngestError(FailureKind.EMPTY, "The file is empty.") from exc
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise IngestError(FailureKind.DAMAGED,
                          f"The file is damaged beyond repair ({_short(exc)}).") from exc
    # authenticate() returns 0 for a wrong password; the password is never kept.
    if doc.needs_pass and (password is None or not doc.authenticate(password)):
        doc.close()
        if password is None:
            raise IngestError(FailureKind.ENCRYPTED,
                              "The file is password-protected; add it again with its password "
                              "(`folio add --password`).")
        raise IngestError(FailureKind.WRONG_PASSWORD, "The password for this file is not correct.")
    if doc.page_count == 0:
        doc.close()
        raise IngestError(FailureKind.DAMAGED, "The file has no pages (damaged beyond repair?).")
    return doc


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # MuPDF names the stored copy (files/ab/<sha256>.pdf), which means nothing to the user.
    text = re.sub(r"\s*'[^']*[/\\]files[/\\][^']*'", "", text)
    return text if len(text) < 120 else text[:117] + "..."


def _page_labels(doc: pymupdf.Document) -> list[str | None]:
    has_rules = False
    try:
        has_rules = bool(doc.get_page_labels())
    except Exception:  # a malformed label tree must not cost the document
        has_rules = False
    labels: list[str | None] = []
    for index in range(doc.page_count):
        label = ""
        if has_rules:
            try:
                label = doc[index].get_label()
            except Exception:
                label = ""
        labels.append(_decode_label(label) or str(index + 1))
    return labels


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


def _decode_label(label: str) -> str:
    """MuPDF returns some labels as raw UTF-16 hex strings such as '<FEFF0031>'; decode them."""
    match = _HEX_LABEL.match(label)
    if match is None:
        return label
    try:
        return bytes.fromhex(match.group(1)).decode("utf-16-be")
    except ValueError:
        return label


def _tables(page: pymupdf.Page, page_no: int) -> list[layout.Block]:
    """Ruled tables of a page as Markdown tables, so they stay tables and not a soup of numbers."""
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


def _inside(block: layout.Block, table: layout.Block) -> bool:
    cx, cy = (block.x0 + block.x1) / 2, (block.y0 + block.y1) / 2
    return table.x0 - 1 <= cx <= table.x1 + 1 and table.y0 - 1 <= cy <= table.y1 + 1


def _extract_pages(doc: pymupdf.Document, notes: list[str]) -> tuple[
        list[list[layout.Block]], list[float], list[float], int]:
    pages: list[list[layout.Block]] = []
    heights: list[float] = []
    widths: list[float] = []
    image_pages = 0
    failed: list[int] = []
    for index in range(doc.page_count):
        page_no = index + 1
        try:
            page = doc[index]
            heights.append(float(page.rect.height))
            widths.append(float(page.rect.width))
            raw: dict[str, Any] = page.get_text("dict", sort=False)
            blocks = [part for b in layout.blocks_from_dict(raw, page_no)
                      for part in layout.split_at_gaps(b)]
            if not blocks and any(b.get("type") == 1 for b in raw.get("blocks", [])):
                image_pages += 1
            if doc.is_pdf:
                tables = _tables(page, page_no)
                if tables:
                    blocks = [b for b in blocks if not any(_inside(b, t) for t in tables)]
                    blocks += tables
        except Exception:
            failed.append(page_no)
            blocks = []
            if len(heights) < page_no:
                heights.append(792.0)
                widths.append(612.0)
        pages.append(blocks)
    if failed:
        notes.append(f"{len(failed)} page(s) could not be read: {_page_list(failed)}")
    return pages, heights, widths, image_pages


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (" ..." if len(numbers) > 10 else "")


def _continues(prev: Paragraph, block: layout.Block) -> bool:
    """Whether block carries on prev's sentence (across a page or a column break)."""
    if prev.kind != "text" or block.kind != "text":
        return False
    first = block.text.lstrip()[:1]
    return bool(first) and first.islower() and not _SENTENCE_END.search(prev.text)


def _paragraphs(pages: list[list[layout.Block]]) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    headings: list[tuple[int, str]] = []
    for blocks in pages:
        for block in blocks:
            if block.kind == "heading":
                text = join_lines([ln.text for ln in block.lines])
                headings = [(lv, t) for lv, t in headings if lv < block.level]
                headings.append((block.level, text))
                continue
            path = tuple(t for _, t in headings)
            rects = tuple(ln.rect for ln in block.lines) or (
                Rect(block.page, block.x0, block.y0, block.x1, block.y1),)
            if paragraphs and paragraphs[-1].headings == path and _continues(paragraphs[-1], block):
                prev = paragraphs[-1]
                joined = join_lines([prev.text, *[ln.text for ln in block.lines]])
                paragraphs[-1] = Paragraph(text=joined, page=prev.page, rects=prev.rects + rects,
                                           headings=path, kind="text")
                continue
            text = (block.table_text if block.kind == "table"
                    else join_lines([ln.text for ln in block.lines]))
            if text:
                paragraphs.append(Paragraph(text=text, page=block.page, rects=rects,
                                            headings=path, kind=block.kind))
    return paragraphs


def _title(doc: pymupdf.Document, pages: list[list[layout.Block]], title_hint: str) -> str:
    meta_title = ((doc.metadata or {}).get("title") or "").strip()
    if meta_title and not _JUNK_TITLES.match(meta_title) and meta_title != title_hint:
        return meta_title
    first_pages = [b for blocks in pages[:2] for b in blocks if b.kind == "heading"]
    if first_pages:
        best = max(first_pages, key=lambda b: (b.size, -b.page, -b.y0))
        return join_lines([ln.text for ln in best.lines])[:200]
    return title_hint


def read(path: Path, title_hint: str, password: str | None = None) -> ReadResult:
    doc = _open(path, password)
    try:
        notes: list[str] = []
        if doc.is_repaired:
            notes.append("the file was damaged and has been repaired; some text may be missing")
        pages, heights, widths, image_pages = _extract_pages(doc, notes)
        removed = layout.drop_running_furniture(pages, heights)
        if removed:
            notes.append(f"{removed} running header, footer or page-number line(s) left out")
        layout.mark_headings(pages, layout.body_font_size(pages))
        pages = [layout.reading_order(blocks, width) for blocks, width in zip(pages, widths,
                                                                                strict=True)]
        paragraphs = _paragraphs(pages)
        if not paragraphs:
            if image_pages:
                raise IngestError(FailureKind.NO_TEXT,
                                  "The file has no text layer: its pages are images (a scan?). "
                                  "Folio cannot read scanned pages yet (no OCR).")
            raise IngestError(FailureKind.NO_TEXT, "The file contains no text.")
        if image_pages:
            notes.append(f"{image_pages} page(s) are images without a text layer and were skipped")
        return ReadResult(title=_title(doc, pages, title_hint), page_count=doc.page_count,
                          page_labels=_page_labels(doc), paragraphs=paragraphs, notes=notes)
    finally:
        doc.close()
