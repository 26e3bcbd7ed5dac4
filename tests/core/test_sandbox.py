"""The reader child process: a hang, a crash or a memory hog costs one file, then reading goes on."""

from __future__ import annotations

import os
import signal
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


@pytest.fixture(scope="module")
def slow_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,096 pages: seconds to read, longer than a 1 s limit."""
    path = tmp_path_factory.mktemp("slow") / "slow.pdf"
    doc = pymupdf.open()
    doc.new_page(width=300, height=300).insert_text((20, 40), "A page of the keeper's log.")
    while doc.page_count < 3000:  # doubling: quick to make, as slow to read as any 3,000 pages
        doc.insert_pdf(pymupdf.open("pdf", doc.tobytes()))
    doc.save(path)
    doc.close()
    return path


def test_a_file_over_the_time_limit_fails_and_the_next_is_read(
        library: Library, slow_pdf: Path, docs_dir: Path) -> None:
    library.set_setting("reader-timeout-s", "1")
    note = fx.make_markdown(docs_dir)
    start = time.perf_counter()
    outcomes = library.add([slow_pdf, note])
    assert time.perf_counter() - start < 30
    assert [o.status for o in outcomes] == [AddStatus.FAILED, AddStatus.ADDED]
    assert outcomes[0].reason is not None and "longer than 1 s" in outcomes[0].reason
    failed = next(d for d in library.documents() if d.title == "slow.pdf")
    assert failed.error_kind == FailureKind.TIMEOUT.value
    assert library.check().ok


def test_a_reader_that_dies_costs_one_file(slow_pdf: Path, docs_dir: Path) -> None:
    reader = ReaderProcess(Limits(timeout_s=60, memory_mb=2048))
    try:
        note = fx.make_markdown(docs_dir)
        assert reader.read(note, "markdown", "notes").paragraphs  # starts the child
        process = reader._process
        assert process is not None and process.pid is not None
        errors: list[IngestError] = []

        def read_slow() -> None:
            try:
                reader.read(slow_pdf, "pdf", "slow")
            except IngestError as exc:
                errors.append(exc)

        thread = threading.Thread(target=read_slow)
        thread.start()
        time.sleep(0.5)
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
    import sys

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
