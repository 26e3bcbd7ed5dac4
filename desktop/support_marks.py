"""What an answer's cited sources do not support, marked in the answer as rendered.

After a sentence a cited source does not support: "(not found in [n])" in muted red; a number
in it none of them holds: a dotted red underline, and "48 — not in the sources" in that note."""

from __future__ import annotations

import re
from collections.abc import Sequence

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextFormat

from core.answer_types import SentenceSupport

NOT_FOUND_COLOR = "#b35c5c"  # a muted red: what the sources do not say
SENTENCE_END = set(".!?…;:)\"'”’")
_CITE_HREF = re.compile(r"^(?:cite|removed):(\d+)-\d+-(\d+)$")  # citation_links' TURN-N-S links
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.\[])\d[\d,.]*\d%?|(?<![\w.\[])\d%?")


def annotate_support(cursor: QTextCursor, start: int, turn: int,
                     support: Sequence[SentenceSupport]) -> None:
    """Mark, in the answer just rendered from start to the cursor, each sentence a cited source
    does not support ("not found in [n]" after its last mark, muted red, plain text) and each
    number in it no cited source holds (a dotted red underline, and "48 — not in the sources")."""
    document = cursor.document()
    end = cursor.position()
    last_mark: dict[int, int] = {}  # sentence -> where its last citation link ends
    block = document.findBlock(start)
    while block.isValid() and block.position() < end:
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            match = _CITE_HREF.match(fragment.charFormat().anchorHref())
            if fragment.isValid() and match is not None and int(match.group(1)) == turn:
                sentence = int(match.group(2))
                last_mark[sentence] = max(last_mark.get(sentence, 0),
                                          fragment.position() + fragment.length())
            iterator += 1
        block = block.next()
    ends = sorted((pos, s) for s, pos in last_mark.items())
    notes: list[tuple[int, str]] = []
    previous = start
    for pos, s in ends:
        if s < len(support):
            missing = support[s].unsupported_numbers
            if missing:
                _underline_numbers(cursor, previous, pos, set(missing))
            parts = []
            if support[s].not_found_in:
                parts.append("not found in " + ", ".join(f"[{n}]" for n in
                                                         support[s].not_found_in))
            parts.extend(f"{number} — not in the sources" for number in missing)
            if parts:  # after the sentence's full stop where the mark stands before it
                after = pos
                while after < end and document.characterAt(after) in SENTENCE_END:
                    after += 1
                notes.append((after, " (" + "; ".join(parts) + ")"))
        previous = pos
    note_format = QTextCharFormat()
    note_format.setForeground(QColor(NOT_FOUND_COLOR))
    note_format.setFontItalic(True)
    note_format.setProperty(QTextFormat.Property.FontSizeAdjustment, -1)
    note_format.setToolTip("Nothing in the cited source says this: check it before you rely on "
                           "it.")
    for pos, note in reversed(notes):  # from the end, so the earlier positions stay right
        cursor.setPosition(pos)
        cursor.insertText(note, note_format)
    cursor.setPosition(end + sum(len(note) for _, note in notes))  # where the answer ends now


def _underline_numbers(cursor: QTextCursor, start: int, end: int, numbers: set[str]) -> None:
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    text = cursor.selectedText()
    marked = QTextCharFormat()
    marked.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
    marked.setUnderlineColor(QColor(NOT_FOUND_COLOR))
    marked.setToolTip("This number is in none of the cited sources.")
    for match in _NUMBER_IN_TEXT.finditer(text):
        if match.group(0).replace(",", "").rstrip(".") in numbers:
            cursor.setPosition(start + match.start())
            cursor.setPosition(start + match.end(), QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(marked)
