"""Render folio-guide.md into folio-guide.pdf (the sample document) with PyMuPDF's Story."""

# PyMuPDF ships few annotations, so calls into it are untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pymupdf

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "folio-guide.md"
TARGET = HERE / "folio-guide.pdf"

TITLE = "Folio user guide"
PAGE = pymupdf.paper_rect("a4")
MARGIN_X = 64.0
MARGIN_TOP = 72.0
MARGIN_BOTTOM = 72.0
MIN_ROOM = 24.0  # points: never place text into less free space than this
KEEP_ROOM = 170.0  # points: below this much free space, start the chunk on a new page
CONTENT = pymupdf.Rect(MARGIN_X, MARGIN_TOP, PAGE.width - MARGIN_X, PAGE.height - MARGIN_BOTTOM)

CSS = """
body { margin: 0; font-family: serif; font-size: 11pt; line-height: 1.35; color: #1a1a1a; }
h1 { font-family: sans-serif; font-size: 28pt; margin: 0 0 14pt 0; color: #1f3a5f; }
h2 { font-family: sans-serif; font-size: 17pt; margin: 16pt 0 6pt 0; color: #1f3a5f; }
h3 { font-family: sans-serif; font-size: 13pt; margin: 11pt 0 4pt 0; color: #2b2b2b; }
p { margin: 0 0 7pt 0; text-align: left; }
ul, ol { margin: 0 0 7pt 0; }
li { margin: 0 0 3pt 0; }
code { font-family: monospace; font-size: 10pt; }
pre { font-family: monospace; font-size: 9.5pt; background-color: #f2f2f2;
      margin: 2pt 0 8pt 0; padding: 5pt; }
table { border-collapse: collapse; margin: 4pt 0 9pt 0; }
th, td { border: 0.5pt solid #888888; padding: 3pt 8pt; font-size: 10.5pt; text-align: left; }
th { font-family: sans-serif; background-color: #e6ecf3; }
.cover h1 { font-size: 34pt; margin-top: 150pt; margin-bottom: 24pt; }
.cover p { font-size: 13pt; line-height: 1.5; }
"""


def inline(text: str) -> str:
    """Escape text and convert `code`, **bold** and *italic* spans to HTML."""
    parts = re.split(r"(`[^`]+`)", text)
    out: list[str] = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        s = re.sub(r"(?<!\*)\*(?!\s)(.+?)(?<!\s)\*(?!\*)", r"<i>\1</i>", s)
        out.append(s)
    return no_ligatures("".join(out))


def no_ligatures(markup: str) -> str:
    """Break f-ligatures (fi, fl, ff, ...) with an empty span so extracted text has plain letters.

    MuPDF's HTML layout always shapes ligatures and ignores font-variant-ligatures;
    a ligature glyph would extract as U+FB01 and the like, and "files" would not match.
    """
    return re.sub(r"f(?=[fil])", "f<span></span>", markup)


def table_html(rows: list[str]) -> str:
    """Convert pipe-table lines (header, separator, body rows) to an HTML table."""
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    head, body = cells[0], cells[2:]
    parts = ["<table><tr>", *(f"<th>{inline(c)}</th>" for c in head), "</tr>"]
    for row in body:
        parts += ["<tr>", *(f"<td>{inline(c)}</td>" for c in row), "</tr>"]
    parts.append("</table>")
    return "".join(parts)


def markdown_to_html(markdown: str) -> list[str]:
    """Convert the small Markdown subset used by the guide to a list of HTML blocks."""
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
        elif stripped.startswith("```"):
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            code = "\n".join(lines[i + 1 : end])
            blocks.append(f"<pre>{no_ligatures(html.escape(code, quote=False))}</pre>")
            i = end + 1
        elif m := re.match(r"(#{1,6})\s+(.*)", stripped):
            level = len(m.group(1))
            blocks.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
            i += 1
        elif stripped.startswith("|"):
            end = i
            while end < len(lines) and lines[end].strip().startswith("|"):
                end += 1
            blocks.append(table_html(lines[i:end]))
            i = end
        elif re.match(r"([-*]|\d+\.)\s", stripped):
            ordered = bool(re.match(r"\d+\.", stripped))
            tag = "ol" if ordered else "ul"
            items: list[str] = []
            while i < len(lines) and (m := re.match(r"\s*(?:[-*]|\d+\.)\s+(.*)", lines[i])):
                items.append(f"<li>{inline(m.group(1))}</li>")
                i += 1
            blocks.append(f"<{tag}>{''.join(items)}</{tag}>")
        else:
            para = [stripped]
            i += 1
            while (
                i < len(lines)
                and lines[i].strip()
                and not re.match(r"(#|```|\||[-*]\s|\d+\.\s)", lines[i].strip())
            ):
                para.append(lines[i].strip())
                i += 1
            blocks.append(f"<p>{inline(' '.join(para))}</p>")
    return blocks


