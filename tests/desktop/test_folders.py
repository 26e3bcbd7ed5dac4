"""Watched folders in the app: a dropped folder kept in sync, the live watch, nothing lost.

Real window, real Library, real files in tmp_path, a real QFileSystemWatcher; what is asserted
is what the user sees (the library list, the watched folders' states, the transcript).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from core.library import Library
from core.paths import default_library_dir
from desktop.folders_view import UNAVAILABLE, unwatch_box
from desktop.main_window import MainWindow
from tests.desktop.conftest import (
    INGEST_TIMEOUT_MS,
    WindowFactory,
    ask_and_wait,
    drop,
)
from tests.fixtures.docs import make_broken_pdf
from tests.ollama_server import FakeOllama

SYNC_TIMEOUT_MS = 30_000  # debounce, files settling (2 s), the retry, then indexing


def note(folder: Path, name: str, title: str, body: str, age_s: float = 10.0) -> Path:
    """A Markdown note; age_s sets its mtime that far back (a file copied with its time, so
    no sync waits for it to settle), 0 leaves it just written."""
    path = folder / name
    path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def keep_in_sync(qtbot: QtBot, window: MainWindow, folder: Path, titles: list[str]) -> None:
    """Drop folder on the window, answer "Keep in sync", wait until its documents are listed."""
    drop(window, [folder])
    dialog = window.folder_sync.dialog
    assert dialog is not None and dialog.isVisible()
    assert f"“{folder.name}”" in dialog_text(dialog)
    dialog.keep_button.click()
    panel = window.library_panel
    qtbot.waitUntil(lambda: all(t in panel.visible_titles() for t in titles),
                    timeout=INGEST_TIMEOUT_MS)
    qtbot.waitUntil(lambda: (panel.folders.state_of(folder.name) or "").startswith(
        f"{len(titles)} file"), timeout=SYNC_TIMEOUT_MS)


def dialog_text(dialog: QWidget) -> str:
    return " ".join(label.text() for label in dialog.findChildren(QLabel))


def settled(window: MainWindow) -> bool:
    """No sync running or coming: the app is at rest."""
    return not window.folder_sync.syncing and not window.folder_sync.timers_active


def test_drop_keep_in_sync_watches_and_indexes(qtbot: QtBot, open_window: WindowFactory,
                                               tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Harbour"
    (folder / "logs").mkdir(parents=True)
    note(folder, "tides.md", "Tide Tables", "High water at the harbour mouth comes at noon.")
    note(folder / "logs", "lamp.md", "Lamp Log", "The lamp burned colza oil in 1850.")
    note(folder, ".hidden.md", "Hidden", "Never indexed.")
    note(folder, "~$draft.md", "Lock", "Never indexed.")

    drop(window, [folder])
    dialog = window.folder_sync.dialog
    assert dialog is not None and dialog.isVisible()
    assert "Add “Harbour” to the library" in dialog_text(dialog)
    assert dialog.keep_button.text() == "Keep in sync" and dialog.once_button.text() == "Add once"
    dialog.keep_button.click()

    panel = window.library_panel
    qtbot.waitUntil(lambda: {"Tide Tables", "Lamp Log"} <= set(panel.visible_titles()),
                    timeout=INGEST_TIMEOUT_MS)
    assert "Hidden" not in panel.visible_titles() and "Lock" not in panel.visible_titles()
    qtbot.waitUntil(lambda: panel.folders.isVisible()
                    and (panel.folders.state_of("Harbour") or "").startswith("2 files · synced"),
                    timeout=SYNC_TIMEOUT_MS)
    assert str(folder) in (panel.folders.tooltip_of("Harbour") or "")
    with Library.open(default_library_dir()) as library:  # what the CLI would see
        assert [f.path for f in library.folders()] == [str(folder)]
    # The watch covers the subfolder; at rest no timer runs (no CPU when idle).
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)
    assert str(folder / "logs") in window.folder_sync.watcher.directories()
    assert window.folder_sync.timers_active == []


def test_escape_cancels_the_drop_of_a_folder(qtbot: QtBot, open_window: WindowFactory,
                                             tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Notes"
    folder.mkdir()
    note(folder, "a.md", "Alpha", "Some text about alpha.")
    drop(window, [folder])
    dialog = window.folder_sync.dialog
    assert dialog is not None
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.folder_sync.dialog is None, timeout=5_000)
    qtbot.wait(300)
    assert window.documents == [] and not window.ingest.running
    assert window.library_panel.folders.isHidden()


def test_a_file_copied_into_a_watched_folder_appears_and_answers(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path,
        fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    folder = tmp_path / "Watched"
    folder.mkdir()
    note(folder, "first.md", "Tide Tables", "High water at the harbour mouth comes at noon.")
    keep_in_sync(qtbot, window, folder, ["Tide Tables"])
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)

    # Copied in while the app runs, just written (so the first sync finds it still settling):
    # no user action from here on.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    source = note(elsewhere, "quill.md", "Quillhaven Keeper's Log",
                  "The Quillhaven lamp burned zephyrine oil, brought by the brig Marigold "
                  "every second Tuesday.", age_s=0)
    shutil.copy(source, folder / "quill.md")

    panel = window.library_panel
    qtbot.waitUntil(lambda: "Quillhaven Keeper's Log" in panel.visible_titles(),
                    timeout=SYNC_TIMEOUT_MS)
    assert panel.status_of("Quillhaven Keeper's Log") == "Indexed"
    answer = ask_and_wait(qtbot, window, "What oil did the Quillhaven lamp burn?")
    assert "Quillhaven Keeper's Log" in {c.title for c in answer.citations}
    assert "Quillhaven Keeper's Log" in window.chat.transcript.toPlainText()


def test_renaming_a_file_in_a_watched_folder_keeps_its_document(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Watched"
    (folder / "sub").mkdir(parents=True)
    old = note(folder, "tides.md", "Tide Tables", "High water at the harbour mouth is at noon.")
    keep_in_sync(qtbot, window, folder, ["Tide Tables"])
    [doc] = window.documents
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)

    new = folder / "sub" / "renamed-tides.md"
    old.rename(new)  # moved into a subfolder and renamed

    qtbot.waitUntil(lambda: [d.original_path for d in window.documents] == [str(new)],
                    timeout=SYNC_TIMEOUT_MS)
    [after] = window.documents
    assert after.id == doc.id  # the same document: re-pointed, not re-read
    assert window.library_panel.visible_titles() == ["Tide Tables"]
    assert str(new) in (window.library_panel.tooltip_of("Tide Tables", 0) or "")


def test_a_file_edited_in_place_is_replaced(qtbot: QtBot, open_window: WindowFactory,
                                            tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Watched"
    folder.mkdir()
    path = note(folder, "tides.md", "Tide Tables", "High water at the harbour mouth is at noon.")
    keep_in_sync(qtbot, window, folder, ["Tide Tables"])
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)
    with open(path, "w", encoding="utf-8") as handle:  # written in place, not replaced
        handle.write("# Tide Tables, Revised\n\nHigh water now comes at one o'clock.\n")
    qtbot.waitUntil(lambda: window.library_panel.visible_titles() == ["Tide Tables, Revised"],
                    timeout=SYNC_TIMEOUT_MS)
    assert len(window.documents) == 1


def test_a_file_that_fails_in_a_sync_shows_as_failed(qtbot: QtBot, open_window: WindowFactory,
                                                     tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Watched"
    folder.mkdir()
    note(folder, "tides.md", "Tide Tables", "High water at the harbour mouth is at noon.")
    keep_in_sync(qtbot, window, folder, ["Tide Tables"])
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)
    broken = make_broken_pdf(tmp_path)
    then = time.time() - 10
    os.utime(broken, (then, then))
    shutil.copy2(broken, folder / "broken.pdf")
    panel = window.library_panel
    qtbot.waitUntil(lambda: "Failed" in [panel.status_of(t) for t in panel.visible_titles()],
                    timeout=SYNC_TIMEOUT_MS)
    assert panel.status_of("Tide Tables") == "Indexed"
    # the row turns Failed as the file's outcome arrives; the sync's summary follows when the
    # whole sync has ended (until then the line still shows the first sync's "1 added")
    qtbot.waitUntil(lambda: "1 failed" in window.statusBar().currentMessage(),
                    timeout=SYNC_TIMEOUT_MS)


def test_stop_watching_asks_whether_to_keep_the_documents(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    for label, keep in (("Keep the documents", True), ("Remove the documents", False),
                        ("Cancel", None)):
        box = unwatch_box(parent, "/data/Notes")
        assert "“Notes”" in box.text()
        [button] = [b for b in box.buttons() if b.text().replace("&", "") == label]
        button.click()
        assert box.property("keep") == keep


def test_a_folder_renamed_away_shows_unavailable_and_keeps_its_documents(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Drive"
    folder.mkdir()
    note(folder, "a.md", "Alpha Notes", "Alpha is the first letter.")
    note(folder, "b.md", "Beta Notes", "Beta is the second letter.")
    keep_in_sync(qtbot, window, folder, ["Alpha Notes", "Beta Notes"])
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)

    away = tmp_path / "Drive-unplugged"
    folder.rename(away)  # as an unplugged drive looks

    view = window.library_panel.folders
    qtbot.waitUntil(lambda: view.state_of("Drive") == UNAVAILABLE, timeout=SYNC_TIMEOUT_MS)
    assert "not there" in (view.tooltip_of("Drive") or "")
    assert sorted(window.library_panel.visible_titles()) == ["Alpha Notes", "Beta Notes"]
    assert "periodic" in window.folder_sync.timers_active  # looked at again, slowly

    away.rename(folder)  # plugged back in: seen by the watch of its parent
    qtbot.waitUntil(lambda: (view.state_of("Drive") or "").startswith("2 files"),
                    timeout=SYNC_TIMEOUT_MS)
    assert sorted(window.library_panel.visible_titles()) == ["Alpha Notes", "Beta Notes"]


def test_sync_now_from_the_folders_menu(qtbot: QtBot, open_window: WindowFactory,
                                       tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Notes"
    folder.mkdir()
    note(folder, "a.md", "Alpha Notes", "Alpha is the first letter.")
    keep_in_sync(qtbot, window, folder, ["Alpha Notes"])
    qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)
    menu = window.library_panel.folders.context_menu(str(folder))
    assert [a.text() for a in menu.actions()] == ["Sync now", "Stop watching…",
                                                  "Show in the file manager"]
    with qtbot.waitSignal(window.folder_sync.synced, timeout=SYNC_TIMEOUT_MS) as blocker:
        menu.actions()[0].trigger()
    assert blocker.args[0].unchanged == 1 and not blocker.args[0].changed


def test_stop_watching_keeps_or_removes_the_documents(qtbot: QtBot, open_window: WindowFactory,
                                                      tmp_path: Path) -> None:
    window = open_window()
    kept, dropped = tmp_path / "Kept", tmp_path / "Dropped"
    for folder, title in ((kept, "Alpha Notes"), (dropped, "Beta Notes")):
        folder.mkdir()
        note(folder, f"{folder.name}.md", title, f"{title} are about letters.")
        keep_in_sync(qtbot, window, folder, [title])
        qtbot.waitUntil(lambda: settled(window), timeout=SYNC_TIMEOUT_MS)
    view = window.library_panel.folders
    view.unwatch_requested.emit(str(kept), True)  # what the box's "Keep the documents" does
    view.unwatch_requested.emit(str(dropped), False)
    qtbot.waitUntil(lambda: view.isHidden(), timeout=SYNC_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.library_panel.visible_titles() == ["Alpha Notes"],
                    timeout=SYNC_TIMEOUT_MS)
    assert window.folder_sync.watcher.directories() == []


def test_a_conversation_citing_a_removed_document_says_document_removed(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path,
        fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    folder = tmp_path / "Watched"
    folder.mkdir()
    path = note(folder, "quill.md", "Quillhaven Keeper's Log",
                "The Quillhaven lamp burned zephyrine oil, brought by the brig Marigold.")
    keep_in_sync(qtbot, window, folder, ["Quillhaven Keeper's Log"])
    answer = ask_and_wait(qtbot, window, "What oil did the Quillhaven lamp burn?")
    [cited] = [c for c in answer.citations if c.title == "Quillhaven Keeper's Log"][:1]
    assert "document removed" not in window.chat.transcript.toPlainText()

    path.unlink()  # deleted from the watched folder: the sync removes its document
    qtbot.waitUntil(lambda: window.documents == [], timeout=SYNC_TIMEOUT_MS)
    shown = window.chat.transcript
    qtbot.waitUntil(lambda: "document removed" in shown.toPlainText(), timeout=5_000)
    assert answer.text.split(" [")[0][:30] in shown.toPlainText()  # the answer's text stays
    assert f"cite:0-{cited.n}" not in shown.toHtml()  # no dead link to the viewer

    opened: list[object] = []
    window.citation_shown.connect(opened.append)
    window.chat._on_link(QUrl(f"removed:0-{cited.n}"))  # what a click on it does
    assert "document removed" in window.statusBar().currentMessage()
    assert window.chat.click_citation(cited.n)
    qtbot.wait(200)
    assert opened == []


def test_a_drop_of_files_with_a_folder_added_once_is_one_add(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path, docs_dir: Path) -> None:
    window = open_window()
    folder = tmp_path / "Once"
    folder.mkdir()
    note(folder, "a.md", "Alpha Notes", "Alpha is the first letter.")
    loose = note(docs_dir, "b.md", "Beta Notes", "Beta is the second letter.")
    with qtbot.waitSignal(window.ingest_finished, timeout=INGEST_TIMEOUT_MS) as blocker:
        drop(window, [folder, loose])
        dialog = window.folder_sync.dialog
        assert dialog is not None
        dialog.once_button.click()
    assert len(blocker.args[0]) == 2
    qtbot.waitUntil(lambda: sorted(window.library_panel.visible_titles())
                    == ["Alpha Notes", "Beta Notes"], timeout=10_000)
    assert window.library_panel.folders.isHidden()  # nothing watched


def test_the_scan_at_start_catches_what_changed_while_folio_was_closed(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path) -> None:
    folder = tmp_path / "Notes"
    folder.mkdir()
    gone = note(folder, "a.md", "Alpha Notes", "Alpha is the first letter.")
    note(folder, "b.md", "Beta Notes", "Beta is the second letter.")
    with Library.open(default_library_dir()) as library:  # an earlier session, or the CLI
        library.watch_folder(folder)
        library.sync()
    gone.unlink()  # while Folio is closed
    note(folder, "c.md", "Gamma Notes", "Gamma is the third letter.")

    window = open_window()
    qtbot.waitUntil(lambda: sorted(window.library_panel.visible_titles())
                    == ["Beta Notes", "Gamma Notes"], timeout=SYNC_TIMEOUT_MS)
    # The list follows each document written; the folder's count is read again when the sync
    # has ended (CI once read it between the removal and the addition: "1 file")
    qtbot.waitUntil(lambda: (window.library_panel.folders.state_of("Notes") or "").startswith(
        "2 files"), timeout=SYNC_TIMEOUT_MS)


def test_a_folder_watched_from_the_terminal_is_synced_by_the_open_app(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Notes"
    folder.mkdir()
    note(folder, "a.md", "Alpha Notes", "Alpha is the first letter.")
    with Library.open(default_library_dir()) as library:  # folio folders add --no-sync
        library.watch_folder(folder)
    qtbot.waitUntil(lambda: window.library_panel.visible_titles() == ["Alpha Notes"],
                    timeout=SYNC_TIMEOUT_MS)
    qtbot.waitUntil(lambda: str(folder) in window.folder_sync.watcher.directories(),
                    timeout=SYNC_TIMEOUT_MS)


def test_a_big_sync_shows_progress_and_leaves_the_window_responsive(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Many"
    folder.mkdir()
    for n in range(24):
        note(folder, f"note-{n:02}.md", f"Note {n}",
             " ".join(f"Entry {n}.{i}: the keeper logged wind, sea and sky at dawn." for i in
                      range(12)))
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    panel = window.library_panel
    seen_progress: list[str] = []
    panel.progress_bar.valueChanged.connect(
        lambda _v: seen_progress.append(panel.progress_label.text()))
    timer.start()
    keep_in_sync(qtbot, window, folder, [f"Note {n}" for n in range(24)])
    timer.stop()
    assert any("of 24" in line for line in seen_progress)  # the add's progress UI
    assert panel.progress_box.isHidden()
    assert max(gaps) < 1.0, max(gaps)  # the GUI thread never blocked on the sync


def test_cancelling_a_sync_keeps_what_was_synced(qtbot: QtBot, open_window: WindowFactory,
                                                tmp_path: Path) -> None:
    window = open_window()
    folder = tmp_path / "Many"
    folder.mkdir()
    for n in range(40):
        note(folder, f"note-{n:02}.md", f"Note {n}",
             " ".join(f"Entry {n}.{i}: the keeper logged wind, sea and sky." for i in range(30)))
    panel = window.library_panel
    with qtbot.waitSignal(window.folder_sync.synced, timeout=INGEST_TIMEOUT_MS) as blocker:
        drop(window, [folder])
        dialog = window.folder_sync.dialog
        assert dialog is not None
        dialog.keep_button.click()
        qtbot.waitUntil(lambda: panel.progress_box.isVisible()
                        and panel.cancel_button.isEnabled(), timeout=INGEST_TIMEOUT_MS)
        panel.cancel_button.click()
    report = blocker.args[0]
    assert report.cancelled
    assert "cancelled" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: panel.progress_box.isHidden(), timeout=10_000)
    shown = len(window.documents)
    assert shown < 40
    # The next sync finishes the job, without duplicates.
    with qtbot.waitSignal(window.folder_sync.synced, timeout=INGEST_TIMEOUT_MS):
        window.folder_sync.sync()
    qtbot.waitUntil(lambda: len(panel.visible_titles()) == 40, timeout=SYNC_TIMEOUT_MS)
    assert sorted(panel.visible_titles()) == sorted(f"Note {n}" for n in range(40))


def test_when_the_system_refuses_more_watches_the_folder_is_scanned_periodically(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window()
    sync = window.folder_sync
    monkeypatch.setattr(sync.watcher, "addPaths", lambda paths: list(paths))  # none left
    folder = tmp_path / "Notes"
    folder.mkdir()
    note(folder, "a.md", "Alpha Notes", "Alpha is the first letter.")
    keep_in_sync(qtbot, window, folder, ["Alpha Notes"])
    qtbot.waitUntil(lambda: not sync.syncing, timeout=SYNC_TIMEOUT_MS)
    assert sync.timers_active == ["periodic"]
