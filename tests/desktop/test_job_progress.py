"""The add job's bar never goes back: small files read into one wave count as read, and the
wave's embedding moves all of its files together."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core import ingest
from core.library import Library
from core.types import AddProgress, AddStage, AddStatus
from desktop.library_panel import PROGRESS_STEPS, LibraryPanel, job_fraction
from tests.fixtures.docs import make_report_pdf


def _notes(folder: Path, count: int) -> list[Path]:
    paths = []
    for n in range(count):
        path = folder / f"note-{n}.md"
        body = "\n\n".join(f"## Watch {w}\n\nOn watch {w} of night {n} the keeper trimmed the "
                           f"wick and wrote {w * n} in the log." for w in range(1, 13))
        path.write_text(f"# Night {n}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def test_the_bar_never_goes_back_over_a_job_of_small_files(
        library: Library, docs_dir: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    # Waves of four files each (12 passages a file, embedded in batches of 32), and a paged
    # file inside one wave.
    monkeypatch.setattr(ingest, "WAVE_PASSAGES", 45)
    notes = _notes(docs_dir, 9)
    report = make_report_pdf(docs_dir).path
    seen: list[AddProgress] = []
    outcomes = library.add([*notes[:2], report, *notes[2:]], progress=seen.append)
    assert [o.status for o in outcomes] == [AddStatus.ADDED] * 10, [o.reason for o in outcomes]
    # What the test is about happened: waves of several files, read page by page, embedded.
    assert max(p.files_read - p.files_done for p in seen if p.stage is AddStage.EMBEDDING) >= 3
    assert any(p.pages_total > 1 and p.files_read > p.files_done for p in seen)
    assert len({p.files_done for p in seen}) > 3  # more than one wave

    fractions = [job_fraction(p) for p in seen]
    backwards = [(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(fractions)) if b < a]
    assert backwards == [], [seen[i] for i, _, _ in backwards[:3]]
    assert fractions[-1] == 1.0
    # Embedding a wave moves the bar across all of its files, not one file's share: part way,
    # it is past their reading; at its end, the whole wave is done.
    embedding = [(p, f) for p, f in zip(seen, fractions, strict=True)
                 if p.stage is AddStage.EMBEDDING]
    assert any(p.passages_done < p.passages_total for p, _ in embedding)
    for p, f in embedding:
        read = (p.files_done + 0.2 * (p.files_read - p.files_done)) / len(outcomes)
        assert f > read or p.passages_done == 0
        if p.passages_done == p.passages_total:
            assert f == pytest.approx(p.files_read / len(outcomes))

    panel = LibraryPanel()
    qtbot.addWidget(panel)
    bar: list[int] = []
    for progress in seen:
        panel.set_progress(progress)
        bar.append(panel.progress_bar.value())
    assert all(b >= a for a, b in itertools.pairwise(bar))
    assert bar[-1] == PROGRESS_STEPS
