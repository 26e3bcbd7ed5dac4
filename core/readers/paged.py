"""PDF, EPUB, XPS and FB2 through PyMuPDF: paragraphs with pages, line rectangles and labels."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymupdf

from core.errors import IngestError
from core.readers import headings, layout, ocr, tables
from core.readers.textblocks import join_lines
from core.types import FailureKind, Paragraph, ReadOptions, ReadResult, Rect

_SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word - .*|document\d*|slide \d+|\s*)$",
                          re.IGNORECASE)
# The flags of get_text("dict") without image data: images are looked at only on pages without
# text (ocr.image_share), and copying every image's bytes would cost more than the text.
TEXT_FLAGS = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
TABLE_PAGE_BUDGET_S = 2.0  # a page whose tables take longer is read as plain text
MAX_SLOW_TABLE_PAGES = 3  # ... and after this many, tables are no longer looked for
TABLE_TEXT_FACTOR = 3  # a page's tables hold at most this multiple of the page's text
_WORD = re.compile(r"[^\W\d_]{3,}")  # a title of fewer such words is an id ("0000874761-22-000022")
_JUNK_NAMES = re.compile(r"^(?:download|scan|scanned|file|img|image|doc|document|untitled|page)"
                         r"[\W_]*\d*[\W_]*\d*$", re.IGNORECASE)
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


def _decode_label(label: str) -> str:
    """MuPDF returns some labels as raw UTF-16 hex strings such as '<FEFF0031>'; decode them."""
    match = _HEX_LABEL.match(label)
    if match is None:
        return label
    try:
        return bytes.fromhex(match.group(1)).decode("utf-16-be")
    except ValueError:
        return label


@dataclass
class _Pages:
    """What the page loop found: each page's blocks and size, and what it had to say."""

    blocks: list[list[layout.Block]] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    image_pages: int = 0
    ocr_pages: int = 0
    ocr_empty: int = 0
    tables: int = 0
    failed: list[int] = field(default_factory=list)
    slow_table_pages: list[int] = field(default_factory=list)
    ocr_page_numbers: list[int] = field(default_factory=list)
    oversized_table_pages: list[int] = field(default_factory=list)
    ocr_error: IngestError | None = None


def _read_page(doc: pymupdf.Document, index: int, options: ReadOptions, found: _Pages) -> str:
    """Read one page into found; returns "OCR" when its text came from OCR, else ""."""
    page_no = index + 1
    page = doc[index]
    found.heights.append(float(page.rect.height))
    found.widths.append(float(page.rect.width))
    textpage = page.get_textpage(flags=TEXT_FLAGS)
    raw: dict[str, Any] = page.get_text("dict", textpage=textpage, sort=False)
    what = ""
    # images are looked at only on a page without text: get_image_info is read once a page
    share = 0.0 if ocr.has_text(raw) else ocr.image_share(page)
    if (doc.is_pdf and share >= ocr.IMAGE_COVER_SHARE and options.ocr
            and found.ocr_error is None):
        try:
            textpage = ocr.textpage(page, options)
        except IngestError as exc:  # the trained data is missing: say so once
            found.ocr_error = exc
        else:
            raw = ocr.even_sizes(page.get_text("dict", textpage=textpage, sort=False))
            found.ocr_pages += 1
            found.ocr_page_numbers.append(page_no)
            what = "OCR"
    blocks = [part for b in layout.blocks_from_dict(raw, page_no)
              for part in layout.split_at_gaps(b)]
    if not blocks and what == "OCR":
        found.ocr_empty += 1
    elif not blocks and share > 0:  # skipped: OCR is off, its data missing, or not a scan
        found.image_pages += 1
    if doc.is_pdf and blocks and len(found.slow_table_pages) < MAX_SLOW_TABLE_PAGES:
        blocks = _with_tables(page, textpage, page_no, blocks, found)
    found.blocks.append(blocks)
    return what


