"""Answering a question: retrieve, build the prompt, stream the model's answer, resolve citations.

Without a usable model (Ollama down, no model, model missing) the answer is extractive: the best
sentence of each of the best passages, cited the same way, with one sentence on how to get
written answers. The caller keeps the conversation (Library.ask saves each turn).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core import citations, followup, prompt, querytext, support
from core.answer_types import (
    Answer,
    AnswerDone,
    AnswerEvent,
    AnswerMode,
    AskFailed,
    LlmErrorKind,
    Source,
    SourcesFound,
    Timings,
    Token,
    Turn,
)
from core.chunking import split_sentences
from core.embedding import Embedder
from core.errors import EmbeddingUnavailable
from core.llm import ChatStats, LlmError, OllamaService
from core.search import EmptyQueryError, Searcher, SearchMode
from core.stemming import stem

DEFAULT_SOURCES = 6
EXTRACTIVE_SOURCES = 3
EXTRACTIVE_SENTENCE_CHARS = 400
TOO_LONG_NOTICE = ("The question is too long to fit in the model's context with any source: "
                   "here are the best passages instead.")
NO_SOURCES_TEXT = "Nothing in the library matches this question, so there is nothing to answer from."
BULLETS = re.compile(r"(?:^|\s)[•◦▪‣∙·]\s+")
EXTRACTIVE_MARK = re.compile(r" \[(\d+)\]$", re.MULTILINE)  # the mark each quoted line ends with
STOPPED_NOTICE = "Stopped before the answer was complete."


@dataclass(frozen=True)
class AskOptions:
    model: str | None = None  # None: the first installed chat model
    k: int = DEFAULT_SOURCES
    scope: Sequence[int] | None = None
    max_context: int = prompt.DEFAULT_MAX_CONTEXT
    # prompt.BRIEF (twice the sources, each its brief) or prompt.PASSAGES; the default is the
    # prompt-sources setting's (core/settings.py), so `AskOptions()` asks as the app does.
    prompt_sources: str = prompt.BRIEF


_LIST_ITEM = re.compile(r"^(?:•|\d{1,2}[.)])\s+")
_TABLE_RULE = re.compile(r"[\s|:-]+")
NOTHING_RELEVANT_TEXT = ("Nothing in the library answers this closely enough to quote. Try "
                         "other words, or a search to see which passages come near.")
# Minimum relevance of a quoted passage: the cosine of the question's and the passage's
# vectors (the library's embedding model), or, for a passage found by its words, half of the
# question's words in the quoted sentence. Calibrated with the bundled MiniLM on the guide, the
# test report and a keeper's log: the best passage of 8 on-topic questions scored 0.30-0.62,
# a passage beside the point 0.20-0.25, the best of 4 off-topic questions (a fridge's water
# filter, Peru, banana bread, Pelé) 0.18 at most, and no off-topic sentence held more than a
# quarter of its question's words.
MIN_SIMILARITY = 0.27
MIN_TERMS_SHARE = 0.5


def _row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _units(text: str) -> list[str]:
    """What an extractive answer quotes: whole sentences; a lead-in ending with a colon
    together with the whole list it introduces (when that stays short; else the items alone,
    never the lead-in alone); and a table row as "Header: cell; Header: cell" under its
    table's header row."""
    lines = [line.strip() for line in BULLETS.sub("\n• ", text).splitlines() if line.strip()]
    units: list[str] = []
    header: list[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("|"):
            if _TABLE_RULE.fullmatch(line):
                continue
            cells = _row(line)
            if i < len(lines) and lines[i].startswith("|") and _TABLE_RULE.fullmatch(lines[i]):
                header = cells  # the row above the rule is the header
            elif header and len(header) == len(cells):
                units.append("; ".join(f"{h}: {c}" if h else c
                                       for h, c in zip(header, cells, strict=True) if c))
            else:
                units.append(" — ".join(c for c in cells if c))
            continue
        header = None
        item = _LIST_ITEM.match(line)
        if item is not None:
            units += split_sentences(line[item.end():])
            continue
        sentences = split_sentences(line)
        items: list[str] = []
        while sentences and sentences[-1].endswith(":") and i < len(lines) and (
                found := _LIST_ITEM.match(lines[i])) is not None:
            items.append(lines[i][found.end():].strip().rstrip(";."))
            i += 1
        if not items:
            units += sentences
            continue
        merged = sentences[-1] + " " + "; ".join(items) + "."
        if len(merged) <= EXTRACTIVE_SENTENCE_CHARS:
            units += [*sentences[:-1], merged]
        else:  # too long to quote whole: the items stand alone
            units += sentences[:-1]
            for entry in items:
                units += split_sentences(entry + ".")
    return [u.strip(" -*") for u in units]


def _shared(sentence: str, question_terms: set[str]) -> int:
    return len(question_terms & {stem(w) for w in re.findall(r"\w+", sentence)})


def best_sentence(text: str, question_terms: set[str]) -> str:
    """The unit of text sharing most words with the question (the first on a tie); a lead-in
    that ends with a colon is never quoted alone."""
    sentences = [s.strip() for s in _units(text) if s.strip()] or [text.strip()]
    scored = [(_shared(s, question_terms), not s.endswith(":"), -i, s)
              for i, s in enumerate(sentences)]
    sentence = max(scored)[3]
    if len(sentence) > EXTRACTIVE_SENTENCE_CHARS:
        sentence = sentence[:EXTRACTIVE_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
    return " ".join(sentence.split())


def question_terms(question: str) -> set[str]:
    return {stem(t) for t in querytext.parse(question).terms
            if t.lower() not in querytext.STOPWORDS}


def relevant(source: Source, sentence: str, terms: set[str], similarity: float | None) -> bool:
    """Close enough to the question to quote (see MIN_SIMILARITY)."""
    if similarity is not None and similarity >= MIN_SIMILARITY:
        return True
    share = _shared(sentence, terms) / max(1, len(terms))
    return source.hit.keyword_rank is not None and share >= MIN_TERMS_SHARE


def extractive_text(question: str, sources: Sequence[Source],
                    similarities: Sequence[float] | None = None) -> str:
    """A cited list of the best sentence of each of the best passages; with similarities (the
    question's to each source), only the passages relevant enough (the others are not cited)."""
    if not sources:
        return NO_SOURCES_TEXT
    terms = question_terms(question)
    lines: list[str] = []
    for i, source in enumerate(sources):
        if len(lines) == EXTRACTIVE_SOURCES:
            break
        sentence = best_sentence(source.hit.text, terms)
        if similarities is not None and not relevant(source, sentence, terms, similarities[i]):
            continue
        if not any(line.startswith(f"- {sentence} [") for line in lines):  # the same twice
            lines.append(f"- {sentence} [{source.n}]")
    if not lines:
        return NOTHING_RELEVANT_TEXT
    return "The passages that best match the question:\n\n" + "\n".join(lines)


def similarities(embedder: Embedder, question: str, sources: Sequence[Source]) -> list[float]:
    """Cosine of the question's vector and each source passage's (a few passages: ~0.1 s)."""
    if not sources:
        return []
    try:
        query = embedder.embed_query(question)
        passages = embedder.embed_passages([s.hit.text for s in sources])
    except EmbeddingUnavailable:  # Ollama's model, Ollama down: every source counts the same
        return [1.0] * len(sources)
    if passages is None:
        return [1.0] * len(sources)
    norms = np.linalg.norm(passages, axis=1) * max(float(np.linalg.norm(query)), 1e-9)
    return [float(v) for v in (passages @ query) / np.maximum(norms, 1e-9)]


class Asker:
    """One question, from retrieval to the final answer; iterate `run()` for its events."""

    def __init__(self, searcher: Searcher, service: OllamaService | LlmError | None,
                 options: AskOptions, cancel: threading.Event | None = None) -> None:
        self.searcher = searcher
        self.embedder = searcher.require_embedder()
        # An LlmError instead of a service: no model can be asked (say why, answer from passages).
        self.service = service if isinstance(service, OllamaService) else None
        self.service_error = service if isinstance(service, LlmError) else None
        self.options = options
        self.cancel = cancel or threading.Event()
        self.start = time.perf_counter()
        self.search_notice: str | None = None  # the search's own (keywords only, say)

    def _ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000

    def _extractive(self, question: str, sources: Sequence[Source]) -> str:
        return extractive_text(question, sources, similarities(self.embedder, question, sources))

    def _choose_model(self) -> tuple[str | None, LlmError | None]:
        if self.service is None:
            return None, self.service_error
        try:
            return self.service.pick_model(self.options.model), None
        except LlmError as exc:
            return None, exc

    def _standalone(self, question: str, history: Sequence[Turn], model: str | None) -> str:
        if not history:
            return question
        fallback = followup.standalone_without_model(question, history)
        if model is None or self.service is None:
            return fallback
        try:
            reply = self.service.chat(model, prompt.build_rewrite_prompt(question, history),
                                      num_ctx=prompt.MIN_CONTEXT)
        except LlmError:
            return fallback
        return prompt.clean_rewrite(reply, fallback)

    def _finish(self, question: str, standalone: str, text: str, mode: AnswerMode,
                model: str | None, sources: tuple[Source, ...], timings: Timings,
                notice: str | None = None, error: LlmErrorKind | None = None,
                complete: bool = True, built: prompt.Prompt | None = None) -> AnswerDone:
        if mode is AnswerMode.EXTRACTIVE:
            # Quoted sentences may carry the document's own reference marks ("[7]"): the
            # citations are the sources quoted, not numbers read back from the text.
            shown = {int(n) for n in EXTRACTIVE_MARK.findall(text)}
            cited = tuple(citations.citation_of(s) for s in sources if s.n in shown)
            unknown: tuple[int, ...] = ()
        else:
            cited, unknown = citations.resolve(text, sources)
            text = citations.drop_unknown(text, unknown)
        aligned = support.align(text, sources, self._support_embedder()) if (
            mode is AnswerMode.GENERATED and cited) else ()
        return AnswerDone(Answer(
            question=question, standalone_question=standalone, text=text, mode=mode, model=model,
            citations=cited, sources=sources, unknown_citations=unknown,
            notice=" ".join(filter(None, [self.search_notice, notice])) or None,
            error_kind=error, complete=complete, timings=timings,
            prompt_tokens=built.tokens if built else 0, num_ctx=built.num_ctx if built else 0,
            support=aligned))

    def _support_embedder(self) -> Embedder | None:
        """The model that scores support by meaning: the library's, unless Ollama's is down
        (then support is scored by shared words alone)."""
        return None if self.search_notice else self.embedder

    def run(self, question: str, history: Sequence[Turn] = ()) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            yield AskFailed("Type a question to ask.")
            return
        model, problem = self._choose_model()
        standalone = self._standalone(question, history, model) if not self.cancel.is_set() else (
            question)
        try:
            found = self.searcher.search(
                standalone, SearchMode.HYBRID,
                prompt.sources_wanted(self.options.k, self.options.prompt_sources),
                self.options.scope)
        except EmptyQueryError as exc:
            yield AskFailed(str(exc))
            return
        self.search_notice = found.notice
        candidates = tuple(Source(n, hit) for n, hit in enumerate(found.hits, start=1))
        built: prompt.Prompt | None = None
        if model is not None and self.service is not None and candidates:
            try:
                context = self.service.context_length(model)
            except LlmError as exc:
                model, problem = None, exc
            else:
                built = prompt.build_answer_prompt(question, candidates, history,
                                                   self.options.max_context, context,
                                                   self.options.prompt_sources, standalone)
        if built is not None and not built.sources:
            built, model, problem = None, None, LlmError(LlmErrorKind.TOO_LONG, TOO_LONG_NOTICE)
        sources = built.sources if built is not None else candidates
        retrieval_ms = self._ms()
        yield SourcesFound(standalone, sources, retrieval_ms)
        if self.cancel.is_set():
            yield self._finish(question, standalone, "", AnswerMode.EXTRACTIVE, None, sources,
                               Timings(retrieval_ms, total_ms=self._ms()), STOPPED_NOTICE,
                               complete=False)
            return
        if built is None or model is None or self.service is None:
            notice = problem.message if problem is not None else None
            yield self._finish(question, standalone, self._extractive(standalone, sources),
                               AnswerMode.EXTRACTIVE, None, sources,
                               Timings(retrieval_ms, total_ms=self._ms()), notice,
                               problem.kind if problem is not None else None)
            return
        yield from self._generate(question, standalone, model, built, retrieval_ms)

    def _generate(self, question: str, standalone: str, model: str, built: prompt.Prompt,
                  retrieval_ms: float) -> Iterator[AnswerEvent]:
        assert self.service is not None
        stats = ChatStats()
        pieces: list[str] = []
        failure: LlmError | None = None
        request_ms = self._ms()
        try:
            for piece in self.service.stream_chat(model, built.messages, built.num_ctx, stats,
                                                  self.cancel):
                pieces.append(piece)
                yield Token(piece)
        except LlmError as exc:
            failure = exc
        first = request_ms + stats.first_token_s * 1000 if stats.first_token_s is not None else None
        timings = Timings(retrieval_ms, first, stats.tokens_per_s, self._ms(), request_ms)
        text = "".join(pieces)
        if failure is not None and not pieces:
            # Nothing was written: the best passages are still an answer.
            yield self._finish(question, standalone,
                               self._extractive(standalone, built.sources),
                               AnswerMode.EXTRACTIVE, None, built.sources, timings,
                               failure.message, failure.kind, built=built)
        elif failure is not None:
            yield self._finish(question, standalone, text, AnswerMode.GENERATED, model,
                               built.sources, timings, failure.message, failure.kind,
                               complete=False, built=built)
        elif not stats.done:
            yield self._finish(question, standalone, text, AnswerMode.GENERATED, model,
                               built.sources, timings, STOPPED_NOTICE, complete=False, built=built)
        else:
            yield self._finish(question, standalone, text, AnswerMode.GENERATED, model,
                               built.sources, timings, built=built)
