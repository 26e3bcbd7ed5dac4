"""One Engine per process: connections to one library file share its indexes, which follow
what any connection or process writes by the change log; opening a library writes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.engine import Engine
from core.library import Library
from core.search import SearchMode
from core.store import changes, vectors
from core.store.connection import connect, write_transaction
from tests.core.test_search import TOPICS

QUERY = "Where can guests tie up their yacht overnight, and what is the fee?"


def write_topics(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for name in names:
        (folder / name).write_text(TOPICS[name], encoding="utf-8")
        paths.append(folder / name)
    return paths


def titles(library: Library, query: str, mode: SearchMode) -> list[str]:
    return [h.title for h in library.search(query, mode=mode, k=10).hits]


def test_connections_of_one_engine_share_the_indexes_and_follow_each_others_writes(
        tmp_path: Path, engine: Engine) -> None:
    docs = tmp_path / "docs"
    root = tmp_path / "lib"
    with Library.open(root, engine) as writer, Library.open(root, engine) as reader:
        writer.add(write_topics(docs, ["bread.md", "garden.md", "battery.md", "taxes.md"]))
        assert "Harbour guide" not in titles(reader, QUERY, SearchMode.HYBRID)
        loads = (reader.indexes.vector_loads, reader.indexes.keyword_loads)
        assert loads == (1, 1)
        writer.add(write_topics(docs, ["moorings.md"]))
        # the reader's next search sees the new document: patched from the log, not reloaded
        assert titles(reader, QUERY, SearchMode.SEMANTIC)[0] == "Harbour guide"
        assert titles(reader, "breakwater", SearchMode.KEYWORD) == ["Harbour guide"]
        assert (reader.indexes.vector_loads, reader.indexes.keyword_loads) == loads
        with Library.open(root, engine) as third:  # a new reader thread's Library
            assert third.indexes is reader.indexes
            assert titles(third, "breakwater", SearchMode.KEYWORD) == ["Harbour guide"]
        writer.remove(str(next(d.id for d in writer.documents() if d.title == "Harbour guide")))
        assert "Harbour guide" not in titles(reader, QUERY, SearchMode.HYBRID)
        assert reader.indexes.vector_loads == 1


def test_another_process_writes_are_seen_through_the_log(tmp_path: Path, engine: Engine) -> None:
    """Another Engine is another process: its writes reach this one's indexes."""
    docs = tmp_path / "docs"
    root = tmp_path / "lib"
    with Library.open(root, engine) as mine:
        mine.add(write_topics(docs, ["bread.md", "garden.md", "cats.md"]))
        assert "Harbour guide" not in titles(mine, QUERY, SearchMode.SEMANTIC)
        with Engine() as other_process, Library.open(root, other_process) as theirs:
            theirs.add(write_topics(docs, ["moorings.md"]))
        assert titles(mine, QUERY, SearchMode.SEMANTIC)[0] == "Harbour guide"
        assert titles(mine, "breakwater", SearchMode.KEYWORD) == ["Harbour guide"]
        assert mine.indexes.vector_loads == 1


def test_an_index_older_than_the_trimmed_log_or_epoch_is_built_anew(
        tmp_path: Path, engine: Engine) -> None:
    docs = tmp_path / "docs"
    root = tmp_path / "lib"
    with Library.open(root, engine) as library:
        library.add(write_topics(docs, ["bread.md", "garden.md"]))
        assert titles(library, "roses", SearchMode.HYBRID)[0] == "Garden diary"  # both loaded
        library.add(write_topics(docs, ["moorings.md", "cats.md"]))
        with write_transaction(library.db):
            changes.trim(library.db, keep=1)  # one of the two entries since the index's position
        assert changes.position(library.db).oldest > 2
        assert titles(library, "breakwater", SearchMode.KEYWORD) == ["Harbour guide"]
        assert titles(library, QUERY, SearchMode.SEMANTIC)[0] == "Harbour guide"
        assert (library.indexes.vector_loads, library.indexes.keyword_loads) == (2, 2)
        with write_transaction(library.db):
            changes.bump_epoch(library.db)
        assert titles(library, QUERY, SearchMode.SEMANTIC)[0] == "Harbour guide"
        assert library.indexes.vector_loads == 3


