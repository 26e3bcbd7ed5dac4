"""Is a wrong answer's gap factual (retrieval) or behavioural (the model)? Folio checks itself.

For a question and the place that answers it (a document, or a page of one), Folio ranks the
place on both sides of the search and fused, as the question was asked (and as a follow-up was
rewritten), says whether the place was among the sources sent to the model and whether the
answer cited it, and gives the verdict in one sentence:
  - factual: the place was not retrieved (with the settings that would have found it, tried);
  - behavioural: it was a source, but the answer did not use it;
  - absent: the place has no passage that matches the question (the document may not say it);
  - found: it was a source and the answer cited it.
Saved checks (a question and its place) run the same way over a whole list, with hit@k.

A place may be one passage (a search result the person points at): its own ranks are given.
For a factual verdict, other embedding models the machine has are tried on the spot without
re-embedding the library: the question, the fused top POOL candidates and the place's passages
are embedded with the other model and ranked among themselves, an estimate over those
candidates (a passage outside them that the other model would rank higher is not seen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.embedding import Embedder
from core.errors import FolioError
from core.search import DEFAULT_PARAMS, Searcher, SearchMode, SearchParams, fuse
from core.store import checks as store

DEPTH = 1000  # how far down each side a place is looked for
# A place without any of the question's words, and no closer in meaning than this (cosine, the
# bundled MiniLM: unrelated text scores about 0.0-0.2, a page on the topic 0.3 and more), does
# not hold the answer. Other models spread their cosines differently: the same rule, untuned.
ABSENT_COSINE = 0.25
HITS_AT = (1, 3, 5, 10)
POOL = 50  # fused candidates another embedding model's ranks are estimated among
MAX_PLACE_PASSAGES = 50  # of a whole-document place, embedded with another model


@dataclass(frozen=True)
class Place:
    document_id: int
    title: str
    page: int | None = None  # None: anywhere in the document
    passage: int | None = None  # one passage (on page), None: any passage of the page

    @property
    def described(self) -> str:
        if self.passage is not None:
            return f"passage {self.passage} on page {self.page} of '{self.title}'"
        return f"page {self.page} of '{self.title}'" if self.page else f"'{self.title}'"


@dataclass(frozen=True)
class Ranks:
    """The place's best rank on each side and fused (None: not within DEPTH, or not fused)."""

    keyword: int | None
    semantic: int | None
    fused: int | None
    similarity: float | None = None  # the place's best cosine to the question
    # The same ranks counted in documents (a document's passages after its first do not
    # count): what a whole-document place is judged by, as `folio eval` ranks documents.
    by_document: tuple[int | None, int | None, int | None] = (None, None, None)

    def in_mode(self, mode: SearchMode, documents: bool = False) -> int | None:
        keyword, semantic, fused = self.by_document if documents else (
            self.keyword, self.semantic, self.fused)
        return {SearchMode.HYBRID: fused, SearchMode.KEYWORD: keyword,
                SearchMode.SEMANTIC: semantic}[mode]


@dataclass(frozen=True)
class Trial:
    setting: str  # "12 sources", "keyword search only", "meaning search only"
    rank: int | None
    finds_it: bool
    note: str = ""  # how the rank was had, when it is an estimate (another embedding model)


@dataclass(frozen=True)
class Diagnosis:
    question: str
    searched: str  # the question as searched (a follow-up's rewritten form)
    place: Place
    ranks: Ranks  # for `searched`
    asked_ranks: Ranks | None  # for the question as typed, when a rewrite was searched
    sources: int  # sources per answer
    source_number: int | None  # [n] the place was sent as, if it was
    cited: bool | None  # None: no answer to look at
    verdict: str  # "found" | "behavioural" | "factual" | "absent"
    sentence: str
    trials: tuple[Trial, ...] = ()


Ranked = list[tuple[int, float]]


def ranked_lists(searcher: Searcher, query: str, params: SearchParams = DEFAULT_PARAMS
                 ) -> tuple[Ranked, Ranked, list[tuple[int, float, int | None, int | None]]]:
    """(keyword, semantic, fused) for query, each side DEPTH deep, fused as search fuses
    (each side's top params.candidates)."""
    keyword, semantic = searcher.hybrid_sides(query, DEPTH, None, params)
    return keyword, semantic, fuse(keyword[:params.candidates], semantic[:params.candidates],
                                   params)


