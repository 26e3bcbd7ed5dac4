"""The saved copies of the indexes beside library.db: the next process maps them instead of
reading the library again, patches in what was written since, and never uses another
library's or another epoch's copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core import indexes
from core.engine import Engine
from core.library import Library
from core.paths import VECTOR_INDEX_SUFFIX
from core.search import SearchMode
from core.store import changes
from core.store.connection import write_transaction
from tests.core.test_engine import QUERY, write_topics
from tests.core.test_search import TOPICS


def ranking(library: Library, query: str, mode: SearchMode) -> list[tuple[str, int]]:
    return [(h.title, h.passage_id) for h in library.search(query, mode=mode, k=10).hits]


def saved_vectors(root: Path) -> Path:
    return root / f"library.db{VECTOR_INDEX_SUFFIX}"


def test_the_next_process_maps_the_saved_vector_index_and_ranks_the_same(
        tmp_path: Path, engine: Engine) -> None:
    root = tmp_path / "lib"
    with Library.open(root, engine) as library:
        library.add(write_topics(tmp_path / "docs", ["bread.md", "garden.md", "moorings.md"]))
        first = ranking(library, QUERY, SearchMode.SEMANTIC)
        assert library.indexes.vector_loads == 1 and saved_vectors(root).exists()
    with Engine() as next_process, Library.open(root, next_process) as library:
        assert ranking(library, QUERY, SearchMode.SEMANTIC) == first
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (0, 1)
        assert first[0][0] == "Harbour guide"


def fillers(folder: Path, count: int) -> list[Path]:
    """count short notes on other subjects, so that a change or two is a small share."""
    folder.mkdir(exist_ok=True)
    subjects = ["violin strings", "tax forms", "bicycle chains", "tomato seedlings", "kiln glazes"]
    paths = []
    for n in range(count):
        path = folder / f"note-{n}.md"
        path.write_text(f"# Note {n} of {folder.name}\n\nOn {subjects[n % len(subjects)]}, entry {n}: "
                        f"check it every {n + 2} days.", encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound on changes over a saved copy without its 10,000-passage floor, so that a
    library of a hundred passages crosses it (5%) as a big one would."""
    monkeypatch.setattr(indexes, "SAVE_AGAIN_AT_LEAST", 0)


def test_a_saved_copy_is_patched_with_what_was_written_after_it(
        tmp_path: Path, engine: Engine, small_bound: None) -> None:
    root = tmp_path / "lib"
    docs = tmp_path / "docs"
    with Library.open(root, engine) as library:
        library.add(write_topics(docs, [n for n in TOPICS if n != "moorings.md"])
                    + fillers(tmp_path / "notes", 60))
        library.search(QUERY, mode=SearchMode.SEMANTIC)  # saved here, without the harbour
    with Engine() as writer_process, Library.open(root, writer_process) as writer:
        writer.add(write_topics(docs, ["moorings.md"]))  # no search: the copy stays behind
        writer.remove(str(next(d.id for d in writer.documents() if d.title == "Pet care")))
    with Engine() as next_process, Library.open(root, next_process) as library:
        titles = [t for t, _ in ranking(library, QUERY, SearchMode.SEMANTIC)]
        assert titles[0] == "Harbour guide" and "Pet care" not in titles
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (0, 1)
    with Engine() as writer_process, Library.open(root, writer_process) as writer:
        writer.add(fillers(tmp_path / "more", 10))  # more than 5% of the saved copy since
    with Engine() as next_process, Library.open(root, next_process) as library:
        assert ranking(library, QUERY, SearchMode.SEMANTIC)[0][0] == "Harbour guide"
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (1, 1)
    with Engine() as next_process, Library.open(root, next_process) as library:
        assert ranking(library, QUERY, SearchMode.SEMANTIC)[0][0] == "Harbour guide"
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (0, 1)


def test_another_epoch_another_library_or_a_damaged_copy_is_not_used(
        tmp_path: Path, engine: Engine) -> None:
    root = tmp_path / "lib"
    other = tmp_path / "other"
    docs = tmp_path / "docs"
    with Library.open(root, engine) as library:
        library.add(write_topics(docs, ["bread.md", "moorings.md"]))
        expected = ranking(library, QUERY, SearchMode.SEMANTIC)
        with write_transaction(library.db):
            changes.bump_epoch(library.db)  # as a new embedding model or a repair does
    with Engine() as next_process, Library.open(root, next_process) as library:
        assert ranking(library, QUERY, SearchMode.SEMANTIC) == expected
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (1, 0)

    with Library.open(other, engine) as library:  # another library, its copy put beside root's
        library.add(write_topics(tmp_path / "docs2", ["garden.md"]))
        library.search(QUERY, mode=SearchMode.SEMANTIC)
    shutil.copy(saved_vectors(other), saved_vectors(root))
    with Engine() as next_process, Library.open(root, next_process) as library:
        assert ranking(library, QUERY, SearchMode.SEMANTIC) == expected
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (1, 0)

    saved_vectors(root).write_bytes(saved_vectors(root).read_bytes()[:1000])  # cut short
    with Engine() as next_process, Library.open(root, next_process) as library:
        assert ranking(library, QUERY, SearchMode.SEMANTIC) == expected
        assert (library.indexes.vector_loads, library.indexes.vector_file_loads) == (1, 0)
    assert saved_vectors(root).stat().st_size > 1000  # written whole again


def test_float_vectors_patched_in_are_bounded_by_saving_again(
        tmp_path: Path, engine: Engine, small_bound: None) -> None:
    """A long-running app that keeps adding: the float vectors of passages added since the
    saved copy are held in memory only up to 5% of the index, then the index is saved anew."""
    root = tmp_path / "lib"
    with Library.open(root, engine) as library:
        library.add(fillers(tmp_path / "notes", 80))
        library.search(QUERY, mode=SearchMode.SEMANTIC)
    with Engine() as app, Library.open(root, app) as library:
        library.search(QUERY, mode=SearchMode.SEMANTIC)  # the saved copy, mapped
        library.add(fillers(tmp_path / "first", 2))
        library.search(QUERY, mode=SearchMode.SEMANTIC)
        index = library.indexes.vectors(library.db)
        assert index.floats_patched_in == 2 and library.indexes.vector_loads == 0
        library.add(write_topics(tmp_path / "docs", ["moorings.md"]) + fillers(
            tmp_path / "second", 2))
        assert ranking(library, QUERY, SearchMode.SEMANTIC)[0][0] == "Harbour guide"
        index = library.indexes.vectors(library.db)
        assert library.indexes.vector_loads == 1 and index.floats_patched_in == 0
        library.remove(str(next(d.id for d in library.documents() if d.title == "Harbour guide")))
        assert "Harbour guide" not in [t for t, _ in ranking(library, QUERY, SearchMode.SEMANTIC)]


def test_the_saved_vector_copy_is_private(tmp_path: Path, engine: Engine) -> None:
    import os
    if os.name != "posix":
        return
    root = tmp_path / "lib"
    with Library.open(root, engine) as library:
        library.add(write_topics(tmp_path / "docs", ["bread.md"]))
        library.search(QUERY, mode=SearchMode.SEMANTIC)
    assert saved_vectors(root).stat().st_mode & 0o777 == 0o600
    saved_vectors(root).chmod(0o644)
    with Library.open(root, engine) as library:
        library.prepare()  # the writer's housekeeping tightens what it finds loose
    assert saved_vectors(root).stat().st_mode & 0o777 == 0o600