def _with_tables(page: pymupdf.Page, textpage: pymupdf.TextPage, page_no: int,
                 blocks: list[layout.Block], found: _Pages) -> list[layout.Block]:
    """The page's blocks with its tables in place of the text blocks they cover.

    A table is made of the page's words, so tables that hold more text than a small multiple
    of the page's own are a finder's mistake (a form's boxes seen as a grid of repeated
    cells): the page is then read as plain text. So is a page whose tables took too long, and
    after a few such pages the document's remaining pages are not searched for tables.
    """
    started = time.monotonic()
    page_tables = tables.find_tables(page, textpage, page_no,
                                     deadline=started + TABLE_PAGE_BUDGET_S)
    if time.monotonic() - started > TABLE_PAGE_BUDGET_S:
        found.slow_table_pages.append(page_no)
        return blocks
    if not page_tables:
        return blocks
    page_chars = sum(b.chars for b in blocks)
    if sum(len(t.table_text) for t in page_tables) > TABLE_TEXT_FACTOR * page_chars + 500:
        found.oversized_table_pages.append(page_no)
        return blocks
    found.tables += len(page_tables)
    return tables.outside(blocks, page_tables) + page_tables


def _extract_pages(doc: pymupdf.Document, options: ReadOptions,
                   on_page: Callable[[int, int, str], None] | None) -> _Pages:
    found = _Pages()
    total = doc.page_count
    for index in range(total):
        try:
            what = _read_page(doc, index, options, found)
        except Exception:
            found.failed.append(index + 1)
            what = ""
            del found.blocks[index:]
            del found.heights[index:]
            del found.widths[index:]
            found.blocks.append([])
            found.heights.append(792.0)
            found.widths.append(612.0)
        if on_page is not None:
            on_page(index + 1, total, what)
    return found


def _match_ocr_body_size(pages: list[list[layout.Block]], ocr_pages: list[int]) -> None:
    """Give OCR'd pages the body size of the document's text pages.

    ocr.even_sizes sets an OCR'd page's body to OCR_BODY_SIZE; beside text pages of a 9 pt body
    it would then read as a heading size, so OCR'd lines are scaled to the text pages' body.
    """
    scanned = set(ocr_pages)
    if not scanned or len(scanned) == len(pages):
        return
    body = headings.body_font_size([b for i, b in enumerate(pages) if i + 1 not in scanned])
    if body <= 0:
        return
    factor = body / ocr.OCR_BODY_SIZE
    for number in scanned:
        for block in pages[number - 1]:
            for line in block.lines:
                line.size = round(line.size * factor, 1)


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (" ..." if len(numbers) > 10 else "")


def _continues(prev: Paragraph, block: layout.Block) -> bool:
    """Whether block carries on prev's sentence (across a page or a column break)."""
    if prev.kind != "text" or block.kind != "text":
        return False
    first = block.text.lstrip()[:1]
    return bool(first) and first.islower() and not _SENTENCE_END.search(prev.text)


def _outline(doc: pymupdf.Document) -> list[headings.OutlineEntry]:
    """The PDF's bookmarks that point at a page, or [] (a broken outline costs nothing)."""
    try:
        toc = doc.get_toc(simple=True)
    except Exception:
        return []
    return [headings.OutlineEntry(int(level), str(title).strip(), int(page))
            for level, title, page, *_ in toc if int(page) >= 1 and str(title).strip()]


