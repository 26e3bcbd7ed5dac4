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

import apsw

from core import citations, followup, prompt, querytext
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
from core.llm import ChatStats, LlmError, OllamaService
from core.search import EmptyQueryError, SearchMode, search

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


def _stem(word: str) -> str:
    return word.lower()[:5]


def _units(text: str) -> list[str]:
    """Sentences of each line of prose, and single rows of tables (a table flattened into one
    line reads badly); bullets start new units."""
    units: list[str] = []
    for line in BULLETS.sub("\n", text).splitlines():
        if line.lstrip().startswith("|"):
            if not re.fullmatch(r"[\s|:-]+", line):
                units.append(" — ".join(c.strip() for c in line.strip().strip("|").split("|")))
        else:
            units += split_sentences(line)
    return [u.strip(" -*") for u in units]


def best_sentence(text: str, question_terms: set[str]) -> str:
    """The sentence of text sharing most words with the question (the first on a tie)."""
    sentences = [s.strip() for s in _units(text) if s.strip()] or [text.strip()]
    scored = [(len(question_terms & {_stem(w) for w in re.findall(r"\w+", s)}), -i, s)
              for i, s in enumerate(sentences)]
    sentence = max(scored)[2]
    if len(sentence) > EXTRACTIVE_SENTENCE_CHARS:
        sentence = sentence[:EXTRACTIVE_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
    return " ".join(sentence.split())


def extractive_text(question: str, sources: Sequence[Source]) -> str:
    """A cited list of the best sentence of each of the best passages."""
    if not sources:
        return NO_SOURCES_TEXT
    terms = {_stem(t) for t in querytext.parse(question).terms
             if t.lower() not in querytext.STOPWORDS}
    lines = [f"- {best_sentence(s.hit.text, terms)} [{s.n}]" for s in sources[:EXTRACTIVE_SOURCES]]
    return "The passages that best match the question:\n\n" + "\n".join(lines)


class Asker:
    """One question, from retrieval to the final answer; iterate `run()` for its events."""

    def __init__(self, db: apsw.Connection, embedder: Embedder,
                 service: OllamaService | LlmError | None, options: AskOptions,
                 cancel: threading.Event | None = None) -> None:
        self.db = db
        self.embedder = embedder
        # An LlmError instead of a service: no model can be asked (say why, answer from passages).
        self.service = service if isinstance(service, OllamaService) else None
        self.service_error = service if isinstance(service, LlmError) else None
        self.options = options
        self.cancel = cancel or threading.Event()
        self.start = time.perf_counter()

    def _ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000

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
        return AnswerDone(Answer(
            question=question, standalone_question=standalone, text=text, mode=mode, model=model,
            citations=cited, sources=sources, unknown_citations=unknown, notice=notice,
            error_kind=error, complete=complete, timings=timings,
            prompt_tokens=built.tokens if built else 0, num_ctx=built.num_ctx if built else 0))

    def run(self, question: str, history: Sequence[Turn] = ()) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            yield AskFailed("Type a question to ask.")
            return
        model, problem = self._choose_model()
        standalone = self._standalone(question, history, model) if not self.cancel.is_set() else (
            question)
        try:
            found = search(self.db, self.embedder, standalone, SearchMode.HYBRID, self.options.k,
                           self.options.scope)
        except EmptyQueryError as exc:
            yield AskFailed(str(exc))
            return
        candidates = tuple(Source(n, hit) for n, hit in enumerate(found.hits, start=1))
        built: prompt.Prompt | None = None
        if model is not None and self.service is not None and candidates:
            try:
                context = self.service.context_length(model)
            except LlmError as exc:
                model, problem = None, exc
            else:
                built = prompt.build_answer_prompt(question, candidates, history,
                                                   self.options.max_context, context)
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
            yield self._finish(question, standalone, extractive_text(question, sources),
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
            yield self._finish(question, standalone, extractive_text(question, built.sources),
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
