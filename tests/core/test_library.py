"""The library: atomic adds, dedupe and replace, failures recorded, cancel and remove leave no trace."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from core.engine import Engine
from core.library import Library
from core.store import queries
from core.store import vectors as store_vectors
from core.types import AddProgress, AddStatus, DocStatus, FailureKind

NOTES = """# Harbour notes

## Tides

The harbour master posts the tide table every Monday. Boats with a deep keel must wait for
high water before they leave the inner basin.

## Moorings

Visitor moorings are the yellow buoys north of the breakwater; they cost twelve euros a night.
"""


def write_notes(directory: Path, name: str = "notes.md", text: str = NOTES) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(library: Library) -> dict[str, object]:
    """Everything a user could observe of the library's contents."""
    db = library.db
    return {
        "documents": [(d.title, d.status, d.sha256, d.passages) for d in library.documents()],
        "passages": queries.count_rows(db, "passages"),
        "rects": queries.count_rows(db, "passage_rects"),
        "fts": db.execute("SELECT count(*) FROM passages_fts").fetchone(),
        "vectors": store_vectors.count(db),
        "files": sorted(p.name for p in (library.root / "files").rglob("*") if p.is_file()),
    }


def assert_consistent(library: Library) -> None:
    db = library.db
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)")
    passages = queries.count_rows(db, "passages")
    assert store_vectors.count(db) == passages
    orphans = db.execute(
        f"SELECT count(*) FROM {store_vectors.TABLE} WHERE passage_id NOT IN "
        "(SELECT id FROM passages)").fetchone()
    assert orphans == (0,)
    for doc in library.documents():
        if doc.status is DocStatus.INDEXED:
            stored = library.stored_file(doc)
            assert stored is not None and stored.exists()
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == doc.sha256


def test_markdown_is_copied_split_embedded_and_indexed(library: Library, docs_dir: Path) -> None:
    path = write_notes(docs_dir)
    [outcome] = library.add([path])
    assert outcome.status is AddStatus.ADDED and outcome.passages == 2
    [doc] = library.documents()
    assert (doc.title, doc.doc_type, doc.pages, doc.status) == (
        "Harbour notes", "markdown", 1, DocStatus.INDEXED)
    assert doc.original_path == str(path)
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert library.stored_file(doc) == library.root / "files" / doc.sha256[:2] / f"{doc.sha256}.md"
    rows = library.db.execute(
        "SELECT id, heading_path, context, text, char_start, char_end FROM passages "
        "ORDER BY ordinal").fetchall()
    assert [r[1] for r in rows] == ["Harbour notes › Tides", "Harbour notes › Moorings"]
    assert rows[1][2] == "Harbour notes › Moorings"
    source = path.read_text(encoding="utf-8")
    assert source[rows[1][4]:rows[1][5]].startswith("Visitor moorings are the yellow buoys")
    # the FTS index finds the passage by a word of its text and by its section name
    hits = library.db.execute(
        "SELECT rowid FROM passages_fts WHERE passages_fts MATCH 'breakwater'").fetchall()
    assert hits == [(rows[1][0],)]
    # the stored vector is the embedding of header + text
    expected = library.embedder.embed_passages([f"{rows[1][2]}\n{rows[1][3]}"])
    assert expected is not None
    stored = library.vector_of_passage(rows[1][0])
    assert stored is not None and float(np.dot(stored, expected[0])) > 0.999
    assert_consistent(library)


def test_same_bytes_twice_adds_nothing(library: Library, docs_dir: Path) -> None:
    first = write_notes(docs_dir)
    copy = write_notes(docs_dir, "copy-of-notes.md")
    library.add([first])
    before = snapshot(library)
    outcomes = library.add([first, copy])
    assert [o.status for o in outcomes] == [AddStatus.PRESENT, AddStatus.PRESENT]
    assert snapshot(library) == before


def test_changed_file_at_same_path_replaces_old_version(library: Library, docs_dir: Path) -> None:
    path = write_notes(docs_dir)
    library.add([path])
    [old] = library.documents()
    old_file = library.stored_file(old)
    write_notes(docs_dir, text=NOTES.replace("twelve euros", "fifteen euros"))
    [outcome] = library.add([path])
    assert outcome.status is AddStatus.REPLACED
    [new] = library.documents()
    assert new.sha256 != old.sha256 and new.original_path == old.original_path
    texts = [r[0] for r in library.db.execute("SELECT text FROM passages")]
    assert any("fifteen euros" in t for t in texts) and not any("twelve" in t for t in texts)
    assert old_file is not None and not old_file.exists()
    assert_consistent(library)