def test_searches_on_reader_threads_while_the_writer_adds_stay_consistent(
        tmp_path: Path, engine: Engine) -> None:
    docs = tmp_path / "docs"
    root = tmp_path / "lib"
    names = list(TOPICS)
    with Library.open(root, engine) as writer:
        writer.add(write_topics(docs, names[:2]))
    problems: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        with Library.open(root, engine) as reader:
            while not done.is_set():
                try:
                    for hit in reader.search("warranty roses bread moorings", k=20).hits:
                        assert hit.title and hit.text
                except BaseException as exc:
                    problems.append(exc)
                    return

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    with Library.open(root, engine) as writer:
        for name in names[2:]:
            writer.add(write_topics(docs, [name]))
        writer.remove(str(writer.documents()[0].id))
        done.set()
        for thread in threads:
            thread.join(30)
        assert not problems
        found = {h.title for h in writer.search("warranty roses bread moorings taxes cats",
                                                 mode=SearchMode.KEYWORD, k=50).hits}
        assert found == {d.title for d in writer.documents()}
        # the shared index holds exactly the stored vectors
        index = writer.indexes.vectors(writer.db)
        stored = vectors.every(writer.db, index.dim)
        assert np.array_equal(index.ids, stored.ids) and np.array_equal(index.vectors, stored.int8)
        assert index.exact is not None and stored.floats is not None
        assert np.array_equal(index.exact.of(stored.ids), stored.floats)


def test_opening_an_up_to_date_library_writes_nothing(tmp_path: Path, engine: Engine) -> None:
    root = tmp_path / "lib"
    with Library.open(root, engine) as library:
        library.add(write_topics(tmp_path / "docs", ["bread.md"]))
    watcher = connect(root / "library.db")
    before = watcher.data_version()
    watcher.execute("SELECT count(*) FROM documents").fetchall()
    with Library.open(root, engine) as reader:
        assert reader.search("dough", mode=SearchMode.KEYWORD).hits
    watcher.execute("SELECT count(*) FROM documents").fetchall()
    assert watcher.data_version() == before  # nobody committed anything
    watcher.close()


@pytest.mark.parametrize("element", ["float", "int8"])
def test_vectors_load_from_vec0_chunks_as_they_read_one_by_one(
        tmp_path: Path, engine: Engine, element: str) -> None:
    """float: the table of every library made since float storage; int8: one made before."""
    db = connect(tmp_path / "v.db")
    vectors.create_table(db, 16)
    if element == "int8":  # as migration 7 made it
        db.execute("DROP TABLE passage_vectors")
        db.execute("CREATE VIRTUAL TABLE passage_vectors USING vec0("
                   "passage_id INTEGER PRIMARY KEY, embedding int8[16])")
    assert vectors.element_type(db) == element and vectors.width(db) == 16
    rng = np.random.default_rng(3)
    floats = rng.normal(size=(2500, 16)).astype(np.float32)
    with write_transaction(db):
        vectors.insert(db, list(range(1, 2501)), floats)
        vectors.delete(db, [1, 2, 1024, 1025, 2500])
    loaded = vectors.every(db, 16)
    assert len(loaded.ids) == 2495 and loaded.ids[0] == 3
    stored = loaded.floats if element == "float" else loaded.int8
    assert stored is not None
    by_row = db.execute("SELECT passage_id, embedding FROM passage_vectors ORDER BY passage_id")
    for (pid, blob), got_id, got in zip(by_row, loaded.ids, stored, strict=True):
        assert pid == got_id and blob == got.tobytes()
    if element == "float":
        assert np.array_equal(loaded.floats, floats[loaded.ids - 1])  # exactly as given
    else:
        assert loaded.floats is None
    # int8 keeps each vector's direction (cosine to the float vector)
    back = loaded.int8.astype(np.float32)
    kept = floats[loaded.ids - 1]
    cosine = (back * kept).sum(1) / np.linalg.norm(back, axis=1) / np.linalg.norm(kept, axis=1)
    assert cosine.min() > 0.999
    some = vectors.some(db, [3, 4, 2500], 16)
    assert some.ids.tolist() == [3, 4] and np.array_equal(some.int8, loaded.int8[:2])
    db.close()


@pytest.mark.parametrize("scope_titles", [["Garden diary"], ["Garden diary", "Harbour guide"]])
def test_a_scoped_meaning_search_ranks_only_the_scope(
        tmp_path: Path, engine: Engine, scope_titles: list[str]) -> None:
    with Library.open(tmp_path / "lib", engine) as library:
        library.add(write_topics(tmp_path / "docs", list(TOPICS)))
        scope = [d.id for d in library.documents() if d.title in scope_titles]
        hits = library.search(QUERY, mode=SearchMode.SEMANTIC, k=10, scope=scope).hits
        assert {h.title for h in hits} == set(scope_titles)
