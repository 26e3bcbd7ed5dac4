"""Diagnosis and saved checks in the app: "This is wrong…" under an answer, and Tools ▸ Checks.

The real window on a real library of six notes (tests/core/test_search.py's TOPICS) and the test
Ollama server, told what to cite, so that each verdict happens as in tests/core/test_diagnosis.py.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path

import pytest
from PySide6.QtGui import QTextDocument

from core import diagnosing
from core.diagnosis import Diagnosis
from core.library import Library
from core.paths import default_library_dir
from desktop.checks_view import COLUMNS, ChecksView
from desktop.diagnose_dialog import DiagnoseDialog
from desktop.main_window import MainWindow
from desktop.tasks import Task
from tests.core.test_search import TOPICS
from tests.desktop.conftest import add_and_wait, ask_and_wait, set_library_setting
from tests.ollama_server import FakeOllama, Fault

QUESTION = "How long does the BX-200 battery warranty last?"
TIMEOUT_MS = 30_000
CHECKS = {"Battery manual": ["battery warranty months", "BX-200 defects"],
          "Garden diary": ["when to prune roses", "outward-facing bud"],
          "Kitchen notes": ["how long to knead dough", "let the bread rise"],
          "Harbour guide": ["yellow buoys", "cost of a visitor mooring"],
          "Pet care": ["how much does a cat sleep"],
          "Household admin": ["tax return deadline"]}


@pytest.fixture
def notes(docs_dir: Path) -> list[Path]:
    paths = []
    for name, text in TOPICS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
        paths.append(docs_dir / name)
    return paths


def open_with_notes(qtbot, open_window, notes: list[Path], fake_ollama: FakeOllama,
                    sources: int | None = None) -> MainWindow:
    if sources is not None:
        set_library_setting(default_library_dir(), "answer-sources", str(sources))
    window = open_window(fake_ollama.host)
    add_and_wait(qtbot, window, notes)
    return window


def doc(window: MainWindow, title: str) -> int:
    return next(d.id for d in window.documents if d.title == title)


def plain(rich: str) -> str:
    document = QTextDocument()
    document.setHtml(rich)
    return document.toPlainText()


def open_diagnosis(qtbot, window: MainWindow) -> DiagnoseDialog:
    """Click "This is wrong…" under the last answer, as a person does."""
    chat = window.chat
    chat_turn = len(chat.turns) - 1
    assert chat.trigger_action("diagnose", chat_turn)
    dialog = window.checking.dialog
    assert dialog is not None and dialog.turn_number == chat_turn + 1
    qtbot.waitUntil(lambda: dialog.turn is not None, timeout=TIMEOUT_MS)
    return dialog


def diagnose(qtbot, dialog: DiagnoseDialog, document_id: int,
             page: int | None = None) -> Diagnosis:
    dialog.choose(document_id, page)
    with qtbot.waitSignal(dialog.diagnosed, timeout=TIMEOUT_MS) as blocker:
        dialog.diagnose_button.click()
    found = blocker.args[0]
    assert isinstance(found, Diagnosis)
    return found


def test_a_source_the_answer_ignored_is_behavioural(qtbot, open_window, notes: list[Path],
                                                    fake_ollama: FakeOllama) -> None:
    window = open_with_notes(qtbot, open_window, notes, fake_ollama)
    fake_ollama.reply = "The warranty is not stated in these notes [2]."  # cites only [2]
    answer = ask_and_wait(qtbot, window, QUESTION)
    [cited] = answer.citations
    dialog = open_diagnosis(qtbot, window)
    # The answer's cited document comes first, marked; every other document is offered too.
    assert dialog.document.itemText(0) == f"{cited.title} (cited)"
    assert dialog.document.count() == len(TOPICS)
    assert not dialog.keep_button.isEnabled()  # nothing diagnosed yet

    found = diagnose(qtbot, dialog, doc(window, "Battery manual"))
    assert found.verdict == "behavioural" and found.source_number == 1
    shown = plain(dialog.findings.text())
    assert "Verdict: behavioural (the model)" in shown
    assert "was source [1], but the answer did not use it" in shown
    assert f"<b>{html.escape(found.sentence)}</b>" in dialog.findings.text()  # in bold
    assert f"sent to the model as source [1] (of {found.sources})" in shown
    assert "The answer did not cite it." in shown
    assert "Keyword rank" in shown and "Meaning rank" in shown and "Fused rank" in shown
    assert "Tried on the spot" not in shown  # only a factual verdict tries other settings
    assert dialog.keep_button.isEnabled()
    dialog.page.setValue(1)  # another place: diagnosed first, then kept
    assert not dialog.keep_button.isEnabled()


def test_a_place_past_the_sources_is_factual_with_its_ranks_and_kept_as_a_check(
        qtbot, open_window, notes: list[Path], fake_ollama: FakeOllama) -> None:
    set_library_setting(default_library_dir(), "prompt-sources", "passages")  # 1 asked, 1 sent
    window = open_with_notes(qtbot, open_window, notes, fake_ollama, sources=1)
    question = "pruning roses and kneading dough"
    answer = ask_and_wait(qtbot, window, question)
    [sent] = answer.sources
    other = next(doc(window, t) for t in ("Garden diary", "Kitchen notes")
                 if doc(window, t) != sent.hit.document_id)
    dialog = open_diagnosis(qtbot, window)
    found = diagnose(qtbot, dialog, other, page=1)
    assert found.verdict == "factual" and found.ranks.fused == 2
    assert found.place.page == 1
    shown = plain(dialog.findings.text())
    assert "Verdict: factual (retrieval)" in shown
    assert "not retrieved (fused rank 2; sources stop at 1)" in shown
    assert "It was not among the 1 sources sent to the model." in shown
    words = " ".join(shown.split())  # the ranks are a table: cells apart by tabs and spaces
    assert f"Keyword rank {found.ranks.keyword} Meaning rank {found.ranks.semantic} Fused rank 2" \
        in words
    assert "Tried on the spot" in shown
    assert "2 sources: rank 2, would have found it" in shown

    generated: Task[int] = Task(lambda lib, _t: lib.add_check("a proposed question",
                                                           str(other), generated=True), "add")
    with qtbot.waitSignal(generated.finished, timeout=TIMEOUT_MS):
        window.workers.write(generated)
    view = window.checking.open_checks()  # open while the check is kept: it shows up
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=TIMEOUT_MS)
    assert cell(view.table, 0, "Generated") == "generated"
    with qtbot.waitSignal(dialog.check_kept, timeout=TIMEOUT_MS) as kept:
        dialog.keep_button.click()
    assert "Kept as check" in dialog.status.text()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=TIMEOUT_MS)
    assert view.table.item(1, 0).text() == question
    assert view.table.item(1, 1).text().endswith(", page 1")
    assert cell(view.table, 1, "Generated") == ""
    assert view.checks[1][0].id == kept.args[0]
    with Library.open(default_library_dir()) as library:
        [_, (check, place)] = library.checks()
    assert (check.question, place.document_id, place.page) == (question, other, 1)


def keep_checks(qtbot, window: MainWindow) -> None:
    ids = {title: doc(window, title) for title in CHECKS}

    def add(lib: Library, _task: Task[None]) -> None:
        for title, questions in CHECKS.items():
            for question in questions:
                lib.add_check(question, str(ids[title]))

    task: Task[None] = Task(add, "add checks")
    with qtbot.waitSignal(task.finished, timeout=TIMEOUT_MS):
        window.workers.write(task)


def open_checks(qtbot, window: MainWindow) -> ChecksView:
    view = window.checking.open_checks()
    qtbot.waitUntil(lambda: len(view.checks) == 10, timeout=TIMEOUT_MS)
    return view


def run(qtbot, view: ChecksView) -> tuple[object, list[tuple[int, int]]]:
    seen: list[tuple[int, int]] = []
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.run_button.click()
        assert view.task is not None and view.cancel_button.isEnabled()
        view.task.on_progress(lambda value: seen.append(value))
    qtbot.waitUntil(lambda: view.task is None, timeout=TIMEOUT_MS)
    return blocker.args[0], seen


def cell(table, row: int, name: str) -> str:
    columns = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return table.item(row, columns.index(name)).text()


def test_the_checks_view_runs_with_progress_and_compares_two_runs(
        qtbot, open_window, notes: list[Path], fake_ollama: FakeOllama) -> None:
    window = open_with_notes(qtbot, open_window, notes, fake_ollama)
    keep_checks(qtbot, window)
    view = open_checks(qtbot, window)
    assert view.sources.value() == 6  # the library's answer-sources
    assert view.table.rowCount() == 10 and cell(view.table, 0, "hit@1") == ""
    view.sources.setValue(1)

    hybrid, seen = run(qtbot, view)
    assert seen and seen[-1] == (10, 10)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(hybrid.results) == 10  # type: ignore[attr-defined]
    assert view.table.rowCount() == 11  # the checks, then the totals
    rows = {view.table.item(r, 0).text(): r for r in range(10)}
    buoys = rows["yellow buoys"]
    assert cell(view.table, buoys, "Rank") == "1"
    assert all(cell(view.table, buoys, f"hit@{k}") == "✓" for k in (1, 3, 5, 10))
    assert cell(view.table, buoys, "Verdict") == "found"
    # One source asked: two sent, as evidence briefs (the default prompt-sources).
    assert cell(view.table, 10, "Question") == "Total (hybrid, 2 sources sent)"
    assert cell(view.table, 10, "hit@10") == "10/10 (100%)"  # six documents: all in the top ten
    hits_at_1 = sum(cell(view.table, r, "hit@1") == "✓" for r in range(10))
    assert cell(view.table, 10, "hit@1").startswith(f"{hits_at_1}/10")
    assert view.totals.rowCount() == 1

    view.mode.setCurrentText("Keyword")
    keyword, _ = run(qtbot, view)
    assert keyword.mode.value == "keyword"  # type: ignore[attr-defined]
    assert cell(view.table, 10, "Question") == "Total (keyword, 2 sources sent)"
    # Both runs' totals, side by side: before and after.
    assert view.totals.rowCount() == 3  # the two runs, then what the change did
    assert cell(view.totals, 0, "Run") == "1. hybrid, 2 sources sent"
    assert cell(view.totals, 1, "Run") == "2. keyword, 2 sources sent"
    assert cell(view.totals, 0, "hit@10") == "10/10 (100%)"
    assert cell(view.totals, 1, "hit@1").startswith(
        f"{keyword.hits(1)}/10")  # type: ignore[attr-defined]
    assert cell(view.totals, 2, "Run") == "Change, 2 against 1"
    points = 10 * (keyword.hits(1) - hybrid.hits(1))  # type: ignore[attr-defined]
    assert cell(view.totals, 2, "hit@1") == (f"{points:+d} pt" if points else "0 pt")
    assert "Cited" in COLUMNS and cell(view.table, buoys, "Cited") == ""  # no model asked

    view.table.selectRow(buoys)
    assert view.remove_button.isEnabled()
    view.remove_button.click()
    qtbot.waitUntil(lambda: len(view.checks) == 9, timeout=TIMEOUT_MS)
    assert "yellow buoys" not in [c.question for c, _ in view.checks]


def test_cancel_stops_a_run(qtbot, open_window, notes: list[Path],
                            fake_ollama: FakeOllama) -> None:
    window = open_with_notes(qtbot, open_window, notes, fake_ollama)
    keep_checks(qtbot, window)
    view = open_checks(qtbot, window)
    fake_ollama.set_fault(Fault.SLOW_TOKENS)  # each answer takes a while
    fake_ollama.token_delay = 0.05
    view.with_model.setChecked(True)  # each check is answered: whether it cites the place
    seen: list[tuple[int, int]] = []

    def on_progress(value: tuple[int, int]) -> None:
        seen.append(value)
        view.cancel_button.click()

    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.run_button.click()
        assert view.task is not None
        view.task.on_progress(on_progress)
    cancelled = blocker.args[0]
    qtbot.waitUntil(lambda: view.task is None, timeout=TIMEOUT_MS)
    assert seen and len(cancelled.results) < 10
    assert cancelled.model == "llama3.2:3b"
    assert view.status.text().startswith(f"Cancelled: {len(cancelled.results)} of 10")
    assert view.totals.rowCount() == 0  # a cancelled run is not kept for comparison
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()
    answered = [r for r in cancelled.results if r.diagnosis.cited is not None]
    assert answered  # the checks that ran were answered by the model


def test_a_follow_up_shows_its_ranks_as_typed_and_as_rewritten_off_the_gui_thread(
        qtbot, open_window, notes: list[Path], fake_ollama: FakeOllama,
        monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    diagnose_in_core = diagnosing.diagnose_turn

    def recording(library: Library, *args: object, **kwargs: object) -> Diagnosis:
        threads.append(threading.current_thread().name)
        return diagnose_in_core(library, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(diagnosing, "diagnose_turn", recording)
    window = open_with_notes(qtbot, open_window, notes, fake_ollama)
    ask_and_wait(qtbot, window, QUESTION)
    ask_and_wait(qtbot, window, "and for how many months?")
    dialog = open_diagnosis(qtbot, window)
    assert dialog.turn_number == 2
    found = diagnose(qtbot, dialog, doc(window, "Battery manual"))
    assert threads and all(name.startswith("folio-reader") for name in threads)
    assert found.asked_ranks is not None and found.searched != found.question
    shown = plain(dialog.findings.text())
    assert "as rewritten" in shown and "as typed" in shown
    assert f"The follow-up was searched as “{found.searched}”." in shown
    # A check runs alone, without the conversation: it keeps the self-contained question.
    with qtbot.waitSignal(dialog.check_kept, timeout=TIMEOUT_MS):
        dialog.keep_button.click()
    with Library.open(default_library_dir()) as library:
        [(check, _)] = library.checks()
    assert check.question == found.searched
