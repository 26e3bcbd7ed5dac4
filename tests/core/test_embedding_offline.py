"""Choosing a model that is not downloaded, where it cannot be: the reason at once, not 40 s later."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.embedding import BUNDLED_MODEL, download_problem
from core.errors import EmbeddingModelError
from core.library import Library
from tests.ollama_server import FakeOllama, refused_host

CATALOG_MODEL = "BAAI/bge-small-en-v1.5"


@pytest.fixture(autouse=True)
def empty_model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The models are looked for in the test's own (empty) cache, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def record_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every time.sleep from now on (fastembed's retries call it), still slept."""
    sleeps: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return sleeps


def test_an_unreachable_hub_fails_the_change_at_once_and_keeps_the_model(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 18, bug 8: fastembed retried with sleeps of 3, 9 and 27 s before the error.
    note = tmp_path / "rope.md"
    note.write_text("# Rope\n\nDry a wet rope before you coil it.\n", encoding="utf-8")
    library.add([note])
    monkeypatch.setenv("HF_ENDPOINT", refused_host())  # a real refusal
    sleeps = record_sleeps(monkeypatch)
    started = time.monotonic()
    with pytest.raises(EmbeddingModelError) as caught:
        library.set_embedding_model(CATALOG_MODEL)
    assert [s for s in sleeps if s >= 1] == []  # fastembed's retries sleep 3, 9 and 27 s
    assert time.monotonic() - started < 30  # and no other wait took their place (a busy machine)
    message = str(caught.value)
    assert message.startswith(f"'{CATALOG_MODEL}' is not on this computer yet (a ")
    assert "MB download) and cannot be downloaded now: 127.0.0.1 refused the connection." in message
    assert "the library keeps its current model" in message
    assert library.embedding_model == BUNDLED_MODEL
    assert library.search("rope", mode="semantic").hits  # the old vectors still answer


def test_downloads_turned_off_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_problem() == "downloads are turned off (HF_HUB_OFFLINE is set)"


def test_a_hub_that_answers_is_no_problem(fake_ollama: FakeOllama,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Any HTTP answer (here a local server's) means a download can be tried.
    monkeypatch.setenv("HF_ENDPOINT", fake_ollama.host)
    assert download_problem() is None
