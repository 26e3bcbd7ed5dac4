"""Embedding models served by Ollama (`ollama:NAME`): switching there and back re-embeds
atomically, search works with both, and with Ollama down search falls back to keywords and
adding fails cleanly. Against the Ollama-compatible test server (tests/ollama_server.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.errors import EmbeddingModelError
from core.library import Library
from core.search import SearchMode
from core.store import vectors
from core.types import AddStatus, DocStatus
from tests.ollama_server import FakeOllama, Fault

ROOT = Path(__file__).resolve().parents[2]
MODEL = "ollama:nomic-embed-text"
NOTES = {
    "harbour.md": "# Harbour guide\n\nVisitor moorings are the yellow buoys north of the "
                  "breakwater; they cost twelve euros a night.",
    "bread.md": "# Kitchen notes\n\nKnead the dough for ten minutes, then let the dough rise "
                "in a warm place until it has doubled.",
    "garden.md": "# Garden diary\n\nPrune the roses in late winter, cutting each stem above "
                 "an outward-facing bud.",
}


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama(["llama3.2:3b", "nomic-embed-text"]) as fake:
        yield fake


@pytest.fixture
def notes(docs_dir: Path) -> list[Path]:
    paths = []
    for name, text in NOTES.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
        paths.append(docs_dir / name)
    return paths


@pytest.fixture
def on_ollama(library: Library, notes: list[Path], server: FakeOllama) -> Library:
    library.set_setting("ollama-host", server.host)
    library.add(notes)
    assert library.set_embedding_model(MODEL)
    return library


def test_switching_to_an_ollama_model_and_back_reembeds_and_search_works(
        library: Library, notes: list[Path], server: FakeOllama) -> None:
    library.set_setting("ollama-host", server.host)
    library.add(notes)
    passages = library.check().passages
    assert library.set_embedding_model(MODEL)
    assert library.embedding_model == MODEL and library.embedding_dim == 768  # learned
    assert vectors.width(library.db) == 768 and vectors.count(library.db) == passages
    # the model card's prefixes were sent
    documents = [t for r in server.embed_requests for t in r["input"]]
    assert documents and all(t.startswith("search_document: ") for t in documents)
    hits = library.search("yellow buoys breakwater", mode=SearchMode.SEMANTIC).hits
    assert hits[0].title == "Harbour guide"
    assert server.embed_requests[-1]["input"] == ["search_query: yellow buoys breakwater"]
    assert library.check().ok
    # and back to the bundled model
    assert library.set_embedding_model("folio/all-MiniLM-L6-v2-int8")
    assert vectors.width(library.db) == 384
    hits = library.search("where can I tie up a boat", mode=SearchMode.SEMANTIC).hits
    assert hits[0].title == "Harbour guide"
    assert library.check().ok


def test_a_new_document_is_embedded_by_ollama(on_ollama: Library, docs_dir: Path,
                                              server: FakeOllama) -> None:
    (docs_dir / "tides.md").write_text("# Tides\n\nHigh water comes twice a day at the mouth.",
                                       encoding="utf-8")
    before = len(server.embed_requests)
    [outcome] = on_ollama.add([docs_dir / "tides.md"])
    assert outcome.status is AddStatus.ADDED and len(server.embed_requests) > before
    assert on_ollama.search("high water twice", mode=SearchMode.SEMANTIC).hits[0].title == "Tides"


def test_with_ollama_down_search_uses_keywords_and_says_so(on_ollama: Library,
                                                           server: FakeOllama) -> None:
    server.stop()
    for mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
        result = on_ollama.search("dough rise", mode=mode)
        assert result.hits and result.hits[0].title == "Kitchen notes"
        assert result.hits[0].found_by == "keywords"
        assert result.notice is not None and "keywords only" in result.notice
        assert f"Nothing answers at {server.host}" in result.notice


def test_with_ollama_down_adding_fails_cleanly_and_is_tried_again(
        on_ollama: Library, docs_dir: Path, server: FakeOllama) -> None:
    server.set_fault(Fault.SERVER_ERROR)  # Ollama answers, but cannot embed
    for name in ("one.md", "two.md"):
        (docs_dir / name).write_text(f"# {name}\n\nA note about lanterns and {name}.",
                                     encoding="utf-8")
    outcomes = on_ollama.add([docs_dir / "one.md", docs_dir / "two.md"])
    assert [o.status for o in outcomes] == [AddStatus.FAILED, AddStatus.FAILED]
    assert all(o.transient and "once Ollama is back" in (o.reason or "") for o in outcomes)
    titles = {d.title for d in on_ollama.documents()}
    assert "one.md" not in titles and "One" not in titles  # nothing half-added, no failed row
    assert on_ollama.check().ok
    server.set_fault(Fault.NONE)
    again = on_ollama.add([docs_dir / "one.md", docs_dir / "two.md"])
    assert [o.status for o in again] == [AddStatus.ADDED, AddStatus.ADDED]


@pytest.mark.parametrize("fault", [Fault.MODEL_MISSING, Fault.CUT_STREAM, Fault.GARBAGE_LINE])
def test_a_failed_switch_leaves_the_library_as_it_was(
        library: Library, notes: list[Path], server: FakeOllama, fault: Fault) -> None:
    library.set_setting("ollama-host", server.host)
    library.add(notes)
    before = library.vector_of_passage(1)
    server.set_fault(fault)
    with pytest.raises(EmbeddingModelError):
        library.set_embedding_model(MODEL)
    assert library.embedding_model == "folio/all-MiniLM-L6-v2-int8"
    after = library.vector_of_passage(1)
    assert before is not None and after is not None and np.array_equal(before, after)
    assert library.check().ok


def test_a_wrong_dimension_halfway_changes_nothing(library: Library, docs_dir: Path,
                                                   server: FakeOllama) -> None:
    library.set_setting("ollama-host", server.host)
    texts = [f"# Note {n}\n\n" + " ".join(f"Sentence {i} about lighthouses number {n}."
                                          for i in range(80)) for n in range(12)]
    paths = []
    for n, text in enumerate(texts):
        (docs_dir / f"n{n}.md").write_text(text, encoding="utf-8")
        paths.append(docs_dir / f"n{n}.md")
    library.add(paths)
    assert library.check().passages > 32  # more than one /api/embed batch
    calls = len(server.embed_requests)

    def wrong_from_the_third() -> None:  # the probe and the first batch are fine, then not
        while len(server.embed_requests) < calls + 2:
            time.sleep(0.001)
        server.set_fault(Fault.WRONG_DIMENSION)

    trigger = threading.Thread(target=wrong_from_the_third, daemon=True)
    trigger.start()
    with pytest.raises(EmbeddingModelError, match="dimensions"):
        library.set_embedding_model(MODEL)
    trigger.join(5)
    assert library.embedding_model == "folio/all-MiniLM-L6-v2-int8"
    assert vectors.width(library.db) == 384 and library.check().ok


def test_kill_during_a_switch_leaves_the_old_models_vectors(
        tmp_path: Path, notes: list[Path], server: FakeOllama) -> None:
    root = tmp_path / "lib"
    with Library.open(root) as library:
        library.set_setting("ollama-host", server.host)
        library.add(notes)
        passages = library.check().passages
    server.embed_delay = 0.5  # the re-embed takes a while
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "config", "embedding-model", MODEL,
         "--library", str(root)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "FOLIO_HOME": str(tmp_path / "home")})
    deadline = time.monotonic() + 30
    while len(server.embed_requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the probe went through: it is re-embedding now
    process.send_signal(signal.SIGKILL)
    process.communicate()
    with Library.open(root) as library:
        assert library.embedding_model == "folio/all-MiniLM-L6-v2-int8"
        assert vectors.width(library.db) == 384 and vectors.count(library.db) == passages
        assert library.check().ok
        assert library.search("dough", mode=SearchMode.SEMANTIC).hits
        assert all(d.status is DocStatus.INDEXED for d in library.documents())