def test_bad_files_fail_with_reasons_and_never_stop_the_batch(
        library: Library, docs_dir: Path) -> None:
    good = write_notes(docs_dir)
    empty = docs_dir / "empty.md"
    empty.write_bytes(b"")
    binary = docs_dir / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    unsupported = docs_dir / "photo.jpg"
    unsupported.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    blank = docs_dir / "blank.txt"
    blank.write_text("\n\n   \n", encoding="utf-8")
    missing = docs_dir / "gone.pdf"
    outcomes = library.add([empty, missing, binary, unsupported, blank, good])
    status = {Path(o.path).name: (o.status, o.reason) for o in outcomes}
    assert status["notes.md"][0] is AddStatus.ADDED
    assert status["empty.md"] == (AddStatus.FAILED, "The file is empty.")
    assert status["gone.pdf"] == (AddStatus.FAILED, "The file was not found.")
    assert status["blob.txt"][0] is AddStatus.FAILED
    assert "not a text file" in str(status["blob.txt"][1])
    assert "Unsupported file type '.jpg'" in str(status["photo.jpg"][1])
    assert status["blank.txt"] == (AddStatus.FAILED, "The file contains no text.")
    kinds = {d.title: d.error_kind for d in library.documents() if d.status is DocStatus.FAILED}
    # gone.pdf is not listed: a path where no file is is no document (issue 18, bug 6)
    assert kinds == {"empty.md": FailureKind.EMPTY,
                     "blob.txt": FailureKind.NOT_TEXT, "photo.jpg": FailureKind.UNSUPPORTED,
                     "blank.txt": FailureKind.NO_TEXT}
    # failed files leave no stored copy behind
    assert len([p for p in (library.root / "files").rglob("*") if p.is_file()]) == 1
    assert_consistent(library)
    # a failure that is later fixed replaces its failure record
    empty.write_text("Now there is a sentence here.", encoding="utf-8")
    [outcome] = library.add([empty])
    assert outcome.status is AddStatus.ADDED
    assert [d.status for d in library.documents() if d.title.startswith("empty")] == [
        DocStatus.INDEXED]


def test_folder_is_walked_and_unsupported_files_inside_are_passed_over(
        library: Library, docs_dir: Path) -> None:
    (docs_dir / "sub").mkdir()
    write_notes(docs_dir / "sub", "a.md")
    (docs_dir / "b.txt").write_text("A plain note about ropes.", encoding="utf-8")
    (docs_dir / "picture.png").write_bytes(b"\x89PNG")
    (docs_dir / ".hidden.md").write_text("secret", encoding="utf-8")
    outcomes = library.add([docs_dir])
    assert sorted(Path(o.path).name for o in outcomes) == ["a.md", "b.txt"]
    assert all(o.status is AddStatus.ADDED for o in outcomes)


def test_cancel_leaves_no_trace_of_the_unfinished_document(
        library: Library, docs_dir: Path) -> None:
    library.add([write_notes(docs_dir, "kept.md")])
    before = snapshot(library)
    long_text = "\n\n".join(f"Paragraph {i}. " + "The tide turns and the gulls cry. " * 20
                            for i in range(120))
    big = write_notes(docs_dir, "big.md", long_text)
    cancel = threading.Event()
    seen: list[AddProgress] = []

    def progress(p: AddProgress) -> None:
        seen.append(p)
        if p.passages_done > 0:
            cancel.set()  # cancel after the first batch was embedded

    [outcome] = library.add([big], progress=progress, cancel=cancel)
    assert outcome.status is AddStatus.CANCELLED
    assert any(0 < p.passages_done < p.passages_total for p in seen)
    assert snapshot(library) == before
    assert not list((library.root / "files").glob(".incoming-*"))
    assert_consistent(library)


