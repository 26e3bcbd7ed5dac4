"""HTML: visible text by block element; headings become sections, tables stay tables."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from core.readers.decoding import decode_text
from core.types import Paragraph, ReadResult

_HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
_BLOCKS = {"p", "div", "li", "blockquote", "pre", "section", "article", "header", "footer",
           "main", "aside", "nav", "dd", "dt", "figcaption", "address", "ul", "ol", "dl", "br",
           "hr", "form", "fieldset", "details", "summary"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CHARSET = re.compile(rb"<meta[^>]+charset=['\"]?([\w-]+)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[Paragraph] = []
        self.title = ""
        self._hidden = 0
        self._in_title = False
        self._buffer: list[str] = []
        self._heading_level: int | None = None
        self._headings: list[tuple[int, str]] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN and tag != "head":
            self._hidden += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._flush()
            self._heading_level = _HEADINGS[tag]
        elif tag == "table":
            self._flush()
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag in _BLOCKS and self._table is None:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and tag != "head":
            self._hidden = max(0, self._hidden - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADINGS and self._heading_level is not None:
            text = _SPACES.sub(" ", "".join(self._buffer)).strip()
            self._buffer = []
            level = self._heading_level
            self._heading_level = None
            if text:
                self._headings = [(lv, t) for lv, t in self._headings if lv < level]
                self._headings.append((level, text))
        elif tag in ("td", "th") and self._table is not None and self._cell is not None:
            if not self._table:
                self._table.append([])
            self._table[-1].append(_SPACES.sub(" ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "table" and self._table is not None:
            rows = [r for r in self._table if any(r)]
            self._table = None
            if rows:
                self._add(_markdown_table(rows), kind="table")
        elif tag == "pre":
            self._flush(keep_lines=True)
            self._pre = max(0, self._pre - 1)
        elif tag in _BLOCKS and self._table is None:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in_title:
            self.title += data
        elif self._cell is not None:
            self._cell.append(data)
        elif self._table is None:
            self._buffer.append(data)

    def _flush(self, keep_lines: bool = False) -> None:
        raw = "".join(self._buffer)
        self._buffer = []
        text = raw.strip("\n") if keep_lines else _SPACES.sub(" ", raw).strip()
        if text.strip():
            self._add(text, kind="code" if keep_lines else "text")

    def _add(self, text: str, kind: str) -> None:
        self.paragraphs.append(Paragraph(text=text, page=1, kind=kind,
                                         headings=tuple(t for _, t in self._headings)))

    def close(self) -> None:
        super().close()
        self._flush()


def _markdown_table(rows: list[list[str]]) -> str:
    width = max(len(r) for r in rows)
    padded = [[c.replace("|", "\\|") for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in padded[1:]]
    return "\n".join(lines)


def read(path: Path, title_hint: str) -> ReadResult:
    data = path.read_bytes()
    declared = _CHARSET.search(data[:4096])
    text: str | None = None
    if declared:
        try:
            text = data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        text, _ = decode_text(data)
    parser = _Extractor()
    parser.feed(text)
    parser.close()
    title = _SPACES.sub(" ", parser.title).strip()
    if not title:
        title = next((h for p in parser.paragraphs for h in p.headings[:1]), title_hint)
    return ReadResult(title=title, page_count=1, page_labels=[None], paragraphs=parser.paragraphs)
