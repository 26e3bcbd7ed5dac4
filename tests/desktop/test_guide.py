"""The built-in user guide tells the truth it can be checked on (issue 18, bug 4): every command
it shows parses, every shortcut it lists is bound, and the PDF is made from the text as it is."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from pytestqt.qtbot import QtBot

from core.cli import build_parser
from desktop.launcher import parse_gui
from desktop.main_window import MainWindow
from tests.desktop.conftest import WindowFactory

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "sample"
GUIDE = (SAMPLE / "folio-guide.md").read_text(encoding="utf-8")
KEY = re.compile(r"^(?:(?:Ctrl|Shift|Alt|Meta)\+)*(?:[A-Z0-9,.+=-]|F\d{1,2}|Esc|Enter|Delete|Del|"
                 r"Tab|Home|End|PgUp|PgDown|Space|Backspace)$")
TYPED_KEYS = {"Enter", "Shift+Enter"}  # handled by the question box itself, not a shortcut


def guide_commands() -> list[str]:
    """Every `folio ...` command the guide shows, in code blocks and in inline code."""
    commands: list[str] = []
    for block in re.findall(r"```\n(.*?)```", GUIDE, flags=re.DOTALL):
        commands += [line.strip() for line in block.splitlines() if line.strip()]
    prose = re.sub(r"```\n.*?```", "", GUIDE, flags=re.DOTALL)
    commands += re.findall(r"`([^`]*\bfolio(?: [^`]*)?)`", prose)
    return [c for c in commands if re.match(r"^(?:[A-Z_]+=\S+ )*folio\b", c)]


def guide_shortcuts() -> list[str]:
    """The keys of the guide's shortcut table, and the keys it names in bold."""
    table = GUIDE.split("## Keyboard shortcuts", 1)[1].split("\n## ", 1)[0]
    keys = [row.strip().strip("|").split("|")[1].strip()
            for row in table.splitlines() if row.startswith("|")][2:]  # past header, separator
    keys += re.findall(r"\*\*([^*]+)\*\*", GUIDE)
    return list(dict.fromkeys(k for k in keys if KEY.match(k)))


def test_the_guide_shows_commands_and_keys_to_check() -> None:
    commands, keys = guide_commands(), guide_shortcuts()
    assert len(commands) >= 15 and "folio add --json report.pdf" in commands
    assert {"Ctrl+O", "Ctrl+L", "Ctrl+F", "Esc", "Enter"} <= set(keys)
    assert {"Ctrl++", "Ctrl+-", "Ctrl+0", "PgDown", "PgUp", "Home", "End", "F1"} <= set(keys)


@pytest.mark.parametrize("command", guide_commands())
def test_every_command_the_guide_shows_parses(command: str) -> None:
    words = shlex.split(command)
    while "=" in words[0]:
        words = words[1:]  # an environment assignment before the command
    assert words[0] == "folio"
    args = words[1:]
    if len(args) == 1 and args[0] in _subcommands():
        return  # the command named in a sentence ("use `folio add` with one or more paths")
    try:
        if not args or args[0] == "gui":
            parse_gui(args[1:])
        elif args[0] != "self-check":
            build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"the guide shows `{command}`, which folio refuses (exit {exc.code})")


def _subcommands() -> set[str]:
    parser = build_parser()
    choices = next(a.choices for a in parser._actions if a.dest == "command")
    assert isinstance(choices, dict)
    return set(choices)


def _bound(window: MainWindow) -> set[str]:
    keys: list[QKeySequence] = []
    for action in window.findChildren(QAction):
        keys += action.shortcuts()
    for shortcut in window.findChildren(QShortcut):
        keys += shortcut.keys()
    return {k.toString(QKeySequence.SequenceFormat.PortableText) for k in keys if not k.isEmpty()}


def test_every_shortcut_the_guide_lists_is_bound(qtbot: QtBot, open_window: WindowFactory) -> None:
    window = open_window()
    bound = _bound(window)
    for key in guide_shortcuts():
        if key in TYPED_KEYS:
            continue
        portable = QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)
        assert portable in bound, f"the guide lists {key}; the window binds {sorted(bound)}"
    # Enter asks; Shift+Enter starts a new line (the question box's own keys).
    question = window.chat.input
    question.setFocus()
    qtbot.keyClicks(question, "Where is the")
    qtbot.keyClick(question, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(question, "lighthouse?")
    assert question.toPlainText() == "Where is the\nlighthouse?"
    with qtbot.waitSignal(window.chat.question_asked, timeout=5_000) as asked:
        qtbot.keyClick(question, Qt.Key.Key_Return)
    assert asked.args == ["Where is the\nlighthouse?"]


def test_the_guide_no_longer_says_what_is_not_so() -> None:
    for untrue in ("cannot open encrypted", "there is no OCR", "cannot read text from images",
                   "that have a text layer"):
        assert untrue not in GUIDE


def _page_texts(path: Path) -> list[str]:
    """Each page's words, one space apart: a line broken elsewhere reads the same."""
    with pymupdf.open(path) as doc:
        return [" ".join(page.get_text().split()) for page in doc]


def test_the_pdf_is_made_from_the_text_as_it_is(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped PDF has the pages and the text the generator makes from folio-guide.md now.

    Not its bytes: pyproject allows any pymupdf>=1.26, and another PyMuPDF writes the same
    pages into a different file. The generator is deterministic on one PyMuPDF (two runs, the
    same bytes), so a rebuilt guide changes only when the text or the PyMuPDF does.
    """
    spec = importlib.util.spec_from_file_location("make_sample_pdf", SAMPLE / "make_sample_pdf.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    made: list[Path] = []
    for name in ("guide.pdf", "again.pdf"):
        monkeypatch.setattr(generator, "TARGET", tmp_path / name)
        generator.main()
        made.append(tmp_path / name)
    assert made[0].read_bytes() == made[1].read_bytes(), "two runs of the generator differ"
    shipped, fresh = _page_texts(SAMPLE / "folio-guide.pdf"), _page_texts(made[0])
    stale = "folio-guide.pdf is out of date: run resources/sample/make_sample_pdf.py"
    assert len(shipped) == len(fresh), f"{stale} ({len(shipped)} pages, {len(fresh)} made)"
    for number, (old, new) in enumerate(zip(shipped, fresh, strict=True), start=1):
        assert old == new, f"{stale} (page {number} differs)"
