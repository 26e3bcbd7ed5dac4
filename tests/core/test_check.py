"""`folio check` finds what is inconsistent, and `--repair` rebuilds what can be rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.library import Library
from core.store.vectors import TABLE as VECTORS
from tests.fixtures import docs as fx


@pytest.fixture
def damaged(library: Library, docs_dir: Path) -> Library:
    notes = fx.make_markdown(docs_dir)
    report = fx.make_report_pdf(docs_dir)
    assert all(o.status.value == "added" for o in library.add([notes, report.path]))
    db = library.db
    ids = [r[0] for r in db.execute("SELECT id FROM passages ORDER BY id LIMIT 4")]
    db.execute(f"DELETE FROM {VECTORS} WHERE passage_id IN (?, ?, ?)", ids[:3])
    db.execute("INSERT INTO passages_fts (passages_fts, rowid, context, text) SELECT 'delete', "
               "id, context, text FROM passages WHERE id = ?", (ids[3],))
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("INSERT INTO passage_rects VALUES (999999, 0, 1, 0, 0, 1, 1)")
    db.execute("PRAGMA foreign_keys = ON")
    return library


def test_check_reports_each_problem_and_repair_fixes_them(
        damaged: Library, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--library", str(damaged.root)]
    assert main(["check", "--json", *root]) == 1
    report = json.loads(capsys.readouterr().out)
    kinds = {p["kind"] for p in report["problems"]}
    assert kinds == {"orphan rectangles", "keyword index", "vectors"}
    assert all(p["repairable"] for p in report["problems"])
    assert main(["check", "--repair", *root]) == 0
    out = capsys.readouterr().out
    assert "rebuilt the keyword index" in out and "embedded 3 passage(s)" in out
    assert main(["check", *root]) == 0
    assert "consistent" in capsys.readouterr().out
    # Repaired for real: the passage dropped from the keyword index is found by its words again.
    word = damaged.db.execute("SELECT text FROM passages ORDER BY id LIMIT 1 OFFSET 3").fetchone()
    assert damaged.search(str(word[0])[:60], mode="keyword", k=50).hits


def test_a_missing_stored_file_comes_back_from_the_users_file_or_is_reported(
        library: Library, docs_dir: Path) -> None:
    notes = fx.make_markdown(docs_dir)
    [outcome] = library.add([notes])
    doc = library.document(outcome.document_id or 0)
    assert doc is not None
    stored = library.stored_file(doc)
    assert stored is not None
    stored.unlink()
    report = library.check()
    assert [p.kind for p in report.problems] == ["stored file"]
    assert not report.problems[0].repairable
    repaired = library.check(repair=True)
    assert repaired.ok and stored.exists() and "copied" in repaired.repaired[0]
    stored.write_bytes(b"changed")
    notes.write_bytes(b"the user's file changed too")
    after = library.check(repair=True)
    assert not after.ok and "has changed" in after.problems[0].message
