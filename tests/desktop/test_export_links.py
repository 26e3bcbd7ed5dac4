"""Answers to take away: the actions under an answer, Markdown to copy or save, folio:// links."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from core.export import link
from core.library import Library
from desktop.app import open_link_when_loaded
from desktop.launcher import _gui_arguments, parse_gui
from desktop.opening import MarkdownExport
from tests.desktop.conftest import ANSWER_TIMEOUT_MS, add_and_wait, ask_and_wait
from tests.fixtures.docs import make_report_pdf
from tests.ollama_server import FakeOllama


def test_this_is_wrong_asks_for_a_diagnosis_of_that_turn(qtbot, open_window,
                                                         docs_dir: Path) -> None:
    window = open_window()  # no Ollama: extractive answers have the action too
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    ask_and_wait(qtbot, window, "What did the zorbicon survey find?")
    ask_and_wait(qtbot, window, "Who ran the zorbicon survey?")
    chat = window.chat
    assert chat.conversation_id is not None
    assert chat.transcript.toPlainText().count("This is wrong…") == 2
    with qtbot.waitSignal(chat.diagnose_requested) as blocker:
        assert chat.trigger_action("diagnose", 1)
    assert blocker.args == [chat.conversation_id, 2]  # turns numbered from 1
    with qtbot.waitSignal(chat.diagnose_requested) as blocker:
        chat._on_link(QUrl("action:diagnose-0"))  # the link under the first answer
    assert blocker.args == [chat.conversation_id, 1]


def _markdown(window) -> MarkdownExport:
    found = window.findChild(MarkdownExport)
    assert found is not None
    return found


def test_copy_as_markdown_puts_the_answer_with_footnoted_sources_on_the_clipboard(
        qtbot, open_window, docs_dir: Path, fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    report = make_report_pdf(docs_dir)
    add_and_wait(qtbot, window, [report.path])
    answer = ask_and_wait(qtbot, window, "What did the zorbicon survey find?")
    assert answer.citations
    sha = next(d.sha256 for d in window.documents if d.id == answer.citations[0].document_id)
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(_markdown(window).copied, timeout=ANSWER_TIMEOUT_MS):
        window.chat._on_link(QUrl("action:copy-0"))  # "Copy as Markdown" under the answer
    text = QGuiApplication.clipboard().text()
    assert text.startswith("## What did the zorbicon survey find?")
    assert "[^1]" in text.split("[^1]:")[0]  # the answer's mark, before its footnote
    note = next(line for line in text.splitlines() if line.startswith("[^1]:"))
    assert f"(folio://open?doc={sha}&page={answer.citations[0].page})" in note
    quoted = re.search(r"“(.+)”", note)
    assert quoted is not None
    assert quoted.group(1).rstrip(" …")[:60] in " ".join(answer.citations[0].text.split())
    assert "Copied" in window.statusBar().currentMessage()


def test_save_conversation_as_markdown_asks_where_and_writes_it(
        qtbot, open_window, docs_dir: Path, tmp_path: Path, monkeypatch) -> None:
    window = open_window()
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    ask_and_wait(qtbot, window, "What did the zorbicon survey find?")
    ask_and_wait(qtbot, window, "Who ran the zorbicon survey?")
    target = tmp_path / "out" / "conversation.md"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *_a, **_k: (str(target), "Markdown (*.md)")))
    assert window.chat.save_button.isEnabled()
    with qtbot.waitSignal(_markdown(window).saved, timeout=ANSWER_TIMEOUT_MS):
        window.chat.save_button.click()
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# ")
    assert "## What did the zorbicon survey find?" in text
    assert "## Who ran the zorbicon survey?" in text
    assert "folio://open?doc=" in text and "[^1]:" in text


def test_a_deep_link_from_the_command_line_opens_the_viewer_at_its_page(
        qtbot, open_window, docs_dir: Path) -> None:
    window = open_window()
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    doc = window.documents[0]
    url = link(doc.sha256, 4)
    arguments = _gui_arguments([url])  # as the desktop's URL handler runs `folio %u`
    assert arguments is not None
    options = parse_gui(arguments)
    assert options.link == url
    with qtbot.waitSignal(window.opening.link_opened, timeout=ANSWER_TIMEOUT_MS) as blocker:
        open_link_when_loaded(window, options.link)
    assert blocker.args[1] == 4
    assert window.viewer.title() == doc.title
    assert window.viewer.current_page == 4
    assert window.opening.refusal is None


HOSTILE = ["folio://open?doc=../../etc/passwd&page=1",
           "folio://open?doc=" + "0" * 64 + "&page=1",  # a sha256 of no document here
           "folio://run?cmd=rm%20-rf%20~",
           "folio://open?doc={sha}&page=99",
           "folio://open?doc={sha}&page=1&file=/etc/passwd"]


def test_a_refused_link_says_why_and_opens_nothing(qtbot, open_window, docs_dir: Path) -> None:
    window = open_window()
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    sha = window.documents[0].sha256
    for hostile in HOSTILE:
        with qtbot.waitSignal(window.opening.link_refused,
                              timeout=ANSWER_TIMEOUT_MS) as blocker:
            open_link_when_loaded(window, hostile.format(sha=sha))
        box = window.opening.refusal
        assert box is not None and box.isVisible()
        assert box.text() == blocker.args[0] and box.text().endswith(".")
        assert window.viewer.path is None and window.viewer.title() == "No document open"
        box.close()
    assert _gui_arguments(["FOLIO://open?doc=x&page=1"]) is not None  # core refuses it, not argv


def test_several_transient_failures_say_their_reason(qtbot, open_window, folio_home: Path,
                                                     tmp_path: Path) -> None:
    ollama = FakeOllama(["llama3.2:3b", "nomic-embed-text"])
    first = tmp_path / "first.txt"
    first.write_text("Bees pollinate clover in the meadow.", encoding="utf-8")
    with Library.open(folio_home) as library:
        library.set_setting("ollama-host", ollama.host)
        library.add([first])
        assert library.set_embedding_model("ollama:nomic-embed-text")
    window = open_window(ollama_host=ollama.host)
    ollama.stop()
    paths = []
    for name in ("a.txt", "b.txt", "c.txt"):
        paths.append(tmp_path / name)
        paths[-1].write_text(f"Notes {name}: ants carry leaves to the nest.", encoding="utf-8")
    outcomes = add_and_wait(qtbot, window, paths)
    assert len(outcomes) == 3 and all(o.transient for o in outcomes)
    line = window.statusBar().currentMessage()
    assert line.startswith("Could not add 3 files: ")
    assert outcomes[0].reason and outcomes[0].reason.rstrip(".") in line
    assert "Indexing done" not in line
