"""Hostile inputs: every file ends indexed or failed with the expected reason, quickly, and the
library stays consistent (tests/fixtures/hostile.py makes the files)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.library import Library
from core.types import AddOutcome, AddStatus, DocStatus
from tests.fixtures import hostile

LIMIT_S = 30.0


def outcomes_by_name(library: Library, folder: Path, outcomes: list[AddOutcome]) -> dict[str, str]:
    kinds = {d.original_path: d.error_kind for d in library.documents()
             if d.status is DocStatus.FAILED}
    found = {}
    for o in outcomes:
        name = Path(o.path).relative_to(folder).as_posix()
        found[name] = (o.status.value if o.status is not AddStatus.FAILED
                       else kinds.get(o.path) or "failed")
    return found


def assert_expected(found: dict[str, str], expected: dict[str, str]) -> None:
    assert set(found) == set(expected)
    for name, want in expected.items():
        got = found[name]
        if want == hostile.EITHER:
            continue  # accounted for either way; the reason is checked below
        if want == "failed":
            assert got not in ("added", "already present"), name
        elif "|" in want:
            assert got in want.split("|"), f"{name}: {got} (expected {want})"
        else:
            assert got == want, f"{name}: {got} (expected {want})"


def timed_add(library: Library, paths: list[Path], **kwargs: object) -> tuple[list[AddOutcome],
                                                                             list[float]]:
    durations: list[float] = []
    last = time.perf_counter()

    def on_outcome(_: AddOutcome) -> None:
        nonlocal last
        now = time.perf_counter()
        durations.append(now - last)
        last = now

    outcomes = library.add(paths, on_outcome=on_outcome, **kwargs)  # type: ignore[arg-type]
    return outcomes, durations


@pytest.fixture
def guarded(library: Library) -> Library:
    library.set_setting("reader-timeout-s", str(int(LIMIT_S)))
    library.set_setting("reader-memory-mb", "1024")
    return library


def test_hostile_files_are_each_accounted_for(guarded: Library, tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    expected = {**hostile.damaged_pdfs(folder), **hostile.protected_pdfs(folder),
                **hostile.strange_pdfs(folder), **hostile.text_files(folder),
                **hostile.awkward_names(folder), **hostile.folder_traps(folder)}
    before = {p: p.read_bytes() for p in folder.rglob("*")
              if not p.is_symlink() and p.is_file() and p.name != "pipe.txt"}
    outcomes, durations = timed_add(guarded, [folder])
    found = outcomes_by_name(guarded, folder, outcomes)
    assert_expected(found, expected)
    for o in outcomes:
        if o.status is AddStatus.FAILED:
            assert o.reason and len(o.reason) < 300 and "Traceback" not in o.reason
    assert max(durations) < LIMIT_S + 15  # reading within its limit, plus embedding
    report = guarded.check()
    assert report.ok, report.problems
    # The user's files are never modified, moved or deleted.
    assert all(path.read_bytes() == data for path, data in before.items())


def test_passwords_open_each_cipher_and_a_wrong_one_is_a_clear_reason(
        library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    hostile.protected_pdfs(folder)
    locked = sorted(folder.glob("user-*.pdf"))
    asked: list[str] = []

    def right(path: str) -> str:
        asked.append(Path(path).name)
        return hostile.USER_PASSWORD

    outcomes = library.add(locked, password_for=right)
    assert [o.status for o in outcomes] == [AddStatus.ADDED] * 3
    assert asked == [p.name for p in locked]
    hits = library.search("harbour master records ships after dark", k=3).hits
    assert hits and hits[0].title
    other = tmp_path / "other"
    other.mkdir()
    hostile._text_pdf(other / "wrong.pdf", encryption=hostile.ENCRYPTIONS["aes256"],
                      user_pw="right-one")
    wrong = library.add([other / "wrong.pdf"], password_for=lambda _: "not-it")
    assert wrong[0].status is AddStatus.FAILED and wrong[0].reason == (
        "The password for this file is not correct.")
    skipped = library.add([other / "wrong.pdf"], password_for=lambda _: None)
    assert "password-protected" in (skipped[0].reason or "")
    # The password is not kept anywhere in the library file.
    assert b"right-one" not in (library.root / "library.db").read_bytes()
    assert hostile.USER_PASSWORD.encode() not in (library.root / "library.db").read_bytes()


@pytest.mark.slow
def test_huge_inputs(guarded: Library, tmp_path: Path) -> None:
    """A 50 MB one-line Markdown, 5,000 near-empty pages, a page of a million characters."""
    folder = tmp_path / "big"
    folder.mkdir()
    expected = {**hostile.huge_files(folder), **hostile.million_character_page(folder)}
    outcomes, _ = timed_add(guarded, [folder])
    assert_expected(outcomes_by_name(guarded, folder, outcomes), expected)
    assert guarded.check().ok