def keep_together(blocks: list[str]) -> list[str]:
    """Group each heading, and each paragraph ending in a colon, with the block that follows."""
    chunks: list[str] = []
    pending = ""
    for block in blocks:
        pending += block
        if not re.match(r"<h\d>", block) and not block.endswith(":</p>"):
            chunks.append(pending)
            pending = ""
    if pending:
        chunks.append(pending)
    return chunks


def write_chunks(writer: pymupdf.DocumentWriter, chunks: list[str]) -> None:
    """Lay out chunks on new pages; a chunk that does not fit near a page's foot moves on.

    With at least KEEP_ROOM left, a chunk flows onto the next page instead, which keeps
    pages full; every chunk starts with at least a heading and the first block after it,
    so a heading is never left alone at the bottom of a page.
    """
    device = None
    top = CONTENT.y0
    for chunk in chunks:
        story = pymupdf.Story(html=chunk, user_css=CSS, em=11)
        while True:
            if device is None:
                device = writer.begin_page(PAGE)
                top = CONTENT.y0
            room = CONTENT.y1 - top
            # Story.place reports a fit for a (nearly) empty rect and lays the text out
            # below it, so never place into a sliver and check where the text ended up.
            if room >= MIN_ROOM:
                more, filled = story.place(pymupdf.Rect(CONTENT.x0, top, CONTENT.x1, CONTENT.y1))
                bottom = pymupdf.Rect(filled).y1
                inside = bottom <= CONTENT.y1 + 0.5
                fits = inside and not more
                may_flow = inside and room >= KEEP_ROOM
                if fits or may_flow or top == CONTENT.y0:
                    story.draw(device)
                    top = bottom
                    if fits:
                        break
                else:
                    # Start the chunk over on a fresh page.
                    story = pymupdf.Story(html=chunk, user_css=CSS, em=11)
            writer.end_page()
            device = None
    if device is not None:
        writer.end_page()


def decorate(doc: pymupdf.Document) -> None:
    """Add page labels (i, 1, 2, ...), a running header, a page-number footer and metadata."""
    doc.set_page_labels(
        [
            {"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
            {"startpage": 1, "prefix": "", "style": "D", "firstpagenum": 1},
        ]
    )
    grey = (0.4, 0.4, 0.4)
    for number in range(doc.page_count):
        page = doc[number]
        top = MARGIN_TOP - 30
        page.insert_text((MARGIN_X, top), TITLE, fontname="helv", fontsize=9, color=grey)
        page.draw_line((MARGIN_X, top + 6), (PAGE.width - MARGIN_X, top + 6), color=grey, width=0.5)
        label = page.get_label()
        width = pymupdf.get_text_length(label, fontname="helv", fontsize=9)
        bottom = PAGE.height - MARGIN_BOTTOM + 36
        page.insert_text(
            ((PAGE.width - width) / 2, bottom), label, fontname="helv", fontsize=9, color=grey
        )
    doc.set_metadata(
        {
            "title": TITLE,
            "author": "The Folio developers",
            "subject": "How to add documents, search, ask questions and fix problems in Folio",
            "creator": "make_sample_pdf.py",
        }
    )


def main() -> None:
    """Build folio-guide.pdf next to this script."""
    blocks = markdown_to_html(SOURCE.read_text(encoding="utf-8"))
    first_h2 = next(n for n, b in enumerate(blocks) if b.startswith("<h2>"))
    cover = f'<div class="cover">{"".join(blocks[:first_h2])}</div>'

    buffer = io.BytesIO()
    writer = pymupdf.DocumentWriter(buffer)
    write_chunks(writer, [cover])
    write_chunks(writer, keep_together(blocks[first_h2:]))
    writer.close()

    doc = pymupdf.open("pdf", buffer.getvalue())
    decorate(doc)
    doc.save(TARGET, garbage=4, deflate=True, no_new_id=True)
    print(f"wrote {TARGET} ({doc.page_count} pages)")


if __name__ == "__main__":
    main()
