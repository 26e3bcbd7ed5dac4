"""Diagnosis of one passage, and other embedding models tried on the spot (core/diagnosing.py).

A real library of six notes and the Harbour Notes Markdown (several passages on its one page),
and the test Ollama server, which serves an embedding model besides the chat model: its vectors
are hashed words (tests/ollama_server.py), so its ranks differ from the bundled model's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core import diagnosing, diagnosis
from core.answer_types import AnswerDone
from core.cli import main
from core.errors import FolioError
from core.library import Library
from tests.core.test_search import TOPICS
from tests.fixtures.docs import MARKDOWN_TITLE, make_markdown
from tests.ollama_server import FakeOllama

BUOYS = "Which channel has red buoys on its port side?"
EMBEDDER = "ollama:nomic-embed-text"


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama(models=["llama3.2:3b", "nomic-embed-text"]) as fake:
        yield fake


@pytest.fixture
def notes(library: Library, docs_dir: Path, server: FakeOllama) -> Library:
    for name, text in TOPICS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    make_markdown(docs_dir)
    library.add([docs_dir])
    library.set_setting("ollama-host", server.host)
    # One source asked is one sent, so a place ranked 2nd was not retrieved (factual).
    library.set_setting("prompt-sources", "passages")
    return library


def doc(library: Library, title: str) -> int:
    return next(d.id for d in library.documents() if d.title == title)


def passages_of(library: Library, document_id: int) -> list[tuple[int, str]]:
    return [(int(i), str(t)) for i, t in library.db.execute(
        "SELECT id, text FROM passages WHERE document_id = ? ORDER BY ordinal", (document_id,))]


def test_a_passage_place_is_ranked_alone(notes: Library) -> None:
    harbour = doc(notes, MARKDOWN_TITLE)
    passages = passages_of(notes, harbour)
    assert len(passages) >= 3
    buoys = next(pid for pid, text in passages if "frumbleset" in text)
    other = next(pid for pid, text in passages if "buoy" not in text.lower()
                 and "channel" not in text.lower() and "port" not in text.lower())
    found = diagnosing.diagnose_question(notes, BUOYS, f"passage:{buoys}", k=1)
    assert found.place == diagnosis.Place(harbour, MARKDOWN_TITLE, 1, buoys)
    assert found.place.described == f"passage {buoys} on page 1 of '{MARKDOWN_TITLE}'"
    assert (found.verdict, found.ranks.keyword, found.source_number) == ("found", 1, 1)
    # The document holds the answer; the other passage of it does not: judged alone, it is
    # not the place that answers.
    whole = diagnosing.diagnose_question(notes, BUOYS, str(harbour), k=1)
    assert whole.verdict == "found"
    alone = diagnosing.diagnose_question(notes, BUOYS, f"{harbour}:1#{other}", k=1)
    assert alone.place.passage == other and alone.ranks.keyword is None
    assert alone.verdict == "factual" and alone.source_number is None
    assert alone.sentence.startswith(f"The right place (passage {other} on page 1 of "
                                     f"'{MARKDOWN_TITLE}') was not retrieved")
    # A passage with neither the words nor the meaning of the question does not say it.
    [(tax_passage, _)] = passages_of(notes, doc(notes, "Household admin"))
    tax = diagnosing.diagnose_question(notes, "Which channel has red buoys?",
                                       f"passage:{tax_passage}", k=1)
    assert tax.verdict == "absent" and tax.sentence.endswith(
        "does not match the question: it may not say it.")


def test_passage_places_are_read_in_each_form_and_wrong_ones_refused(notes: Library) -> None:
    harbour = doc(notes, MARKDOWN_TITLE)
    [(first, _), *_] = passages_of(notes, harbour)
    expected = diagnosis.Place(harbour, MARKDOWN_TITLE, 1, first)
    for expect in (f"passage:{first}", f"{harbour}#{first}", f"{harbour}:1#{first}",
                   f" PASSAGE:{first} "):
        assert diagnosing.place(notes, expect) == expected
    assert diagnosing.place(notes, str(harbour)) == notes.place(str(harbour))
    battery = doc(notes, "Battery manual")
    with pytest.raises(FolioError, match=f"Passage {first} is in '{MARKDOWN_TITLE}', not in "
                                         "'Battery manual'"):
        diagnosing.place(notes, f"{battery}#{first}")
    with pytest.raises(FolioError, match="is not a passage id"):
        diagnosing.place(notes, "passage:first")
    with pytest.raises(FolioError, match="No passage 99999"):
        diagnosing.place(notes, "passage:99999")
    assert diagnosing.expect_of(harbour, 1, first) == f"{harbour}:1#{first}"


def test_a_passage_that_was_sent_is_found_as_its_source(notes: Library) -> None:
    for event in notes.ask(BUOYS, k=3):
        if isinstance(event, AnswerDone):
            answer = event.answer
    assert answer.conversation_id is not None
    first = answer.sources[0].hit.passage_id
    found = diagnosing.diagnose_turn(notes, answer.conversation_id, 1, f"passage:{first}")
    assert (found.verdict, found.source_number, found.cited) == ("found", 1, True)
    second = answer.sources[1].hit.passage_id
    found = diagnosing.diagnose_turn(notes, answer.conversation_id, 1, f"passage:{second}")
    assert found.source_number == 2  # the test server cites [1] and [2]
    with pytest.raises(FolioError, match="no turn 2"):
        diagnosing.diagnose_turn(notes, answer.conversation_id, 2, f"passage:{first}")


FACTUAL = "pruning roses and kneading dough"  # two notes answer it: one is past a cut of 1


def brute_force_rank(library: Library, server: FakeOllama, question: str,
                     passages: set[int]) -> int:
    """The place's rank if every passage were embedded with the other model."""
    embedder = library.engine.embedder(EMBEDDER, server.host)
    rows = [(int(i), f"{c}\n{t}") for i, c, t in library.db.execute(
        "SELECT id, context, text FROM passages ORDER BY id")]
    vectors = embedder.embed_passages([text for _, text in rows])
    assert vectors is not None
    query = embedder.embed_query(question)
    cosines = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)) @ (
        query / np.linalg.norm(query))
    order = [rows[i][0] for i in np.argsort(-cosines, kind="stable")]
    return next(n for n, pid in enumerate(order, start=1) if pid in passages)


