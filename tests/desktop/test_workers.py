"""One engine per process: readers keep their Library, the app sees other processes' writes,
and closing the window closes every Library."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from core.engine import Engine
from core.library import Library
from desktop.app import make_window
from desktop.app_events import AppEvents
from desktop.tasks import StreamTask, Task
from desktop.workers import WATCH_INTERVAL_S, Workers
from tests.desktop.conftest import (
    STARTUP_TIMEOUT_MS,
    WindowFactory,
    add_and_wait,
    ask_and_wait,
)
from tests.fixtures.docs import make_markdown, make_report_pdf
from tests.ollama_server import FakeOllama, Fault


def test_asking_twice_loads_the_vector_index_once_and_asks_ollama_for_the_model_once(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path,
        fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    first = ask_and_wait(qtbot, window, "What did the zorbicon survey find?")
    second = ask_and_wait(qtbot, window, "What did the brimblewick collecting box pay for?")
    assert first.citations and second.citations  # both answered from the library
    indexes = window.workers.engine.indexes(window.library_root / "library.db")
    assert indexes.vector_loads == 1
    assert len(fake_ollama.requests_to("/api/show")) == 1


def test_a_library_with_documents_is_warmed_at_start_so_the_first_question_does_not_load(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path, folio_home: Path,
        fake_ollama: FakeOllama) -> None:
    with Library.open(folio_home) as cli:  # a library indexed before the app starts
        cli.set_setting("ollama-host", fake_ollama.host)
        cli.add([make_report_pdf(docs_dir).path])
    window = open_window(fake_ollama.host)
    indexes = window.workers.engine.indexes(window.library_root / "library.db")
    qtbot.waitUntil(lambda: indexes.vector_loads == 1 and indexes.keyword_loads == 1,
                    timeout=STARTUP_TIMEOUT_MS)  # no question asked yet
    assert ask_and_wait(qtbot, window, "What did the zorbicon survey find?").citations
    assert (indexes.vector_loads, indexes.keyword_loads) == (1, 1)


def test_a_document_added_by_another_process_appears_in_the_list(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path, folio_home: Path) -> None:
    window = open_window()
    panel = window.library_panel
    assert panel.visible_titles() == []
    loads: list[int] = []
    window.documents_loaded.connect(lambda docs: loads.append(len(docs)))
    with Library.open(folio_home) as cli:  # what `folio add` does while the app is open
        cli.add([make_markdown(docs_dir)])
    qtbot.waitUntil(lambda: panel.visible_titles() == ["Harbour Notes"],
                    timeout=STARTUP_TIMEOUT_MS)
    # Seen once, then quiet: the refresh it caused does not look like another change.
    qtbot.wait(int(4 * WATCH_INTERVAL_S * 1000))
    assert loads == [1]


def test_the_apps_own_add_is_not_announced_again_by_the_watcher(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path) -> None:
    window = open_window()
    announced: list[object] = []
    window.workers._watch_saw.connect(announced.append)  # what the watcher says, only
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    qtbot.wait(int(4 * WATCH_INTERVAL_S * 1000))  # the watcher has looked several times
    assert announced == []  # the add's own Change refreshed the list; the watcher kept quiet
    assert window.library_panel.visible_titles() == ["Harbour Notes"]


def _run(qtbot: QtBot, workers: Workers, task: Task[object]) -> object:
    with qtbot.waitSignal(task.succeeded, timeout=STARTUP_TIMEOUT_MS) as blocker:
        workers.read(task)
    return blocker.args[0]


def test_a_reader_keeps_its_library_across_tasks(qtbot: QtBot, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    workers = Workers(first, AppEvents(), Engine(), readers=2)
    try:
        seen: list[tuple[str, Library]] = []
        for _ in range(8):
            result = _run(qtbot, workers, Task(
                lambda lib, _t: (threading.current_thread().name, lib), "which"))
            assert isinstance(result, tuple)
            seen.append(result)
        by_thread: dict[str, set[int]] = {}
        for name, library in seen:
            by_thread.setdefault(name, set()).add(id(library))
            assert library.root == first
        assert all(len(libraries) == 1 for libraries in by_thread.values()), by_thread
        assert len({id(library) for _, library in seen}) <= 2
        assert workers.open_libraries <= 4  # two readers, the writer (idle: none), the watcher

        workers.set_root(second)  # another library folder: each reader reopens once
        again = _run(qtbot, workers, Task(lambda lib, _t: lib, "which"))
        assert isinstance(again, Library) and again.root == second
    finally:
        assert workers.shutdown()
    assert workers.open_libraries == 0


def test_closing_the_window_while_an_answer_streams_is_quick_and_closes_everything(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path,
        fake_ollama: FakeOllama) -> None:
    fake_ollama.set_fault(Fault.SLOW_TOKENS)
    fake_ollama.token_delay = 0.5
    window = open_window(fake_ollama.host)
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    window.ask("What did the zorbicon survey find?")
    qtbot.waitUntil(lambda: bool(window.chat.turns[-1].text), timeout=STARTUP_TIMEOUT_MS)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 5
    assert window.workers.running_threads == []
    assert window.workers.open_libraries == 0


def test_closing_the_window_closes_every_library(
        qtbot: QtBot, settings_file: Path, folio_home: Path, docs_dir: Path) -> None:
    window = make_window(QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.documents_loaded, timeout=STARTUP_TIMEOUT_MS):
        window.show()
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    ask_and_wait(qtbot, window, "Which side do red buoys mark?")
    assert window.workers.open_libraries >= 2  # the writer and a reader at least
    window.close()
    assert window.workers.open_libraries == 0
    assert window.workers.running_threads == []
    # The last connection to close checkpoints and removes the write-ahead log.
    assert not (folio_home / "library.db-wal").exists()


def test_a_stream_task_yields_in_order_and_stops_when_cancelled(
        qtbot: QtBot, tmp_path: Path) -> None:
    workers = Workers(tmp_path / "library", AppEvents(), Engine(), readers=1)
    try:
        def count(_lib: Library, task: StreamTask[int]) -> Iterator[int]:
            for n in range(1000):
                if task.cancel.is_set():
                    return
                yield n
                time.sleep(0.002)

        got: list[int] = []
        task: StreamTask[int] = StreamTask(count, "count")
        task.on_yielded(got.append)
        task.on_yielded(lambda n: task.cancel.set() if n == 20 else None)
        with qtbot.waitSignal(task.finished, timeout=STARTUP_TIMEOUT_MS):
            workers.read(task)
        assert got[:21] == list(range(21))  # in order, none lost
        assert len(got) < 1000  # the generator saw the cancel
        assert not workers.busy
    finally:
        assert workers.shutdown()