def ranks_of(searcher: Searcher, query: str, passages: set[int],
             params: SearchParams = DEFAULT_PARAMS) -> Ranks:
    """The best rank of any of passages on each side, and fused as search fuses (each side's
    top params.candidates)."""
    keyword, semantic, fused = ranked_lists(searcher, query, params)
    closest = max((1.0 - d for p, d in semantic if p in passages), default=None)
    lists = ([p for p, _ in keyword], [p for p, _ in semantic], [row[0] for row in fused])
    document_of = store.documents_of_passages(searcher.db, {p for ids in lists for p in ids})
    k, s, f = (_first_document(ids, passages, document_of) for ids in lists)
    return Ranks(_first(lists[0], passages), _first(lists[1], passages),
                 _first(lists[2], passages), closest, (k, s, f))


def _first(ranked: Sequence[int], passages: set[int]) -> int | None:
    return next((rank for rank, pid in enumerate(ranked, start=1) if pid in passages), None)


def _first_document(ranked: Sequence[int], passages: set[int],
                    document_of: dict[int, int]) -> int | None:
    seen: set[int] = set()
    for pid in ranked:
        if pid in passages:
            return len(seen | {document_of.get(pid, -pid)})
        seen.add(document_of.get(pid, -pid))
    return None


def place_passages(searcher: Searcher, place: Place) -> set[int]:
    if place.passage is not None:
        return {place.passage}
    return set(store.passages_of_place(searcher.db, place.document_id, place.page))


def estimate_with(searcher: Searcher, name: str, embedder: Embedder, query: str,
                  passages: set[int], sources: int,
                  params: SearchParams = DEFAULT_PARAMS) -> tuple[Trial, Trial]:
    """The place's meaning and fused ranks if the library were embedded with another model,
    estimated without re-embedding it: the question, the fused top POOL and the place's
    passages are embedded with that model and ranked among themselves (the keyword side is
    the library's own). Raises FolioError when the model cannot embed."""
    keyword, semantic, fused = ranked_lists(searcher, query, params)
    pool = [row[0] for row in fused[:POOL]]
    listed = [pid for pid, _ in [*keyword, *semantic] if pid in passages]
    own = list(dict.fromkeys([*listed, *sorted(passages)]))[:MAX_PLACE_PASSAGES]
    pool += [pid for pid in own if pid not in set(pool)]
    texts = store.embedding_texts(searcher.db, pool)
    pool = [pid for pid in pool if pid in texts]
    question = np.asarray(embedder.embed_query(query), dtype=np.float32)
    vectors = embedder.embed_passages([texts[pid] for pid in pool])
    if vectors is None or not pool:
        raise FolioError(f"{name} gave no vectors.")
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cosines = vectors @ (question / max(float(np.linalg.norm(question)), 1e-12))
    order = np.argsort(-cosines, kind="stable")
    other = [(pool[i], 1.0 - float(cosines[i])) for i in order]
    fused_other = fuse(keyword[:params.candidates], other[:params.candidates], params)
    meaning = _first([pid for pid, _ in other], passages)
    hybrid = _first([row[0] for row in fused_other], passages)
    if len(pool) >= store.passage_count(searcher.db):
        note = f"ranked among all {len(pool)} passages of the library"
    else:
        note = (f"estimated among {len(pool)} candidates (the fused top "
                f"{min(POOL, len(fused))} and the place's passages), not the whole library")
    return (Trial(f"{name}, meaning search only", meaning,
                  meaning is not None and meaning <= sources, note),
            Trial(f"{name}, hybrid search", hybrid, hybrid is not None and hybrid <= sources,
                  note))


def diagnose(searcher: Searcher, place: Place, question: str, searched: str, sources: int,
             sent: Sequence[int] | None = None, cited: Sequence[int] | None = None,
             mode: SearchMode = SearchMode.HYBRID,
             others: Callable[[], Sequence[tuple[str, Embedder]]] | None = None) -> Diagnosis:
    """sent: the passage ids sent to the model, in source order (None: as the ranks say);
    cited: the passage ids the answer cited (None: no answer); others: gives the (name,
    embedder) of other embedding models, called only when the place was not retrieved."""
    passages = place_passages(searcher, place)
    ranks = ranks_of(searcher, searched, passages)
    asked = ranks_of(searcher, question, passages) if searched != question else None
    rank = ranks.in_mode(mode)
    if sent is not None:
        number = next((n for n, pid in enumerate(sent, start=1) if pid in passages), None)
    else:
        number = rank if rank is not None and rank <= sources else None
    was_cited = None if cited is None else any(pid in passages for pid in cited)
    trials: tuple[Trial, ...] = (
        Trial(f"{2 * sources} sources", ranks.fused,
              ranks.fused is not None and ranks.fused <= 2 * sources),
        Trial("keyword search only", ranks.keyword,
              ranks.keyword is not None and ranks.keyword <= sources),
        Trial("meaning search only", ranks.semantic,
              ranks.semantic is not None and ranks.semantic <= sources))
    verdict, sentence = _verdict(place, ranks, sources, number, was_cited, passages, trials)
    if verdict != "factual":
        trials = ()
    for name, embedder in others() if others is not None and verdict == "factual" else ():
        try:
            trials += estimate_with(searcher, name, embedder, searched, passages, sources)
        except (FolioError, OSError) as exc:  # Ollama away, a model that will not load
            trials += (Trial(name, None, False, f"could not be tried: {exc}"),)
    return Diagnosis(question, searched, place, ranks, asked, sources, number, was_cited,
                     verdict, sentence, trials)


