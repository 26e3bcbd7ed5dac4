"""Plain text: paragraphs are separated by blank lines; any encoding is decoded or refused."""

from __future__ import annotations

from pathlib import Path

from core.readers.decoding import decode_text
from core.readers.textblocks import blank_line_blocks, join_lines, normalise_newlines
from core.types import Paragraph, ReadResult


def read(path: Path, title_hint: str) -> ReadResult:
    text, encoding = decode_text(path.read_bytes())
    text = normalise_newlines(text)
    paragraphs = [
        Paragraph(text=joined, page=1, span=(start, end))
        for start, end, block in blank_line_blocks(text)
        if (joined := join_lines(block.split("\n")))
    ]
    notes = [] if encoding in ("utf-8", "ascii") else [f"decoded as {encoding}"]
    return ReadResult(title=title_hint, page_count=1, page_labels=[None],
                      paragraphs=paragraphs, notes=notes)
