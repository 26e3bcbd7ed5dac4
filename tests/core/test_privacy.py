"""The library is its owner's alone: folder 0700, library.db and its -wal/-shm 0600 (issue 18,
bug 11), unless keep-permissions says a shared folder stays as the user set it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import main
from core.errors import FolioError
from core.library import Library

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
NOTE = "# Rope care\n\nDry a wet rope before you coil it, or it will rot from the inside.\n"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most desktops have (022): what Folio creates is 0700/0600 all the same."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def db_files(root: Path) -> list[Path]:
    return [root / name for name in ("library.db", "library.db-wal", "library.db-shm")]


def test_a_new_library_is_private(tmp_path: Path, docs_dir: Path) -> None:
    root = tmp_path / "parent" / "library"
    note = docs_dir / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    with Library.open(root) as library:
        [outcome] = library.add([note])
        assert outcome.status.value == "added"
        stored = library.stored_file(library.documents()[0])
        assert stored is not None
        assert all(p.exists() for p in db_files(root))  # WAL and SHM exist while it is open
        assert mode(root) == 0o700
        assert [mode(p) for p in db_files(root)] == [0o600, 0o600, 0o600]
        assert mode(root / "files") == 0o700 and mode(stored.parent) == 0o700
        assert mode(stored) == 0o600


def test_an_existing_librarys_modes_are_tightened_by_the_writer(tmp_path: Path) -> None:
    root = tmp_path / "library"
    with Library.open(root):
        pass
    # As an older Folio left it: readable by every local user.
    root.chmod(0o755)
    for path in db_files(root):
        if path.exists():
            path.chmod(0o644)
    with Library.open(root) as library:
        library.prepare()  # what the app's writer and `folio add` do first
        assert mode(root) == 0o700
        assert all(mode(p) == 0o600 for p in db_files(root) if p.exists())
        assert library.tighten_permissions() == []  # nothing left to change


def test_keep_permissions_leaves_a_shared_folder_as_the_user_set_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "shared"
    lib = ["--library", str(root)]
    assert main(["config", "keep-permissions", "on", *lib]) == 0
    root.chmod(0o2770)  # group-owned on purpose: setgid, the group may read and write
    for path in db_files(root):
        if path.exists():
            path.chmod(0o660)
    with Library.open(root) as library:
        library.prepare()
        assert mode(root) == 0o2770
        assert all(mode(p) == 0o660 for p in db_files(root) if p.exists())
    capsys.readouterr()
    assert main(["config", "keep-permissions", "off", *lib]) == 0  # takes effect at once
    assert mode(root) == 0o2700  # the group bits go; setgid is not Folio's to take away
    assert all(mode(p) == 0o600 for p in db_files(root) if p.exists())


def test_keep_permissions_is_on_or_off(library: Library) -> None:
    with pytest.raises(FolioError, match="keep-permissions must be 'on' or 'off'"):
        library.set_setting("keep-permissions", "yes")
    assert library.settings()["keep-permissions"] == "off"


def test_the_saved_keyword_index_is_private_and_tightened(tmp_path: Path, docs_dir: Path) -> None:
    """library.db.keywords.npz holds every word of the library: 0600 when it is written, and
    brought to 0600 by the writer's housekeeping, as library.db is."""
    root = tmp_path / "library"
    note = docs_dir / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    saved = root / "library.db.keywords.npz"
    with Library.open(root) as library:
        library.add([note])
        assert library.search("rope", mode="keyword").hits  # the index is built and saved
        assert saved.exists() and mode(saved) == 0o600
    saved.chmod(0o644)  # as an older Folio left it
    with Library.open(root) as library:
        library.prepare()
        assert mode(saved) == 0o600
        assert library.tighten_permissions() == []
