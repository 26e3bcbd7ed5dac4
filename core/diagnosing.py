"""Diagnosis over a Library: places that name one passage, and other embedding models tried.

`Library.place` reads 'DOC' and 'DOC:PAGE'; here a place may also be one passage, as a search
result names it: 'passage:ID', 'DOC#ID' or 'DOC:PAGE#ID' (the document and page, when given,
must be the passage's). `diagnose_turn` and `diagnose_question` are the diagnosis the CLI
(`folio diagnose`) and the app run, with those places, and with the other embedding models
this machine has (the bundled one, the embedding models installed in the library's Ollama)
tried on the spot for a factual verdict (core/diagnosis.py: an estimate over the fused
candidates; try_models=False leaves them out).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core import diagnosis
from core.embedding import Embedder
from core.errors import FolioError
from core.llm import MODELS_MAX_AGE_S, LlmError
from core.ollama_embedding import PREFIX
from core.store import checks as check_store
from core.types import BUNDLED_MODEL

if TYPE_CHECKING:
    from core.library import Library

MAX_OTHER_MODELS = 2
PASSAGE_PREFIX = "passage:"


def place(library: Library, expect: str) -> diagnosis.Place:
    """The place expect names: 'DOC', 'DOC:PAGE', or one passage ('passage:ID', 'DOC#ID',
    'DOC:PAGE#ID')."""
    text = expect.strip()
    if text.lower().startswith(PASSAGE_PREFIX):
        where, passage_text = "", text[len(PASSAGE_PREFIX):]
    elif "#" in text:
        where, _, passage_text = text.partition("#")
    else:
        return library.place(text)
    if not passage_text.strip().isdigit():
        raise FolioError(f"'{passage_text}' is not a passage id (give passage:ID, DOC#ID or "
                         "DOC:PAGE#ID; `folio search --json` shows passage ids).")
    passage = int(passage_text)
    found = check_store.passage_place(library.db, passage)
    if found is None:
        raise FolioError(f"No passage {passage} in the library.")
    document_id, first, last = found
    doc = library.document(document_id)
    assert doc is not None  # a passage's document is in the library (ON DELETE CASCADE)
    page = first
    if where.strip():
        named = library.place(where)
        if named.document_id != document_id:
            raise FolioError(f"Passage {passage} is in '{doc.title}', not in '{named.title}'.")
        if named.page is not None:
            if not first <= named.page <= last:
                pages = f"page {first}" if first == last else f"pages {first}-{last}"
                raise FolioError(f"Passage {passage} is on {pages} of '{doc.title}', not on "
                                 f"page {named.page}.")
            page = named.page
    return diagnosis.Place(document_id, doc.title, page, passage)


def expect_of(document_id: int, page: int | None = None, passage: int | None = None) -> str:
    """A place in the form `place` reads."""
    where = f"{document_id}:{page}" if page else str(document_id)
    return f"{where}#{passage}" if passage is not None else where


def _same_model(ollama_name: str, library_model: str) -> bool:
    def bare(name: str) -> str:
        return name.removeprefix(PREFIX).removesuffix(":latest")
    return library_model.startswith(PREFIX) and bare(ollama_name) == bare(library_model)


def other_embedders(library: Library) -> list[tuple[str, Embedder]]:
    """Embedding models this machine has besides the library's (at most MAX_OTHER_MODELS):
    the bundled model when the library uses Ollama's, then the embedding models installed in
    the library's Ollama (none when Ollama is away)."""
    current = library.embedding_model
    names = [] if current == BUNDLED_MODEL else [BUNDLED_MODEL]
    try:
        service = library.ollama()
        names += [f"{PREFIX}{m.name}" for m in service.models(MODELS_MAX_AGE_S)
                  if not m.chat and not _same_model(m.name, current)]
        host: str | None = service.host
    except LlmError:
        host = None
    return [(name, library.engine.embedder(name, host)) for name in names[:MAX_OTHER_MODELS]]


def diagnose_turn(library: Library, conversation_id: int, turn: int, expect: str,
                  k: int | None = None, try_models: bool = True) -> diagnosis.Diagnosis:
    """Why turn (1 = the first) of a kept conversation missed the place expect names; a
    passage place, and other embedding models, as this module's docstring says."""
    target = place(library, expect)
    turns = library.turns(conversation_id)
    if not 1 <= turn <= len(turns):
        raise FolioError(f"Conversation {conversation_id} has no turn {turn} "
                         f"({len(turns)} turn(s); `folio conversations` lists them).")
    kept = turns[turn - 1]
    sources = len(kept.sources) if not k and kept.sources else library.sources_sent(k)
    sent: list[int] | None = list(kept.sources) or None
    cited: list[int] | None = [c.passage_id for c in kept.citations]
    known = set(check_store.existing_passages(library.db, [*(sent or []), *(cited or [])]))
    if sent is not None and not known.issuperset(sent):
        sent = cited = None  # re-indexed since: judged by today's ranks (as Library.diagnose)
    found = diagnosis.diagnose(library.searcher(), target, kept.question,
                               kept.standalone_question or kept.question, sources, sent, cited,
                               others=(lambda: other_embedders(library)) if try_models else None)
    if sent is None and kept.sources:
        return dataclasses.replace(found, sentence=found.sentence + " (The documents have "
                                   "changed since this answer: sources as ranked today.)")
    return found


def diagnose_question(library: Library, question: str, expect: str, k: int | None = None,
                      try_models: bool = True) -> diagnosis.Diagnosis:
    """Where the place ranks for question, as a search for an answer would rank it."""
    sources = library.sources_sent(k)
    return diagnosis.diagnose(library.searcher(), place(library, expect), question, question,
                              sources,
                              others=(lambda: other_embedders(library)) if try_models else None)
