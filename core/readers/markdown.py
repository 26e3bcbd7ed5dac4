"""Markdown: headings become sections; paragraphs, lists, code blocks and tables stay whole."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from core.readers.decoding import decode_text
from core.readers.textblocks import join_lines, normalise_newlines
from core.types import Paragraph, ReadResult

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_FRONT_TITLE = re.compile(r"^title:\s*['\"]?(.*?)['\"]?\s*$", re.IGNORECASE)
_INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


@dataclass
class _State:
    headings: list[tuple[int, str]] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0
    kind: str = "text"

    def heading_path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings)

    def flush(self) -> None:
        if self.lines:
            if self.kind == "text":
                text = _INLINE_LINK.sub(r"\1", join_lines(self.lines))
            else:
                text = "\n".join(self.lines).strip("\n")
            if text.strip():
                self.paragraphs.append(Paragraph(text=text, page=1, headings=self.heading_path(),
                                                 kind=self.kind, span=(self.start, self.end)))
        self.lines = []
        self.kind = "text"

    def add_line(self, line: str, start: int, end: int, kind: str = "text") -> None:
        if not self.lines:
            self.start = start
            self.kind = kind
        self.lines.append(line)
        self.end = end

    def enter_heading(self, level: int, text: str) -> None:
        self.flush()
        self.headings = [(lv, t) for lv, t in self.headings if lv < level]
        self.headings.append((level, _INLINE_LINK.sub(r"\1", text).strip("*_ ")))


def _front_matter_end(lines: list[str]) -> tuple[int, str | None]:
    """Index of the first line after YAML front matter, and its title if it has one."""
    if not lines or lines[0].strip() != "---":
        return 0, None
    title = None
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return i + 1, title
        if match := _FRONT_TITLE.match(line):
            title = match.group(1) or None
    return 0, None


def read(path: Path, title_hint: str) -> ReadResult:
    text, encoding = decode_text(path.read_bytes())
    text = normalise_newlines(text)
    lines = text.split("\n")
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    first, title = _front_matter_end(lines)
    state = _State()
    fence: str | None = None
    first_h1: str | None = None
    i = first
    while i < len(lines):
        line, start = lines[i], offsets[i]
        end = start + len(line)
        if fence is not None:
            state.add_line(line, start, end, "code")
            if line.strip().startswith(fence):
                fence = None
                state.flush()
            i += 1
            continue
        if match := _FENCE.match(line):
            state.flush()
            fence = match.group(1)
            state.add_line(line, start, end, "code")
        elif match := _ATX.match(line):
            level, heading = len(match.group(1)), match.group(2)
            if level == 1 and first_h1 is None:
                first_h1 = heading
            state.enter_heading(level, heading)
        elif (_SETEXT.match(line) and len(state.lines) == 1 and state.kind == "text"
              and i > first and lines[i - 1].strip()):
            heading = state.lines[0].strip()
            state.lines = []
            level = 1 if line.strip().startswith("=") else 2
            if level == 1 and first_h1 is None:
                first_h1 = heading
            state.enter_heading(level, heading)
        elif not line.strip():
            state.flush()
        elif _TABLE_ROW.match(line):
            if state.kind != "table":
                state.flush()
            state.add_line(line.strip(), start, end, "table")
        else:
            if state.kind != "text":
                state.flush()
            state.add_line(line, start, end)
        i += 1
    state.flush()
    notes = [] if encoding in ("utf-8", "ascii") else [f"decoded as {encoding}"]
    return ReadResult(title=title or first_h1 or title_hint, page_count=1, page_labels=[None],
                      paragraphs=state.paragraphs, notes=notes)