def _verdict(place: Place, ranks: Ranks, sources: int, number: int | None, cited: bool | None,
             passages: set[int], trials: Sequence[Trial]) -> tuple[str, str]:
    where = place.described
    if number is not None:
        if cited is False:
            return ("behavioural", f"The right place ({where}) was source [{number}], but the "
                    "answer did not use it: try another model, or compare the extractive answer.")
        if cited:
            return "found", f"The right place ({where}) was source [{number}] and the answer cited it."
        return "found", f"The right place ({where}) was source [{number}]."
    if not passages or (ranks.keyword is None and (ranks.similarity is None
                                                   or ranks.similarity < ABSENT_COSINE)):
        if place.passage is not None:
            return ("absent", f"{where[0].upper()}{where[1:]} does not match the question: "
                    "it may not say it.")
        return ("absent", f"{where[0].upper()}{where[1:]} has no passage that matches the "
                "question: the document may not say it.")
    fused = f"fused rank {ranks.fused}" if ranks.fused else (
        f"outside the {DEFAULT_PARAMS.candidates} candidates of either side")
    sentence = f"The right place ({where}) was not retrieved ({fused}; sources stop at {sources})."
    working = [t for t in trials if t.finds_it]
    if ranks.keyword is not None and ranks.keyword <= sources:
        sentence += f" Its keyword rank was {ranks.keyword}: try keyword mode"
        sentence += ", or more sources per answer." if working[0].setting.endswith(
            "sources") else "."
    elif ranks.semantic is not None and ranks.semantic <= sources:
        sentence += f" Its meaning rank was {ranks.semantic}: try meaning-only search."
    elif working:
        sentence += f" With {working[0].setting} it would have been sent."
    else:
        sentence += (f" Its keyword rank was {ranks.keyword or 'beyond ' + str(DEPTH)} and its "
                     f"meaning rank {ranks.semantic or 'beyond ' + str(DEPTH)}: the question's "
                     "words and meaning are far from the page's; try the document's own words.")
    return "factual", sentence


@dataclass(frozen=True)
class CheckResult:
    check: store.SavedCheck
    place: Place
    rank: int | None  # in the mode run
    diagnosis: Diagnosis

    def hit_at(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k


@dataclass(frozen=True)
class CheckRun:
    mode: SearchMode
    sources: int
    model: str | None
    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    def hits(self, k: int) -> int:
        return sum(r.hit_at(k) for r in self.results)

    def cited(self) -> int | None:
        if self.model is None:
            return None
        return sum(bool(r.diagnosis.cited) for r in self.results)


Answerer = Callable[[str], tuple[list[int], list[int]]]  # question -> (sent ids, cited ids)


def run_checks(searcher: Searcher, saved: Sequence[tuple[store.SavedCheck, Place]],
               sources: int, mode: SearchMode = SearchMode.HYBRID,
               answer: Answerer | None = None, model: str | None = None,
               progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> CheckRun:
    """Each check's rank in mode, hit@k and verdict; with answer (a model), whether it cited."""
    results = []
    for done, (check, place) in enumerate(saved):
        if should_stop is not None and should_stop():
            break
        sent: list[int] | None = None
        cited: list[int] | None = None
        if answer is not None:
            sent, cited = answer(check.question)
        found = diagnose(searcher, place, check.question, check.question, sources, sent, cited,
                         mode)
        # A whole-document place is ranked among documents, a page among passages.
        rank = found.ranks.in_mode(mode, documents=place.page is None)
        results.append(CheckResult(check, place, rank, found))
        if progress is not None:
            progress(done + 1, len(saved))
    return CheckRun(mode, sources, model, tuple(results))

