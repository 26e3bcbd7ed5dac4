"""Helpers shared by the readers: joining wrapped lines and splitting text at blank lines."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

_HYPHEN_END = re.compile(r"(\w)[-\u00ad]$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•▪◦‣]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")
_BLANK_LINES = re.compile(r"\n[ \t]*\n+")
_SPACES = re.compile(r"[ \t\u00a0]+")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st",
                            "ﬆ": "st"})


def join_lines(lines: Sequence[str]) -> str:
    """Join the wrapped lines of one paragraph, undoing end-of-line hyphenation.

    "main-" + "tenance" becomes "maintenance"; a hyphen before a capital or a digit is kept
    ("Jean-" + "Paul" stays "Jean-Paul"), as is a line that starts a list item.
    """
    out = ""
    for raw in lines:
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            continue
        if not out:
            out = line
        elif _LIST_MARKER.match(line):
            out += "\n" + line
        elif (_HYPHEN_END.search(out) and line[0].islower()) or out.endswith("\u00ad"):
            out = out[:-1] + line
        else:
            out += " " + line
    # PDFs often carry ligature glyphs; "ﬁles" must match a search for "files".
    return out.replace("\u00ad", "").translate(_LIGATURES)


def blank_line_blocks(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, block) for every run of text between blank lines."""
    pos = 0
    for match in _BLANK_LINES.finditer(text):
        if text[pos:match.start()].strip():
            yield pos, match.start(), text[pos:match.start()]
        pos = match.end()
    if text[pos:].strip():
        yield pos, len(text), text[pos:]


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