def test_remove_deletes_rows_and_stored_copy_but_not_the_users_file(
        library: Library, docs_dir: Path) -> None:
    keep = write_notes(docs_dir, "keep.md")
    gone = write_notes(docs_dir, "gone.md", NOTES.replace("Harbour", "Marina"))
    library.add([keep, gone])
    doc = next(d for d in library.documents() if d.title == "Marina notes")
    stored = library.stored_file(doc)
    assert doc.sha256 is not None
    removed = library.remove(doc.sha256[:8])
    assert removed.id == doc.id
    assert [d.title for d in library.documents()] == ["Harbour notes"]
    assert stored is not None and not stored.exists()
    assert gone.exists()  # the user's own file is never touched
    assert library.db.execute(
        "SELECT count(*) FROM passages WHERE document_id = ?", (doc.id,)).fetchone() == (0,)
    assert_consistent(library)


def test_library_records_the_embedding_model(library: Library) -> None:
    assert library.embedding_model == "folio/all-MiniLM-L6-v2-int8"
    assert library.embedding_dim == 384
    assert queries.get_meta(library.db, "embedding_dim") == "384"


def test_unknown_embedding_model_is_refused_and_nothing_changes(
        library: Library, docs_dir: Path) -> None:
    from core.errors import EmbeddingModelError

    library.add([write_notes(docs_dir)])
    before = snapshot(library)
    with pytest.raises(EmbeddingModelError, match="not an embedding model fastembed knows"):
        library.set_embedding_model("no-such/model")
    assert snapshot(library) == before and library.embedding_model.startswith("folio/")


def test_catalog_model_that_cannot_be_downloaded_is_refused_clearly(
        library: Library, docs_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from core.errors import EmbeddingModelError

    library.add([write_notes(docs_dir)])
    before = snapshot(library)
    monkeypatch.setattr(library.engine, "model_cache", tmp_path / "empty-cache")
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    with pytest.raises(EmbeddingModelError, match=r"cannot be downloaded now.*keeps its current"):
        library.set_embedding_model("BAAI/bge-small-en-v1.5")
    assert snapshot(library) == before


def _refuse(*_args: object, **_kwargs: object) -> None:
    raise OSError("network blocked by the test")


def test_no_network_is_used_while_adding_and_embedding(
        tmp_path: Path, docs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def record(*args: object, **_kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.setattr(socket, "create_connection", record)
    # an Engine of its own: a cold model load, offline
    with Library.open(tmp_path / "offline") as lib:
        outcomes = lib.add([write_notes(docs_dir)])
        assert [o.status for o in outcomes] == [AddStatus.ADDED]
        assert lib.embedder.embed_query("tides").shape == (384,)
    assert attempts == []


def test_the_writer_sweeps_files_a_crash_left_behind(tmp_path: Path, docs_dir: Path,
                                                    engine: Engine) -> None:
    import os
    import time

    root = tmp_path / "lib"
    with Library.open(root, engine) as lib:
        lib.add([write_notes(docs_dir)])
        [doc] = lib.documents()
    files = root / "files"
    stale_tmp = files / ".incoming-abc123"
    stale_orphan = files / "ff" / ("f" * 64 + ".pdf")
    fresh_orphan = files / "ee" / ("e" * 64 + ".pdf")  # maybe another process's, mid-add
    for path in (stale_tmp, stale_orphan, fresh_orphan):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"left over")
    old = time.time() - 2 * 3600
    os.utime(stale_tmp, (old, old))
    os.utime(stale_orphan, (old, old))
    with Library.open(root, engine) as lib:  # a reader's open touches nothing
        assert stale_tmp.exists() and stale_orphan.exists()
        lib.prepare()  # the writer's housekeeping
        stored = lib.stored_file(doc)
        assert stored is not None and stored.exists()
    assert not stale_tmp.exists() and not stale_orphan.exists()
    assert fresh_orphan.exists()


def test_a_removed_documents_id_is_never_given_again(library: Library, docs_dir: Path) -> None:
    first = write_notes(docs_dir, "first.md", "# First\n\nThe first note about gulls.")
    [added] = library.add([first])
    assert added.document_id is not None
    library.remove(str(added.document_id))
    second = write_notes(docs_dir, "second.md", "# Second\n\nThe second note about terns.")
    [again] = library.add([second])
    assert again.document_id == added.document_id + 1  # an old citation cannot open this one
