"""Shared test set-up: every test gets its own library folder through FOLIO_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engine import Engine
from core.library import Library
from tests.ollama_server import FakeOllama


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """One Engine for the test run, as one per process in the app: the embedding model is
    loaded once. Each test's library is its own file, so indexes are never shared between tests."""
    with Engine() as made:
        yield made


@pytest.fixture(autouse=True)
def folio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests never touch the user's data: FOLIO_HOME points into the test's tmp_path."""
    home = tmp_path / "folio-home"
    monkeypatch.setenv("FOLIO_HOME", str(home))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return home


@pytest.fixture
def library(tmp_path: Path, engine: Engine) -> Iterator[Library]:
    lib = Library.open(tmp_path / "library", engine)
    yield lib
    lib.close()


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """An Ollama-compatible server on a free local port (tests/ollama_server.py)."""
    with FakeOllama() as server:
        yield server
