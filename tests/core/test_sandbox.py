"""The reader child process: a hang, a crash or a memory hog costs one file, then reading goes on."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pymupdf
import pytest

from core.errors import IngestError
from core.library import Library
from core.sandbox import Limits, ReaderProcess
from core.types import AddStatus, FailureKind
from tests.fixtures import docs as fx
from tests.fixtures import slow_pages

# Pages slow inside MuPDF but far from any limit: about 0.05 s each here, so still under 1 s
# with 20 busy processes on 2 cores.
BRISK = (5, 5)


@pytest.fixture(scope="module")
def slow_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,096 pages: a second or more to read, and no page slow."""
    path = tmp_path_factory.mktemp("slow") / "slow.pdf"
    doc = pymupdf.open()
    doc.new_page(width=300, height=300).insert_text((20, 40), "A page of the keeper's log.")
    while doc.page_count < 3000:  # doubling: quick to make, as slow to read as any 3,000 pages
        doc.insert_pdf(pymupdf.open("pdf", doc.tobytes()))
    doc.save(path)
    doc.close()
    return path


def test_a_page_that_hangs_fails_its_file_by_name_and_the_next_is_read(
        library: Library, docs_dir: Path) -> None:
    library.set_setting("reader-page-timeout-s", "3")  # page 2 never ends; 1 s of slack is too
    # little for page 1 (opening the file included) on a busy machine
    hang = slow_pages.make_pdf(docs_dir / "hangs.pdf", 3, {2: slow_pages.HANGS})
    note = fx.make_markdown(docs_dir)
    start = time.perf_counter()
    outcomes = library.add([hang, note])
    assert time.perf_counter() - start < 30
    assert [o.status for o in outcomes] == [AddStatus.FAILED, AddStatus.ADDED]
    assert outcomes[0].reason == (
        "Page 2 took longer than 3 s to read; the file was left out "
        "(`folio config reader-page-timeout-s` changes the limit).")
    failed = next(d for d in library.documents() if d.title == "hangs.pdf")
    assert failed.error_kind == FailureKind.TIMEOUT.value
    assert library.check().ok


def test_a_long_document_is_not_refused_for_its_length(slow_pdf: Path) -> None:
    """4,096 pages take far longer than the whole-file limit (0.05 s: no machine reads them that
    fast), which a paged document does not have: it is judged page by page."""
    reader = ReaderProcess(Limits(timeout_s=0.05, page_timeout_s=10))
    pages: list[tuple[int, int, str]] = []
    try:
        start = time.perf_counter()
        result = reader.read(slow_pdf, "pdf", "slow",
                             on_page=lambda done, total, what: pages.append((done, total, what)))
        assert time.perf_counter() - start > reader.limits.timeout_s
        assert result.page_count == 4096
        assert pages == [(n, 4096, "") for n in range(1, 4097)]
    finally:
        reader.close()


def test_slow_pages_at_a_steady_pace_are_read_past_the_page_limit(tmp_path: Path) -> None:
    """Pages slow inside MuPDF (0.05 s each here, BRISK), enough of them to take three times the
    2 s page limit on this machine as it is now: longer than the limit in all, none near it."""
    reader = ReaderProcess(Limits(page_timeout_s=2))
    seen: list[float] = []
    try:
        probe = slow_pages.make_pdf(tmp_path / "probe.pdf", 8, {n: BRISK for n in range(1, 9)})
        reader.read(probe, "pdf", "probe")  # the child's start and PyMuPDF's import are not timed
        start = time.perf_counter()
        reader.read(probe, "pdf", "probe")
        per_page = (time.perf_counter() - start) / 8
        count = min(1000, max(60, math.ceil(3 * reader.limits.page_timeout_s / per_page)))
        steady = slow_pages.make_pdf(tmp_path / "steady.pdf", count,
                                     {n: BRISK for n in range(1, count + 1)})
        start = time.perf_counter()
        result = reader.read(steady, "pdf", "steady",
                             on_page=lambda *_: seen.append(time.perf_counter()))
        took = time.perf_counter() - start
        assert took > 2, f"the pages were too fast ({took:.1f} s) to show anything"
        assert result.page_count == count and len(seen) == count
        last = f"On morning {count} the keeper counted {count * 7} gulls."
        assert last in [p.text for p in result.paragraphs]
    finally:
        reader.close()


def test_a_file_without_pages_keeps_a_limit_for_the_whole_file(
        library: Library, docs_dir: Path) -> None:
    big = docs_dir / "long-log.md"
    with big.open("w", encoding="utf-8") as out:
        for n in range(40_000):  # 20 MB: about 7 s to read here, seconds on any machine
            out.write(f"## Day {n}\n\n" + "The tide came in late and the gulls followed. " * 10
                      + "\n\n")
    library.set_setting("reader-timeout-s", "1")
    outcomes = library.add([big, fx.make_markdown(docs_dir)])
    assert [o.status for o in outcomes] == [AddStatus.FAILED, AddStatus.ADDED]
    assert outcomes[0].reason == ("Reading the file took longer than 1 s; it was left out "
                                  "(`folio config reader-timeout-s` changes the limit).")


