"""Crashes, concurrent writers, a read-only library, a full disk: the library stays consistent.

`folio add` is killed with SIGKILL at random moments; each time the library must open, pass
`folio check`, and a later add must finish the job with no duplicates. The default run makes 3
trials; `pytest -m slow` runs the 20 of docs/robustness.md.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core.library import Library
from core.types import DocStatus
from tests.fixtures import docs as fx
from tests.fixtures.hostile import SENTENCES

ROOT = Path(__file__).resolve().parents[2]
FOLIO = [sys.executable, "-m", "core.cli"]


def make_batch(folder: Path, notes: int = 3, paragraphs: int = 240) -> list[Path]:
    """Three long notes and a PDF: about 450 passages, so the add commits in two waves of
    documents (ingest writes after each ~256 passages) besides the guide of the first run."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    paths = []
    for n in range(notes):
        body = "\n\n".join(" ".join(rng.choice(SENTENCES) for _ in range(6)) + f" Note {n}-{i}."
                           for i in range(paragraphs))
        path = folder / f"note-{n}.md"
        path.write_text(f"# Note {n}\n\n{body}", encoding="utf-8")
        paths.append(path)
    paths.append(fx.make_report_pdf(folder).path)
    return paths


def folio(*args: str, timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [*FOLIO, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, **kwargs)
    return done


def assert_consistent(root: Path) -> dict[str, int]:
    result = folio("check", "--json", "--library", str(root))
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"], report
    with Library.open(root) as library:
        docs = library.documents()
    shas = [d.sha256 for d in docs if d.status is DocStatus.INDEXED]
    assert len(shas) == len(set(shas)), "a document was indexed twice"
    assert all(d.passages > 0 for d in docs if d.status is DocStatus.INDEXED)
    return {Path(d.original_path).name: d.passages for d in docs}


def kill_trials(tmp_path: Path, trials: int) -> list[str]:
    """Kill `folio add` at moments spread over a whole run; check the library after each."""
    batch = make_batch(tmp_path / "batch")
    root = tmp_path / "library"
    start = time.perf_counter()
    full = folio("add", str(tmp_path / "batch"), "--library", str(tmp_path / "timing"))
    assert full.returncode == 0, full.stderr
    whole = time.perf_counter() - start
    rng = random.Random(2026)
    moments = []
    for trial in range(trials):
        # Spread over the run (stratified), so kills fall before, between and after commits.
        delay = whole * (trial + rng.random()) / trials
        process = subprocess.Popen([*FOLIO, "add", str(tmp_path / "batch"), "--library",
                                    str(root)], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        indexed = assert_consistent(root) if (root / "library.db").exists() else {}
        moments.append(f"| {trial + 1} | {delay:.1f} | {len(indexed)} | "
                       f"{sum(indexed.values())} | consistent |")
    final = folio("add", str(tmp_path / "batch"), "--library", str(root))
    assert final.returncode == 0, final.stdout + final.stderr
    indexed = assert_consistent(root)
    # The first `folio add` of a library also indexes the built-in guide.
    assert sorted(indexed) == sorted([p.name for p in batch] + ["folio-guide.pdf"])
    moments.append(f"whole run {whole:.1f} s; after the trials one more add completed: "
                   f"{len(indexed)} documents, {sum(indexed.values())} passages, no duplicates")
    return moments


def test_kill_during_add_leaves_a_consistent_library(tmp_path: Path) -> None:
    kill_trials(tmp_path, trials=2)


@pytest.mark.slow
def test_kill_during_add_twenty_times(tmp_path: Path) -> None:
    moments = kill_trials(tmp_path, trials=20)
    print("\n| trial | killed after s | documents in | passages in | folio check |")
    print("|---|---|---|---|---|")
    print("\n".join(moments))


def test_two_writers_and_a_reader_at_once(tmp_path: Path) -> None:
    first = make_batch(tmp_path / "a", notes=2, paragraphs=12)
    second = tmp_path / "b"
    second.mkdir()
    for n in range(4):
        (second / f"other-{n}.md").write_text(f"# Other {n}\n\n{SENTENCES[n % 3]} Other {n}.",
                                              encoding="utf-8")
    root = tmp_path / "library"
    with Library.open(root) as library:
        library.ensure_sample()
        writers = [subprocess.Popen([*FOLIO, "add", str(folder), "--library", str(root)], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for folder in (tmp_path / "a", second)]
        searches = 0
        while any(w.poll() is None for w in writers):
            assert library.search("harbour master", k=5).hits  # the guide is always there
            events = list(library.ask("What does Folio do?", host="http://127.0.0.1:9",
                                      save=False))
            assert events
            searches += 1
        results = [w.communicate() for w in writers]
    assert all(w.returncode == 0 for w in writers), results
    assert searches > 0
    indexed = assert_consistent(root)
    assert {p.name for p in first} | {f"other-{n}.md" for n in range(4)} <= set(indexed)


DROP_PRIVILEGES = """
import os, sys
import core.cli, core.library, core.embedding, core.ingest, core.readers.markdown, fastembed
os.setgid(65534)
os.setuid(65534)  # from here on the library folder is not writable by this process
sys.exit(core.cli.main(sys.argv[1:]))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_read_only_library_gives_a_clear_message(tmp_path: Path) -> None:
    # pytest's base folder is private to root: use one the other user can reach, but not write.
    tmp_path = Path(tempfile.mkdtemp(prefix="folio-read-only-"))
    root = tmp_path / "library"
    with Library.open(root) as library:
        library.ensure_sample()
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nA note.", encoding="utf-8")
    for path in (tmp_path, note):
        path.chmod(0o755)
    added = subprocess.run([sys.executable, "-c", DROP_PRIVILEGES, "add", str(note), "--library",
                            str(root)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    message = added.stdout + added.stderr
    assert added.returncode == 1 and "Traceback" not in message, message
    assert "read-only" in message or "cannot be written" in message or "Cannot open" in message
    assert_consistent(root)
    shutil.rmtree(tmp_path)


def _small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 * 2**20, 3 * 2**20))


def test_a_full_disk_fails_the_file_and_keeps_the_library(tmp_path: Path) -> None:
    root = tmp_path / "library"
    with Library.open(root) as library:
        library.ensure_sample()
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + " ".join(SENTENCES) * 30000, encoding="utf-8")  # ~6 MB
    small = tmp_path / "small.md"
    small.write_text(f"# Small\n\n{SENTENCES[2]}", encoding="utf-8")
    result = folio("add", str(big), str(small), "--library", str(root), preexec_fn=_small_files)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "failed: " + str(big) in result.stdout
    assert "added: " + str(small) in result.stdout
    indexed = assert_consistent(root)
    assert "big.md" not in indexed or indexed["big.md"] == 0