def _paragraphs(pages: list[list[layout.Block]]) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    stack: list[tuple[int, str, int | None]] = []  # level, text, the last page it heads
    for page_index, blocks in enumerate(pages):
        stack = [entry for entry in stack if entry[2] is None or entry[2] > page_index]
        for block in blocks:
            if block.kind == "heading":
                text = join_lines([ln.text for ln in block.lines])
                stack = [entry for entry in stack if entry[0] < block.level]
                stack.append((block.level, text, block.last_page))
                continue
            path = tuple(t for _, t, _ in stack)
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
    """The metadata title, else the file's name, else the biggest heading of the first pages.

    A first heading is the last resort: on a 10-K it is "UNITED STATES SECURITIES AND EXCHANGE
    COMMISSION", in a book "Chapter 1"; a file name says more unless it is a scanner's or a
    browser's ("scan_0001", "download (3)").
    """
    meta_title = ((doc.metadata or {}).get("title") or "").strip()
    if (meta_title and not _JUNK_TITLES.match(meta_title) and meta_title != title_hint
            and len(_WORD.findall(meta_title)) >= 2):
        return meta_title
    if _WORD.search(title_hint) and not _JUNK_NAMES.match(title_hint.strip()):
        return title_hint
    first_pages = [b for blocks in pages[:2] for b in blocks if b.kind == "heading"]
    if first_pages:
        best = max(first_pages, key=lambda b: (b.size, -b.page, -b.y0))
        return join_lines([ln.text for ln in best.lines])[:200]
    return title_hint


def read(path: Path, title_hint: str, password: str | None = None,
         options: ReadOptions | None = None,
         on_page: Callable[[int, int, str], None] | None = None) -> ReadResult:
    options = options or ReadOptions()
    doc = _open(path, password)
    try:
        notes: list[str] = []
        if doc.is_repaired:
            notes.append("the file was damaged and has been repaired; some text may be missing")
        found = _extract_pages(doc, options, on_page)
        if found.failed:
            notes.append(f"{len(found.failed)} page(s) could not be read: "
                         f"{_page_list(found.failed)}")
        if found.slow_table_pages:
            notes.append("tables took too long and were read as plain text on page(s) "
                         f"{_page_list(found.slow_table_pages)}"
                         + ("; later pages were not searched for tables"
                            if len(found.slow_table_pages) >= MAX_SLOW_TABLE_PAGES else ""))
        if found.oversized_table_pages:
            notes.append("what looked like tables held more text than the page on page(s) "
                         f"{_page_list(found.oversized_table_pages)}; read as plain text")
        pages, heights, widths = found.blocks, found.heights, found.widths
        removed = layout.drop_running_furniture(pages, heights)
        if removed:
            notes.append(f"{removed} running header, footer or page-number line(s) left out")
        tables.continue_headers(pages)
        _match_ocr_body_size(pages, found.ocr_page_numbers)
        headings.mark_headings(pages, _outline(doc))
        pages = [layout.reading_order(blocks, width) for blocks, width in zip(pages, widths,
                                                                                strict=True)]
        paragraphs = _paragraphs(pages)
        if not paragraphs:
            _raise_no_text(found, options)
        if found.ocr_pages:
            notes.append(f"{found.ocr_pages} page(s) read by OCR ({options.ocr_languages})")
        if found.ocr_empty:
            notes.append(f"OCR found no words on {found.ocr_empty} scanned page(s)")
        if found.image_pages:
            reason = (found.ocr_error.message if found.ocr_error is not None
                      else "OCR is off" if not options.ocr else "")
            notes.append(f"{found.image_pages} page(s) are images without a text layer and were "
                         f"skipped{': ' + reason if reason else ''}")
        return ReadResult(title=_title(doc, pages, title_hint), page_count=doc.page_count,
                          page_labels=_page_labels(doc), paragraphs=paragraphs, notes=notes,
                          tables=found.tables, ocr_pages=found.ocr_pages)
    finally:
        doc.close()


def _raise_no_text(found: _Pages, options: ReadOptions) -> None:
    if found.ocr_error is not None:
        raise found.ocr_error
    if found.ocr_empty:
        raise IngestError(FailureKind.NO_TEXT,
                          "The file is a scan and OCR found no words on its pages.")
    if found.image_pages:
        hint = ("OCR is off (`folio config ocr on` turns it on)." if not options.ocr
                else "Its images do not cover enough of the page to be read as a scan.")
        raise IngestError(FailureKind.NO_TEXT,
                          f"The file has no text layer: its pages are images (a scan?). {hint}")
    raise IngestError(FailureKind.NO_TEXT, "The file contains no text.")
