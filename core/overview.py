"""Whole-document answers: summaries made by map-reduce over a document's sections.

A question about one document as a whole ("summarise this", "the main points of chapter 3",
"list every date in this contract") is not answered from the top-k passages: the document's
sections (core/outline.py) are each summarised by the model from all their passages, given as
numbered <source> blocks so each statement cites its page (map); the section summaries, their
citations renumbered into one list of the document's passages, are combined into the answer
(reduce; in rounds when they do not fit the model's context), streamed as the usual events.

Every summary is kept in the library (core/store/summaries.py) under a key made from the
document's sha256, the passages summarised (ids and text), the model, the request and the
prompt's version, and only once the model finished it: a stopped or failed run leaves the
sections that were done, never an entry that looks like a whole answer, and the next run goes
on from there. Without a model the answer is extractive: the outline with each section's most
central sentences, cited.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import apsw

from core import citations, outline, prompt, support
from core.answer_types import (
    Answer,
    AnswerDone,
    AnswerEvent,
    AnswerMode,
    AskFailed,
    Progress,
    Source,
    SourcesFound,
    Timings,
    Token,
)
from core.embedding import Embedder
from core.llm import ChatStats, LlmError, OllamaService
from core.outline import Section
from core.store import queries, summaries, vectors
from core.store.connection import write_transaction
from core.store.summaries import Summary
from core.types import Document, Hit

VERSION = "overview-1"  # part of every key: a change of the prompts makes new summaries
SECTION_TOKENS = 1800  # passages (embedding tokens) per section: the map prompt stays in 4k
SECTION_RESERVE = 512  # chat tokens left for a section summary
COMBINE_RESERVE = 1024  # chat tokens left for the answer
MAX_SUMMARY_CHARS = 1500  # a section summary is cut (at a sentence) beyond this
MAX_ROUNDS = 6  # combining rounds before the summaries are shortened to fit
ALIGN_BY_MEANING_MAX = 6  # cited sources up to which support is also scored by the model
FOUND_BY = "outline"  # Citation.found_by of a whole-document answer's sources
SUMMARY_QUESTION = "Summarise “{title}”: what is it about, and what are its main points?"
OVERVIEW_REQUEST = ("An overview of the whole document: what it is about, then its main points "
                    "in the document's order.")
SUMMARY_TASK = "Summarise this section: its main points, each with its citation."
LIST_TASK = ("From this section, list what this request asks for: “{question}”. Give each item "
             "with its citation. If the section holds none, reply only: None.")
STOPPED_NOTICE = ("Stopped after {done} of {total} sections. The sections done are kept: asking "
                  "again goes on from there.")
NOTHING_FOUND = "None of the document's {total} sections holds what the request asks for."
NO_MODEL_NOTICE = "This overview quotes each section's most central sentences."
_SUMMARY = re.compile(r"\b(?:summar(?:y|ies|i[sz]e[sd]?|i[sz]ing)|overview|gist|tl;?dr|"
                      r"(?:main|key|important) (?:points?|ideas?|themes?|findings?|arguments?|"
                      r"takeaways?|messages?)|what(?: is|'s) (?:it|th(?:is|e|at)(?: \w+)?) about)\b",
                      re.IGNORECASE)
# "every" and "all" count when they gather things from the text ("every date in it", "all the
# names mentioned"), not in a question about them ("does every employee get a bonus?", "is
# every payment in euros?": a yes/no question, which opens with its verb, is never a list;
# "can you list every date?" is a request, not such a question).
_YES_NO = re.compile(r"^\W*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|"
                     r"shall|should|may|must)\b(?!\s+(?:you|u)\b)", re.IGNORECASE)
_LIST = re.compile(r"\b(?:list (?:all|every|each)|(?:every |all (?:the |of the )?)\w+ "
                   r"(?:in|of|that|which|mentioned|named|given|listed|cited|used))\b",
                   re.IGNORECASE)
_NONE = re.compile(r"\W*none\W*$", re.IGNORECASE)  # a section's reply to a list: nothing there
_SENTENCE_END = re.compile(r"[.!?](?:\s*\[[^\]]*\])*(?=\s|$)")


@dataclass(frozen=True)
class Request:
    """What a whole-document question asks: a summary, or a list (focus: the question)."""

    focus: str  # "" for a summary; the question for a list ("every date in it")

    @property
    def task(self) -> str:
        return LIST_TASK.format(question=self.focus) if self.focus else SUMMARY_TASK


def request_of(question: str) -> Request | None:
    """The request when the question is about a document as a whole, else None."""
    if _SUMMARY.search(question):
        return Request("")
    if _LIST.search(question) and not _YES_NO.match(question):
        return Request(" ".join(question.split()))
    return None


def wanted(question: str, scope: Sequence[int] | None) -> bool:
    """A question scoped to one document, with words such as summarise, overview, main points,
    list all, every: answered by walking the document (not from the top-k passages)."""
    return scope is not None and len(set(scope)) == 1 and request_of(question) is not None


def key_of(*parts: object) -> str:
    return hashlib.sha256(json.dumps([VERSION, *parts], ensure_ascii=False).encode()).hexdigest()


def section_key(sha256: str | None, model: str, request: Request, section: Section) -> str:
    return key_of("section", sha256, model, request.focus,
                  [[h.passage_id, h.text] for h in section.passages])


def renumber(text: str, numbers: dict[int, int]) -> str:
    """The text with each cited [n] replaced by numbers[n] (numbers it lacks dropped)."""
    def replace(match: re.Match[str]) -> str:
        mapped = [numbers[n] for n in citations.cited_numbers(match.group(0)) if n in numbers]
        return "".join(f"[{m}]" for m in dict.fromkeys(mapped))
    return re.sub(r"[ \t]*$", "", citations.CITATION.sub(replace, text), flags=re.MULTILINE)


def _cut_at_sentence(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text.strip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit)]
    return (text[:ends[-1]] if ends else text[:limit].rsplit(" ", 1)[0] + " …").strip()


@dataclass
class _Done:
    """A section's summary in the answer's numbering."""

    section: Section
    text: str


class Overviewer:
    """One whole-document answer; iterate `run()` for its events (Progress while sections are
    read, then SourcesFound, Token..., AnswerDone)."""

    def __init__(self, db: apsw.Connection, embedder: Embedder | None,
                 service: OllamaService | LlmError | None, model: str | None, max_context: int,
                 cancel: threading.Event | None = None) -> None:
        self.db = db
        self.embedder = embedder
        self.service = service if isinstance(service, OllamaService) else None
        self.problem = service if isinstance(service, LlmError) else None
        self.preferred = model
        self.max_context = max_context
        self.cancel = cancel or threading.Event()
        self.start = time.perf_counter()
        self.sources: list[Source] = []  # the answer's sources, numbered as it cites them
        self._number: dict[int, int] = {}  # passage id -> its number among sources
        self.notices: list[str] = []

    def _ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000

    def _number_of(self, hit: Hit) -> int:
        if hit.passage_id not in self._number:
            self._number[hit.passage_id] = len(self.sources) + 1
            self.sources.append(Source(len(self.sources) + 1, hit))
        return self._number[hit.passage_id]

    def _model(self) -> tuple[str | None, int]:
        """The model and the context to fit (None: answer without a model, self.problem says why)."""
        if self.service is None:
            return None, self.max_context
        try:
            model = self.service.pick_model(self.preferred)
            context = self.service.context_length(model)
        except LlmError as exc:
            self.problem = exc
            return None, self.max_context
        return model, min(self.max_context, context or self.max_context)

    # --- the walk ---------------------------------------------------------------------------

    def run(self, question: str, doc_id: int) -> Iterator[AnswerEvent]:
        question = question.strip()
        doc = queries.get_document(self.db, doc_id)
        passages = summaries.document_passages(self.db, doc_id) if doc is not None else []
        if doc is None or not passages:
            yield AskFailed("That document has no indexed text to summarise." if doc is not None
                            else f"No document {doc_id} in the library.")
            return
        # A question without summary words (folio summarise DOC "who signed it?") is asked
        # of every section, as a list is.
        request = request_of(question) or Request(" ".join(question.split()))
        model, limit = self._model()
        budget = min(SECTION_TOKENS, int((limit - SECTION_RESERVE - 400) / 1.5))
        sections = outline.sections_of(passages, max(200, budget))
        named = outline.named_sections(question, sections)
        if named:
            sections = [dataclasses.replace(s, number=i) for i, s in enumerate(named, start=1)]
        if model is None or self.service is None:
            yield from self._extractive(question, doc, sections)
            return
        done: list[_Done] = []
        keys: list[str] = []
        for section in sections:
            key = section_key(doc.sha256, model, request, section)
            keys.append(key)
            kept = summaries.get(self.db, key)
            if kept is None:
                if self.cancel.is_set():
                    yield self._stopped(question, model, done, len(sections))
                    return
                yield Progress(section.number - 1, len(sections),
                               f"Summarising: section {section.number} of {len(sections)}")
                try:
                    kept = self._summarise(doc.id, doc.title, model, limit, request, section,
                                           key, len(sections))
                except LlmError as exc:
                    self.problem = exc
                    yield from self._extractive(question, doc, sections)
                    return
                if kept is None:
                    yield self._stopped(question, model, done, len(sections))
                    return
            by_id = {h.passage_id: h for h in section.passages}
            cited = set(citations.cited_numbers(kept.text))  # only these become sources
            numbers = {n: self._number_of(by_id[pid]) for n, pid in enumerate(kept.sources, 1)
                       if pid in by_id and n in cited}
            done.append(_Done(section, renumber(kept.text, numbers)))
        yield Progress(len(sections), len(sections),
                       f"Combining the summaries of {len(sections)} sections")
        request_text = request.focus or (question if named else OVERVIEW_REQUEST)
        yield from self._combine(question, doc.id, doc.title, doc.sha256, model, limit,
                                 request_text, done, keys)

    def _summarise(self, doc_id: int, title: str, model: str, limit: int, request: Request,
                   section: Section, key: str, total: int) -> Summary | None:
        """The model's summary of a section, kept; None when stopped. Raises LlmError."""
        assert self.service is not None
        local = [Source(n, h) for n, h in enumerate(section.passages, start=1)]
        user = prompt.template("section_user.txt").format(
            title=_attribute(title), heading=_attribute(section.heading),
            pages=section.pages, number=section.number, total=total,
            sources="\n\n".join(prompt.format_source(s) for s in local), task=request.task)
        messages = [{"role": "system", "content": prompt.template("section_system.txt").strip()},
                    {"role": "user", "content": user}]
        tokens = sum(prompt.count_tokens(m["content"]) for m in messages)
        text, complete = self._stream(model, messages,
                                      prompt.context_size(tokens + SECTION_RESERVE, limit))
        if not complete:
            return None
        text = _cut_at_sentence(text, MAX_SUMMARY_CHARS)
        cited, unknown = citations.resolve(text, local)
        text = citations.drop_unknown(text, unknown)
        if not cited and text and text.rstrip(".").lower() != "none":
            text += " [1]"  # what it says comes from this section: cite where the section starts
        kept = Summary(key, doc_id, "section", model, section.heading, section.page_start,
                       section.page_end, tuple(h.passage_id for h in section.passages), text)
        self._keep(kept)
        return kept

    def _stream(self, model: str, messages: list[dict[str, str]], num_ctx: int
                ) -> tuple[str, bool]:
        """The whole reply and whether it is complete (False: stopped or cut off). Raises
        LlmError."""
        assert self.service is not None
        stats = ChatStats()
        pieces: list[str] = []
        stream = self.service.stream_chat(model, messages, num_ctx, stats, self.cancel)
        try:
            for piece in stream:
                pieces.append(piece)
                if sum(map(len, pieces)) > 2 * MAX_SUMMARY_CHARS:
                    return "".join(pieces), True  # rambling: what came is cut at a sentence
        finally:
            close = getattr(stream, "close", None)  # a generator: ends the request now
            if close is not None:
                close()
        return "".join(pieces), stats.done and not self.cancel.is_set()

    def _keep(self, summary: Summary) -> None:
        try:
            with write_transaction(self.db):
                summaries.put(self.db, summary)
        except apsw.Error as exc:  # busy, full disk, read-only: the answer goes on unkept
            notice = f"The summaries could not be kept in the library ({exc})."
            if notice not in self.notices:
                self.notices.append(notice)

    # --- the reduce -------------------------------------------------------------------------

    def _combine_messages(self, title: str, request: str, parts: Sequence[_Done]
                          ) -> list[dict[str, str]]:
        blocks = "\n\n".join(
            f'<section title="{_attribute(p.section.heading)}" '
            f'pages="{p.section.pages}">\n{_escape(p.text)}\n</section>' for p in parts)
        user = prompt.template("combine_user.txt").format(title=_attribute(title),
                                                         sections=blocks, request=request)
        return [{"role": "system", "content": prompt.template("combine_system.txt").strip()},
                {"role": "user", "content": user}]

    def _tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(prompt.count_tokens(m["content"]) + 8 for m in messages)

    def _fit(self, title: str, model: str, limit: int, request: str, parts: list[_Done]
             ) -> Iterator[Progress | list[_Done] | None]:
        """Combine parts in rounds until one prompt holds them all; yields Progress, then the
        parts that fit (None when stopped)."""
        rounds = 0
        while len(parts) > 1 and self._tokens(self._combine_messages(title, request, parts)) + (
                COMBINE_RESERVE) > limit:
            rounds += 1
            groups: list[list[_Done]] = [[]]
            for part in parts:
                trial = [*groups[-1], part]
                if groups[-1] and self._tokens(self._combine_messages(title, request, trial)) + (
                        COMBINE_RESERVE) > limit:
                    groups.append([])
                groups[-1].append(part)
            if rounds > MAX_ROUNDS or len(groups) == len(parts):  # no progress: shorten them
                share = max(200, (limit - COMBINE_RESERVE) * 3 // max(1, len(parts)))
                parts = [_Done(p.section, _cut_at_sentence(p.text, share)) for p in parts]
                if rounds > MAX_ROUNDS + 1:
                    break
                continue
            merged: list[_Done] = []
            for i, group in enumerate(groups, start=1):
                yield Progress(i - 1, len(groups), f"Combining: part {i} of {len(groups)}")
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                messages = self._combine_messages(title, request, group)
                text, complete = self._stream(model, messages, prompt.context_size(
                    self._tokens(messages) + COMBINE_RESERVE, limit))
                if not complete:
                    yield None
                    return
                first, last = group[0].section, group[-1].section
                heading = f"{first.heading} … {last.heading}"
                merged.append(_Done(dataclasses.replace(
                    first, heading=heading, passages=first.passages + last.passages), text))
            parts = merged
        yield parts

    def _combine(self, question: str, doc_id: int, title: str, sha256: str | None, model: str,
                 limit: int, request: str, done: list[_Done], keys: list[str]
                 ) -> Iterator[AnswerEvent]:
        doc_key = key_of("document", sha256, model, request, keys)
        kept = summaries.get(self.db, doc_key)
        if kept is not None and len(kept.sources) == len(self.sources) and all(
                s.hit.passage_id == pid for s, pid in zip(self.sources, kept.sources, strict=True)):
            retrieval = self._ms()
            yield SourcesFound(question, tuple(self.sources), retrieval)
            yield Token(kept.text)
            yield self._done(question, kept.text, model, Timings(retrieval, total_ms=self._ms()))
            return
        done = [d for d in done if not _NONE.match(d.text)]  # sections with nothing asked for
        if not done:
            text = NOTHING_FOUND.format(total=len(keys))
            yield SourcesFound(question, (), self._ms())
            yield Token(text)
            yield self._done(question, text, model, Timings(self._ms(), total_ms=self._ms()))
            return
        parts: list[_Done] | None = done
        if len(done) > 1:
            for step in self._fit(title, model, limit, request, done):
                if isinstance(step, Progress):
                    yield step
                else:
                    parts = step
            if parts is None:
                yield self._stopped(question, model, done, len(done), combining=True)
                return
        retrieval = self._ms()
        yield SourcesFound(question, tuple(self.sources), retrieval)
        assert parts is not None
        if len(parts) == 1 and len(done) == 1:
            text, complete = parts[0].text, True  # one section: its summary is the answer
            yield Token(text)
            first_ms: float | None = self._ms()
        else:
            messages = self._combine_messages(title, request, parts)
            assert self.service is not None
            stats = ChatStats()
            pieces: list[str] = []
            first_ms = None
            try:
                for piece in self.service.stream_chat(
                        model, messages, prompt.context_size(
                            self._tokens(messages) + COMBINE_RESERVE, limit), stats, self.cancel):
                    first_ms = first_ms if first_ms is not None else self._ms()
                    pieces.append(piece)
                    yield Token(piece)
            except LlmError as exc:
                if not pieces:  # nothing written: the section summaries are the answer
                    text = _sections_text(done)
                    yield Token(text)
                    yield self._done(question, text, model, Timings(retrieval, total_ms=self._ms()),
                                     notice=exc.message)
                    return
                yield self._done(question, "".join(pieces), model,
                                 Timings(retrieval, first_ms, total_ms=self._ms()),
                                 notice=exc.message, complete=False)
                return
            text, complete = "".join(pieces), stats.done and not self.cancel.is_set()
        timings = Timings(retrieval, first_ms, total_ms=self._ms(), request_ms=retrieval)
        if not complete:
            yield self._done(question, text, model, timings,
                             notice="Stopped before the answer was complete.", complete=False)
            return
        answer = self._done(question, text, model, timings)
        self._keep(Summary(doc_key, doc_id, "document", model, title,
                           min(p.section.page_start for p in done),
                           max(p.section.page_end for p in done),
                           tuple(s.hit.passage_id for s in self.sources), answer.answer.text))
        yield answer

    # --- the answer -------------------------------------------------------------------------

    def _done(self, question: str, text: str, model: str | None, timings: Timings,
              notice: str | None = None, complete: bool = True,
              mode: AnswerMode = AnswerMode.GENERATED) -> AnswerDone:
        sources = tuple(self.sources)
        if mode is AnswerMode.EXTRACTIVE:
            cited = tuple(citations.citation_of(s) for s in sources)
            unknown: tuple[int, ...] = ()
        else:
            cited, unknown = citations.resolve(text, sources)
            text = citations.drop_unknown(text, unknown)
        cited = tuple(dataclasses.replace(c, found_by=FOUND_BY) for c in cited)
        # By meaning too when the answer cites as few sources as a usual answer; a whole
        # document's many sources are aligned by their words (embedding every sentence of
        # thirty passages takes seconds on a laptop's CPU).
        embedder = self.embedder if len(cited) <= ALIGN_BY_MEANING_MAX else None
        # Line by line: a list item without a full stop is a claim of its own, not the start
        # of one sentence running down the list (desktop/citation_links.py mark_sentences matches it so).
        aligned = tuple(found for line in text.splitlines() if line.strip()
                        for found in support.align(line, sources, embedder)) if (
            mode is AnswerMode.GENERATED and cited) else ()
        return AnswerDone(Answer(
            question=question, standalone_question=question, text=text, mode=mode, model=model,
            citations=cited, sources=sources, unknown_citations=unknown,
            notice=" ".join([*self.notices, *([notice] if notice else [])]) or None,
            error_kind=self.problem.kind if self.problem is not None and mode is
            AnswerMode.EXTRACTIVE else None, complete=complete, timings=timings,
            support=aligned))

    def _stopped(self, question: str, model: str | None, done: list[_Done], total: int,
                 combining: bool = False) -> AnswerDone:
        notice = ("Stopped while combining the section summaries." if combining
                  else STOPPED_NOTICE.format(done=len(done), total=total))
        return self._done(question, _sections_text(done), model,
                          Timings(self._ms(), total_ms=self._ms()), notice=notice, complete=False)

    def _extractive(self, question: str, doc: Document, sections: Sequence[Section]
                    ) -> Iterator[AnswerEvent]:
        """The outline with each section's most central sentences, each cited; kept (as the
        model's summaries are, under a key without a model), so the next time is instant."""
        self.sources, self._number = [], {}  # sections summarised before a failure: not cited
        notice = " ".join(filter(None, [self.problem.message if self.problem else None,
                                        NO_MODEL_NOTICE]))
        embedding = self.embedder.name if self.embedder is not None else ""
        key = key_of("extractive", doc.sha256, embedding,
                     [[h.passage_id, h.text] for s in sections for h in s.passages],
                     [s.heading for s in sections])
        kept = summaries.get(self.db, key)
        by_id = {h.passage_id: h for s in sections for h in s.passages}
        if kept is not None and all(pid in by_id for pid in kept.sources):
            for pid in kept.sources:
                self._number_of(by_id[pid])
            yield SourcesFound(question, tuple(self.sources), self._ms())
            yield self._done(question, kept.text, None, Timings(self._ms(), total_ms=self._ms()),
                             notice=notice, mode=AnswerMode.EXTRACTIVE)
            return
        lines: list[str] = []
        for section in sections:
            if self.cancel.is_set():
                break
            yield Progress(section.number - 1, len(sections),
                           f"Reading: section {section.number} of {len(sections)}")
            lines.append(f"**{_markdown(section.heading)}** ({section.pages})")
            for hit, sentence in outline.central_sentences(
                    section, self.embedder, lambda pid: vectors.vector_of(self.db, pid)):
                lines.append(f"- {_markdown(sentence)} [{self._number_of(hit)}]")
            lines.append("")
        stopped = self.cancel.is_set()
        retrieval = self._ms()
        text = "\n".join(lines).strip()
        yield SourcesFound(question, tuple(self.sources), retrieval)
        if not stopped:
            self._keep(Summary(key, doc.id, "document", "", doc.title,
                               min(s.page_start for s in sections),
                               max(s.page_end for s in sections),
                               tuple(s.hit.passage_id for s in self.sources), text))
        yield self._done(question, text, None, Timings(retrieval, total_ms=self._ms()),
                         notice="Stopped before every section was read." if stopped else notice,
                         complete=not stopped, mode=AnswerMode.EXTRACTIVE)


def _attribute(value: str) -> str:
    """A title or heading (the document's: untrusted) as a safe attribute value."""
    return value.replace('"', "'").replace("<", "‹").replace(">", "›").replace("\n", " ").strip()


def _escape(text: str) -> str:
    """A summary cannot close its <section> or pose as the prompt (as prompt.format_source)."""
    return re.sub(r"<\s*(/?)\s*section", r"‹\1section", text, flags=re.IGNORECASE)


def _markdown(text: str) -> str:
    return re.sub(r"([*_`\[\]<>#])", r"\\\1", text)


def _sections_text(done: Sequence[_Done]) -> str:
    return "\n\n".join(f"**{_markdown(d.section.heading)}** ({d.section.pages})\n\n{d.text}"
                       for d in done if d.text and not _NONE.match(d.text))