def test_another_embedding_model_is_tried_on_the_spot(notes: Library, server: FakeOllama,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    second = notes.search(FACTUAL, k=2).hits[1].document_id
    assert [name for name, _ in diagnosing.other_embedders(notes)] == [EMBEDDER]
    found = diagnosing.diagnose_question(notes, FACTUAL, str(second), k=1)
    assert found.verdict == "factual"
    tried = {t.setting: t for t in found.trials}
    meaning = tried[f"{EMBEDDER}, meaning search only"]
    hybrid = tried[f"{EMBEDDER}, hybrid search"]
    total = len(notes.db.execute("SELECT id FROM passages").fetchall())
    assert meaning.note == f"ranked among all {total} passages of the library"
    place = set(n for n, in notes.db.execute("SELECT id FROM passages WHERE document_id = ?",
                                             (second,)))
    assert meaning.rank == brute_force_rank(notes, server, FACTUAL, place)
    assert meaning.finds_it == (meaning.rank == 1) and hybrid.rank is not None
    embedded = [r for r in server.embed_requests if r["model"] == "nomic-embed-text"]
    assert embedded  # the question and the candidates, embedded by the other model

    # Among fewer candidates than the library holds, the rank is an estimate and says so.
    monkeypatch.setattr(diagnosis, "POOL", 2)
    found = diagnosing.diagnose_question(notes, FACTUAL, str(second), k=1)
    estimate = {t.setting: t for t in found.trials}[f"{EMBEDDER}, meaning search only"]
    assert estimate.note.startswith("estimated among ") and "not the whole library" in estimate.note
    assert estimate.rank is not None and estimate.rank <= meaning.rank  # at best as good

    without = diagnosing.diagnose_question(notes, FACTUAL, str(second), k=1, try_models=False)
    assert not any(t.setting.startswith(EMBEDDER) for t in without.trials)


def test_no_other_model_is_tried_when_none_is_installed(library: Library, docs_dir: Path,
                                                        fake_ollama: FakeOllama) -> None:
    for name, text in TOPICS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    library.add([docs_dir])
    library.set_setting("ollama-host", fake_ollama.host)  # a chat model only
    library.set_setting("prompt-sources", "passages")  # one source asked, one sent
    assert diagnosing.other_embedders(library) == []
    second = library.search(FACTUAL, k=2).hits[1].document_id
    found = diagnosing.diagnose_question(library, FACTUAL, str(second), k=1)
    assert found.verdict == "factual" and len(found.trials) == 3


def test_folio_diagnose_takes_a_passage_and_shows_the_other_models_trial(
        notes: Library, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--library", str(notes.root)]
    harbour = doc(notes, MARKDOWN_TITLE)
    buoys = next(pid for pid, text in passages_of(notes, harbour) if "frumbleset" in text)
    capsys.readouterr()
    assert main(["diagnose", "--question", BUOYS, "--expect", f"passage:{buoys}", "--json",
                 *root]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["place"]["passage"] == buoys and data["verdict"] == "found"
    second = notes.search(FACTUAL, k=2).hits[1].document_id
    assert main(["diagnose", "--question", FACTUAL, "--expect", str(second), "-k", "1",
                 *root]) == 0
    out = capsys.readouterr().out
    assert f"tried {EMBEDDER}, meaning search only: rank " in out
    assert "passages of the library)" in out
    assert main(["diagnose", "--question", FACTUAL, "--expect", str(second), "-k", "1",
                 "--no-other-models", *root]) == 0
    assert EMBEDDER not in capsys.readouterr().out
