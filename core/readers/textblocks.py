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
    parts: list[str] = []  # joined once at the end: a page of a million characters stays linear
    for raw in lines:
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            continue
        if not parts:
            parts.append(line)
            continue
        tail = parts[-1][-2:]  # only the end matters; searching the whole text made it quadratic
        if _LIST_MARKER.match(line):
            parts.append("\n" + line)
        elif (_HYPHEN_END.search(tail) and line[0].islower()) or tail.endswith("\u00ad"):
            parts[-1] = parts[-1][:-1]
            parts.append(line)
        elif tail.endswith("-") and _HYPHEN_END.search(tail):
            parts.append(line)  # a real hyphen at the end of a line: "Jean-" + "Paul"
        else:
            parts.append(" " + line)
    out = "".join(parts)
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
