"""Watched folders: the library follows the files, and loses nothing (core/sync.py).

Every case is real files in tmp_path and a real library: what a user would check is the
library's documents (by path), what search finds, and that nothing was read twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.engine import Engine
from core.errors import FolioError
from core.library import Library
from core.search import SearchMode
from core.types import DocStatus
from tests.fixtures import docs as fx

ROOT = Path(__file__).resolve().parents[2]
AN_HOUR_AGO = time.time() - 3600


def note(folder: Path, name: str, text: str, settled: bool = True) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {Path(name).stem.title()}\n\n{text}\n", encoding="utf-8")
    if settled:  # written a while ago: not "still being written"
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
    return path


def indexed(library: Library) -> dict[str, int]:
    """{original path: passages} of the indexed documents."""
    return {d.original_path: d.passages for d in library.documents()
            if d.status is DocStatus.INDEXED}


@pytest.fixture
def watched(tmp_path: Path, library: Library) -> tuple[Library, Path]:
    docs = tmp_path / "docs"
    note(docs, "tides.md", "High water at the harbour mouth comes twice a day.")
    note(docs, "gulls.md", "Herring gulls nest on the old pier every spring.")
    note(docs, "sub/bread.md", "Knead the dough for ten minutes and let it rise.")
    library.watch_folder(docs)
    report = library.sync()
    assert sorted(map(os.path.basename, report.added)) == ["bread.md", "gulls.md", "tides.md"]
    return library, docs


def test_an_unchanged_folder_is_stat_only(watched: tuple[Library, Path]) -> None:
    library, _ = watched
    before = library.documents()
    report = library.sync()
    assert report.unchanged == 3 and not report.changed and report.passages == 0
    assert library.documents() == before


def test_new_changed_and_deleted_files_are_followed(watched: tuple[Library, Path]) -> None:
    library, docs = watched
    note(docs, "sub/deeper/moorings.md", "Visitor moorings are the yellow buoys.")
    note(docs, "tides.md", "Low water now comes at noon, the tide tables say.")
    (docs / "gulls.md").unlink()
    report = library.sync()
    assert [os.path.basename(p) for p in report.added] == ["moorings.md"]
    assert [os.path.basename(p) for p in report.replaced] == ["tides.md"]
    assert [os.path.basename(p) for p in report.removed] == ["gulls.md"]
    assert sorted(map(os.path.basename, indexed(library))) == ["bread.md", "moorings.md",
                                                               "tides.md"]
    assert library.search("yellow buoys", mode=SearchMode.KEYWORD).hits[0].title == "Moorings"
    assert not library.search("herring", mode=SearchMode.KEYWORD).hits
    [tides] = library.search("noon tide tables", mode=SearchMode.KEYWORD, k=1).hits
    assert "noon" in tides.text  # the new version, not the old


def test_a_rename_or_a_move_keeps_the_document_without_reading_it_again(
        watched: tuple[Library, Path]) -> None:
    library, docs = watched
    ids = {os.path.basename(p): d for p, d in
           ((d.original_path, d.id) for d in library.documents())}
    (docs / "archive").mkdir()
    os.rename(docs / "gulls.md", docs / "archive" / "seabirds.md")  # renamed and moved
    os.rename(docs / "sub" / "bread.md", docs / "bread.md")  # up a level
    report = library.sync()
    assert sorted((os.path.basename(a), os.path.basename(b)) for a, b in report.moved) == [
        ("bread.md", "bread.md"), ("gulls.md", "seabirds.md")]
    assert not report.added and not report.removed and report.passages == 0
    paths = {d.original_path: d.id for d in library.documents()}
    assert paths[str(docs / "archive" / "seabirds.md")] == ids["gulls.md"]
    assert paths[str(docs / "bread.md")] == ids["bread.md"]
    assert library.sync().unchanged == 3


def test_a_file_still_being_written_waits_until_it_settles(
        watched: tuple[Library, Path]) -> None:
    library, docs = watched
    growing = note(docs, "log.md", "The first line of a long note.", settled=False)
    report = library.sync()
    assert report.waiting == [str(growing)] and not report.added
    assert str(growing) not in indexed(library)
    with growing.open("a", encoding="utf-8") as handle:  # still being written...
        handle.write("\nA second line, written a moment later.\n")
    report = library.sync(wait_s=10)  # `folio sync` waits for it to settle
    assert report.added == [str(growing)] and not report.waiting
    assert library.search("second line", mode=SearchMode.KEYWORD).hits[0].title == "Log"


def test_a_folder_that_goes_away_is_unavailable_and_keeps_its_documents(
        watched: tuple[Library, Path]) -> None:
    library, docs = watched
    before = indexed(library)
    away = docs.with_name("unplugged")
    os.rename(docs, away)
    report = library.sync()
    assert [f for f, _ in report.unavailable] == [str(docs)]
    assert not report.removed and indexed(library) == before
    [folder] = library.folders()
    assert not folder.available and "not there" in (folder.problem or "")
    os.rename(away, docs)  # plugged in again
    report = library.sync()
    assert not report.unavailable and report.unchanged == 3 and not report.changed
    assert library.folders()[0].available


def test_an_unreadable_subfolder_keeps_its_documents(watched: tuple[Library, Path]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every folder")
    library, docs = watched
    before = indexed(library)
    (docs / "sub").chmod(0)
    try:
        report = library.sync()
        assert report.unreadable == [str(docs / "sub")]
        assert not report.removed and indexed(library) == before
    finally:
        (docs / "sub").chmod(0o755)


def test_a_symlink_loop_and_temporary_files_are_passed_over(
        watched: tuple[Library, Path]) -> None:
    library, docs = watched
    (docs / "sub" / "loop").symlink_to(docs, target_is_directory=True)
    for name in ("~$report.md", ".~lock.notes.md#", "download.md.part", "x.pdf.crdownload",
                 ".hidden.md"):
        note(docs, name, "Not the user's document.")
    report = library.sync()
    assert not report.added and report.unchanged == 3


def test_overlapping_folders_index_a_file_once(watched: tuple[Library, Path]) -> None:
    library, docs = watched
    library.watch_folder(docs / "sub")
    report = library.sync()
    assert not report.added and report.unchanged == 3
    assert len(indexed(library)) == 3
    # the inner folder goes: its file stays, the outer folder still watches it
    assert library.unwatch_folder(docs / "sub") == []
    assert len(indexed(library)) == 3 and library.sync().unchanged == 3


def test_include_and_exclude_patterns(tmp_path: Path, library: Library) -> None:
    docs = tmp_path / "docs"
    note(docs, "keep.md", "The notes to keep in sync.")
    note(docs, "drafts/draft.md", "A draft to leave out.")
    report = fx.make_report_pdf(docs)
    os.utime(report.path, (AN_HOUR_AGO, AN_HOUR_AGO))
    library.watch_folder(docs, include=["*.md"], exclude=["drafts/*"])
    assert [os.path.basename(p) for p in library.sync().added] == ["keep.md"]


def test_a_failed_read_keeps_the_previous_good_version(watched: tuple[Library, Path]) -> None:
    library, docs = watched
    good = indexed(library)[str(docs / "tides.md")]
    (docs / "tides.md").write_bytes(b"")  # emptied by a crashed editor
    os.utime(docs / "tides.md", (AN_HOUR_AGO + 60, AN_HOUR_AGO + 60))
    report = library.sync()
    assert [(os.path.basename(p), r) for p, r in report.failed] == [("tides.md",
                                                                     "The file is empty.")]
    assert indexed(library)[str(docs / "tides.md")] == good  # still searchable
    assert library.search("harbour mouth", mode=SearchMode.KEYWORD).hits
    failed = [d for d in library.documents() if d.status is DocStatus.FAILED]
    assert [d.error for d in failed] == ["The file is empty."]  # the failure is shown
    assert not library.sync().failed  # not retried until the file changes again


def test_a_watched_folder_must_exist(tmp_path: Path, library: Library) -> None:
    with pytest.raises(FolioError, match="not there"):
        library.watch_folder(tmp_path / "nowhere")


def test_unwatching_removes_the_documents_unless_kept(watched: tuple[Library, Path]) -> None:
    library, docs = watched
    assert library.unwatch_folder(docs, keep_documents=True) == []
    assert len(indexed(library)) == 3 and library.folders() == []
    library.watch_folder(docs)
    assert library.sync().unchanged == 3  # the same bytes: nothing read again
    assert len(library.unwatch_folder(docs)) == 3
    assert indexed(library) == {}
    assert all(p.is_file() for p in docs.rglob("*.md"))  # the user's files are never touched


def test_folio_folders_and_sync_commands(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    note(docs, "tides.md", "High water at the harbour mouth comes twice a day.")
    lib = ["--library", str(tmp_path / "lib")]
    assert main(["folders", "add", str(docs), "--json", *lib]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["added"] == [str(docs / "tides.md")] and first["passages_embedded"] == 1
    note(docs, "gulls.md", "Herring gulls nest on the old pier.")
    os.rename(docs / "tides.md", docs / "high-water.md")
    assert main(["sync", "--json", *lib]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == [str(docs / "gulls.md")]
    assert report["moved"] == [{"from": str(docs / "tides.md"), "to": str(docs / "high-water.md")}]
    assert set(report) >= {"added", "replaced", "removed", "moved", "unchanged", "failed",
                           "passages_embedded"}
    assert main(["folders", "list", "--json", *lib]) == 0
    [folder] = json.loads(capsys.readouterr().out)
    assert (folder["path"], folder["state"], folder["files"]) == (str(docs), "available", 2)
    assert main(["folders", "remove", str(docs), *lib]) == 0
    assert "2 document(s) removed" in capsys.readouterr().out


def test_kill_during_a_sync_then_the_next_sync_finishes_without_duplicates(
        tmp_path: Path, engine: Engine) -> None:
    docs = tmp_path / "docs"
    # ~60 passages a note: the sync commits the first five in one wave (256 passages), then
    # the sixth, so a kill after the first documents are in falls between the two.
    for n in range(6):
        note(docs, f"n{n:02d}.md", " ".join(f"Sentence {i} of note {n} about tides and gulls."
                                           for i in range(1200)))
    root = tmp_path / "lib"
    with Library.open(root, engine) as library:
        library.watch_folder(docs)
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "sync", "--library", str(root)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    with Library.open(root, engine) as library:  # kill it once some documents are in
        while not indexed(library) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
    with Library.open(root, engine) as library:
        assert process.poll() is None, "the sync ended before it could be killed"
        assert len(indexed(library)) < 6  # killed halfway
    process.send_signal(signal.SIGKILL)
    process.communicate()
    with Library.open(root, engine) as library:
        assert library.check().ok
        library.sync()
        docs_in = [d for d in library.documents() if d.status is DocStatus.INDEXED]
        assert sorted(os.path.basename(d.original_path) for d in docs_in) == [
            f"n{n:02d}.md" for n in range(6)]
        assert len({d.sha256 for d in docs_in}) == 6  # none twice
        assert library.sync().unchanged == 6


def test_a_changed_file_keeps_its_document_id(watched: tuple[Library, Path]) -> None:
    """Citations kept in conversations name the document by id: a new version keeps it."""
    library, docs = watched
    before = {d.original_path: d.id for d in library.documents()}
    note(docs, "tides.md", "Low water now comes at noon, the tide tables say.")
    assert library.sync().replaced == [str(docs / "tides.md")]
    after = {d.original_path: d.id for d in library.documents()}
    assert after == before


def test_the_librarys_own_folder_inside_a_watched_folder_is_not_synced(
        tmp_path: Path, engine: Engine) -> None:
    home = tmp_path / "Documents"
    note(home, "tides.md", "High water at the harbour mouth comes twice a day.")
    with Library.open(home / "Folio", engine) as library:  # FOLIO_HOME under ~/Documents
        library.watch_folder(home)
        assert library.sync().added == [str(home / "tides.md")]
        assert (home / "Folio" / "files").is_dir()  # Folio's copy is in there...
        report = library.sync()
        assert not report.added and report.unchanged == 1  # ...and is not a document


def test_a_file_moved_over_another_replaces_that_ones_document(
        watched: tuple[Library, Path]) -> None:
    library, docs = watched
    gulls_id = next(d.id for d in library.documents() if d.original_path.endswith("gulls.md"))
    os.replace(docs / "gulls.md", docs / "tides.md")  # mv gulls.md tides.md
    report = library.sync()
    assert report.moved == [(str(docs / "gulls.md"), str(docs / "tides.md"))]
    [tides] = [d for d in library.documents() if d.original_path == str(docs / "tides.md")]
    assert tides.id == gulls_id and len(indexed(library)) == 2
    assert not library.search("harbour mouth", mode=SearchMode.KEYWORD).hits  # old text gone
    assert library.search("herring gulls", mode=SearchMode.KEYWORD).hits


def test_syncing_one_of_two_nested_folders_syncs_both(watched: tuple[Library, Path]) -> None:
    library, docs = watched
    library.watch_folder(docs / "sub")
    library.sync()
    for _ in range(2):  # the outer one, then the inner one: nothing moves between them
        assert library.sync(only=[docs]).unchanged == 3
        assert library.sync(only=[docs / "sub"]).unchanged == 3