def test_a_reader_that_dies_costs_one_file(slow_pdf: Path, docs_dir: Path) -> None:
    reader = ReaderProcess(Limits(timeout_s=60, memory_mb=2048))
    try:
        note = fx.make_markdown(docs_dir)
        assert reader.read(note, "markdown", "notes").paragraphs  # starts the child
        process = reader._process
        assert process is not None and process.pid is not None
        errors: list[IngestError] = []
        reading = threading.Event()

        def read_slow() -> None:
            try:
                reader.read(slow_pdf, "pdf", "slow", on_page=lambda *_: reading.set())
            except IngestError as exc:
                errors.append(exc)

        thread = threading.Thread(target=read_slow)
        thread.start()
        assert reading.wait(timeout=60)  # killed mid-read however fast the pages go
        os.kill(process.pid, signal.SIGKILL)  # as a segfault inside MuPDF would end it
        thread.join(timeout=30)
        assert errors and errors[0].kind is FailureKind.CRASHED
        assert "crashed" in errors[0].message
        assert reader.read(note, "markdown", "notes").paragraphs  # a new child reads on
    finally:
        reader.close()


def test_a_memory_hog_meets_the_memory_limit(tmp_path: Path) -> None:
    big = tmp_path / "one-line.md"
    with big.open("w", encoding="utf-8") as out:
        for _ in range(30):
            out.write("harbour tide quay sail gull " * 40_000)  # 30 MB on one line
    reader = ReaderProcess(Limits(timeout_s=120, memory_mb=300))
    try:
        with pytest.raises(IngestError) as caught:
            reader.read(big, "markdown", "big")
        assert caught.value.kind is FailureKind.MEMORY
        assert "more than 300 MB" in caught.value.message
    finally:
        reader.close()


def test_a_script_without_a_main_guard_can_add(tmp_path: Path) -> None:
    """`spawn` would re-run the caller's script in the reader; from stdin it could not start."""
    import subprocess

    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe gulls came back in March.", encoding="utf-8")
    script = ("from pathlib import Path\nfrom core.library import Library\n"
              f"lib = Library.open(Path({str(tmp_path / 'lib')!r}))\n"
              f"print([o.status.value for o in lib.add([Path({str(note)!r})])])\n")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                            cwd=root, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['added']"


_PARENT = """
import sys, threading
from pathlib import Path
from core import sandbox
mode, pdf, note = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
# the CPU limit counts one core, whatever this machine has: page 2's budget is 1 x 1 + 2 s
reader = sandbox.ReaderProcess(sandbox.Limits(page_timeout_s=1 if mode == "cpu" else 600),
                               pdeathsig=mode in ("main", "thread"),
                               cpu_cores=1 if mode == "cpu" else None)
if mode == "thread":  # started from a thread that ends: Linux's PDEATHSIG must not fire then
    starter = threading.Thread(target=reader.read, args=(note, "markdown", "note"))
    starter.start()
    starter.join()
else:
    reader.read(note, "markdown", "note")
if mode == "cpu":  # the child has a 1 s page (a 3 s CPU budget); the parent must not judge
    reader.limits = sandbox.Limits(page_timeout_s=600)
print(reader.pid, flush=True)
reader.read(pdf, "pdf", "long", on_page=lambda done, total, what: print(done, flush=True))
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")  # a zombie has stopped; its new parent reaps it when it can


def _kill_parent_mid_read(mode: str, pdf: Path, tmp_path: Path) -> tuple[int, float]:
    """Start a parent that reads pdf in a reader, kill -9 it after page 1: (child pid, seconds
    the child outlived it)."""
    import subprocess
    import sys

    note = fx.make_markdown(tmp_path)
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, mode, str(pdf), str(note)],
                              cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "1"  # page 1 read: the child is in page 2
        time.sleep(0.3)
        assert not _gone(child)
        os.kill(parent.pid, signal.SIGKILL)
        killed = time.perf_counter()
        parent.wait(timeout=10)
        deadline = killed + 60
        while not _gone(child) and time.perf_counter() < deadline:
            time.sleep(0.05)
        return child, time.perf_counter() - killed
    finally:
        if parent.poll() is None:
            parent.kill()
        if "child" in locals() and not _gone(child):  # a failing test leaves no orphan behind
            os.kill(child, signal.SIGKILL)


@pytest.fixture(scope="module")
def hang_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return slow_pages.make_pdf(tmp_path_factory.mktemp("hang") / "hang.pdf", 3,
                               {2: slow_pages.HANGS})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("mode", ["main", "thread"])
def test_the_reader_dies_with_its_parent_even_inside_a_page_that_hangs(
        mode: str, hang_pdf: Path, tmp_path: Path) -> None:
    child, outlived = _kill_parent_mid_read(mode, hang_pdf, tmp_path)
    assert _gone(child) and outlived < 2, f"the reader {child} outlived its parent"


@pytest.mark.skipif(not hasattr(os, "getppid") or sys.platform == "win32", reason="/proc")
def test_without_pdeathsig_the_watchdog_ends_an_orphan_between_pages(tmp_path: Path) -> None:
    """What macOS and Windows rely on: a thread in the child waiting on the parent's sentinel.
    It runs between pages (0.05 s each here), well within the 2 s allowed on a busy machine."""
    steady = slow_pages.make_pdf(tmp_path / "steady.pdf", 400,
                                 {n: BRISK for n in range(1, 401)})
    child, outlived = _kill_parent_mid_read("watchdog", steady, tmp_path)
    assert _gone(child) and outlived < 2, f"the reader {child} outlived its parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_an_orphan_stuck_inside_mupdf_meets_its_cpu_limit(hang_pdf: Path, tmp_path: Path) -> None:
    """No PDEATHSIG, and the watchdog cannot run while MuPDF holds the GIL: RLIMIT_CPU (page
    limit 1 s x 1 core, pinned, + 2 s) ends it."""
    child, outlived = _kill_parent_mid_read("cpu", hang_pdf, tmp_path)
    assert _gone(child), f"the reader {child} still runs a minute after its parent died"
    assert outlived > 1  # it was the CPU limit, not the watchdog
