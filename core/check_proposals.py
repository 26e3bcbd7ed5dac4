"""Checks made from the documents: Folio proposes questions, each with the page that answers it.

For a document, passages are sampled across its pages (boilerplate and very short passages left
out), and each sampled passage gets one question whose expected place is the passage's page:
  - with a model (the library's Ollama, as answers use it), a question the LLM writes from the
    passage, asked to be a reader's question that does not copy the passage's wording; a reply
    that is empty, too long, not a question or a copy of the passage is refused (and the next
    sampled passage is tried);
  - without one, an extractive question from the passage's distinctive terms: terms frequent in
    the passage and rare in the library (the FTS index's own per-term document counts, the
    fts5vocab table passages_fts_terms), as a short query-like question.
Proposals are not saved as checks: the person keeps the ones they like (`keep`), as generated
checks. The command line shows proposals in one run and keeps them by number in a later one, so
the proposals last shown for a document are kept in the library (`remember_shown`, `shown`: one
JSON value per document, core/store/shown_proposals.py, replaced when the document's proposals
are shown again) and `--keep 1,3` names those, not a new run's (a model writes other questions
each time).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import apsw

from core import prompt
from core.errors import FolioError
from core.llm import LlmError
from core.querytext import STOPWORDS
from core.store import checks as check_store
from core.store import queries, search_queries
from core.store import shown_proposals as shown_store
from core.store.connection import write_transaction
from core.types import DocStatus, Document

if TYPE_CHECKING:
    from core.library import Library

DEFAULT_COUNT = 5
MAX_COUNT = 50
MIN_WORDS = 25  # a passage shorter than this is too thin to ask about
MIN_LETTER_SHARE = 0.6  # of a passage's non-space characters: below, a table of figures
TERMS_PER_QUESTION = 3
MIN_TERMS = 2  # an extractive question needs at least this many distinctive terms
# A term in more than this share of the library's passages is not distinctive.
MAX_TERM_SHARE = 0.1
MAX_QUESTION_WORDS = 40
MAX_QUESTION_CHARS = 300
MIN_QUESTION_WORDS = 3
COPY_RUN = 6  # this many words in a row from the passage: a copy, not a question
TRIES_PER_PROPOSAL = 2  # sampled passages tried, at most, per proposal asked for
MAX_TOKENS = 100  # of the model's reply
PASSAGE_CHARS = 3000  # of a passage sent to the model

# General words that are rare in a small library but say nothing of a passage's topic ("come",
# "looking", "early"): left out of extractive questions, as stopwords are (compared stemmed).
_GENERAL_TEXT = """
add allow already always appear ask back become begin bring build call came change come
continue correct could create day decide done early easy else even ever every feel few find
first follow gave get getting give go goes going good got great happen help hold keep kind know
last later lead learn leave let lets like little live long look looking lot made make many may
mean meet might mind move much must need never new next nothing often old one open part pass
put quite rather really right run same see seem set several show since small something soon
start still stop sure take tell thing think try turn two usually want way well whether without
work yes yet
"""
_WORD = re.compile(r"\w+", re.UNICODE)
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LEADER = re.compile(r"^\s*(?:[-*•>#]+|\d+[.)]|q(?:uestion)?\s*\d*\s*[:.)-])\s*", re.IGNORECASE)
_CHECK_BOX = re.compile(r"[☐☑☒]")  # a form's boxes: a filing's cover page, an application
_TOC_LINE = re.compile(r"(?:\.{3,}|…{2,}|\s\d{1,4})\s*$")
_ABOUT_ITSELF = re.compile(r"\b(?:the|this|that|above|given) (?:passage|text|excerpt|paragraph)\b",
                           re.IGNORECASE)


@dataclass(frozen=True)
class Passage:
    id: int
    ordinal: int
    page: int
    heading: str
    context: str
    text: str


@dataclass(frozen=True)
class Proposal:
    """A proposed check: question, and the page of the passage it was made from."""

    question: str
    document_id: int
    title: str
    page: int
    passage_id: int
    source: str  # "model" (written by the LLM) or "terms" (the passage's distinctive terms)
    excerpt: str  # the passage's beginning, to judge the question by

    @property
    def expect(self) -> str:
        """The place in the form `folio checks add --expect` reads."""
        return f"{self.document_id}:{self.page}"

    @property
    def described(self) -> str:
        return f"page {self.page} of '{self.title}'"


@dataclass(frozen=True)
class Refusal:
    """A model's reply that was not taken as a question, and why."""

    passage_id: int
    page: int
    reply: str
    reason: str


@dataclass(frozen=True)
class Proposals:
    document_id: int
    title: str
    model: str | None  # the model that wrote questions (None: extractive only)
    proposals: tuple[Proposal, ...] = ()
    refused: tuple[Refusal, ...] = ()
    notice: str | None = None  # why no model wrote them, when one was wanted
    eligible: int = 0  # passages that could be asked about (not boilerplate, not too short)
    cancelled: bool = False


# --- sampling --------------------------------------------------------------------------------

def document_passages(db: apsw.Connection, document_id: int) -> list[Passage]:
    return [Passage(int(i), int(o), int(p), str(h), str(c), str(t)) for i, o, p, h, c, t in
            db.execute("SELECT id, ordinal, page_start, heading_path, context, text "
                       "FROM passages WHERE document_id = ? ORDER BY ordinal", (document_id,))]


def _fingerprint(text: str) -> str:
    return " ".join(_WORD.findall(re.sub(r"\d", "", text.lower())))[:200]


def boilerplate_reason(passage: Passage, repeated: set[str]) -> str | None:
    """Why a passage is not worth a question (None: it is)."""
    words = _WORD.findall(passage.text)
    if len(words) < MIN_WORDS:
        return "too short"
    chars = re.sub(r"\s", "", passage.text)
    if sum(c.isalpha() for c in chars) < MIN_LETTER_SHARE * max(1, len(chars)):
        return "mostly figures"
    lines = [line.strip() for line in passage.text.splitlines() if line.strip()]
    if len(lines) >= 4 and sum(bool(_TOC_LINE.search(line)) for line in lines) > len(lines) / 2:
        return "a list of contents"
    if sum(line.startswith("|") for line in lines) > len(lines) / 2:
        return "a table"
    if _CHECK_BOX.search(passage.text):
        return "a form (check boxes)"
    if _fingerprint(passage.text) in repeated:
        return "repeated in the document"
    return None


def eligible_passages(passages: Sequence[Passage]) -> list[Passage]:
    """The passages a question can be made from: not too short, not figures, a table, a form
    or a list of contents, not a text repeated in the document (a legal notice, a running
    block)."""
    seen = Counter(_fingerprint(p.text) for p in passages)
    repeated = {text for text, n in seen.items() if n > 1}
    return [p for p in passages if boilerplate_reason(p, repeated) is None]


def spread_order(passages: Sequence[Passage], count: int) -> list[Passage]:
    """Every passage, ordered so that any first `count` of them are spread over the document:
    the passages are cut into `count` runs in reading order; round 1 takes the middle of each
    run, round 2 the next nearest to each middle, and so on (a passage on a page already taken
    waits for the last rounds)."""
    if not passages:
        return []
    count = max(1, min(count, len(passages)))
    runs = [list(passages[len(passages) * i // count: len(passages) * (i + 1) // count])
            for i in range(count)]
    for n, run in enumerate(runs):
        middle = (len(run) - 1) / 2
        distance = {i: (abs(i - middle), i) for i in range(len(run))}
        runs[n] = [run[i] for i in sorted(distance, key=distance.__getitem__)]
    ordered: list[Passage] = []
    for round_ in range(max(len(run) for run in runs)):
        ordered += [run[round_] for run in runs if round_ < len(run)]
    pages: set[int] = set()
    first: list[Passage] = []
    later: list[Passage] = []
    for passage in ordered:
        (later if passage.page in pages else first).append(passage)
        pages.add(passage.page)
    return first + later


# --- extractive questions ---------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    token: str  # as the FTS index holds it (stemmed)
    word: str  # as the passage writes it
    count: int  # in the passage
    documents: int  # passages of the library that hold it
    score: float


class TermStatistics:
    """Per-term passage counts of the library's FTS index (fts5vocab), looked up as needed."""

    def __init__(self, db: apsw.Connection) -> None:
        self.db = db
        self.tokenizer = db.fts5_tokenizer(*search_queries.FTS_TOKENIZER)
        row = db.execute("SELECT count(*) FROM passages").fetchone()
        self.passages = int(row[0]) if row else 0
        self._documents: dict[str, int] = {}
        self.general = set(self.tokens(_GENERAL_TEXT))

    def tokens(self, text: str) -> list[str]:
        return [str(t) for t in self.tokenizer(text.encode("utf-8"),
                                              apsw.FTS5_TOKENIZE_DOCUMENT, None,
                                              include_offsets=False, include_colocated=False)]

    def documents(self, token: str) -> int:
        if token not in self._documents:
            row = self.db.execute("SELECT doc FROM passages_fts_terms WHERE term = ?",
                                  (token,)).fetchone()
            self._documents[token] = int(row[0]) if row else 0
        return self._documents[token]

    def distinctive_terms(self, text: str, heading: str = "") -> list[Term]:
        """The passage's terms by tf-idf, best first: frequent here, rare in the library (a
        term of the passage's heading counts double: it names the topic). Stopwords, general
        words, numbers and one- or two-letter terms are left out."""
        in_heading = set(self.tokens(heading))
        utf8 = text.encode("utf-8")
        tokens = self.tokenizer(utf8, apsw.FTS5_TOKENIZE_DOCUMENT, None, include_offsets=True,
                                include_colocated=False)
        counts: Counter[str] = Counter()
        words: dict[str, Counter[str]] = {}
        for start, end, token in cast(list[tuple[int, int, str]], tokens):
            word = utf8[start:end].decode("utf-8", "replace")
            if (len(token) < 3 or token.isdigit() or word.lower() in STOPWORDS
                    or token in self.general
                    or not any(c.isalpha() for c in word)):
                continue
            counts[token] += 1
            words.setdefault(token, Counter())[word] += 1
        terms = []
        total = max(1, self.passages)
        for token, count in counts.items():
            held = self.documents(token)
            if held == 0 or held > max(1.0, MAX_TERM_SHARE * total):
                continue
            idf = math.log(1 + (total - held + 0.5) / (held + 0.5))
            # The passage's own spelling: the one it uses most, lower case unless always capitalised.
            spelling, _ = words[token].most_common(1)[0]
            if any(w[:1].islower() for w in words[token]):
                spelling = spelling.lower()
            weight = 2.0 if token in in_heading else 1.0
            terms.append(Term(token, spelling, count, held, weight * count * idf))
        terms.sort(key=lambda t: (-t.score, t.token))
        return terms


def extractive_question(terms: Sequence[Term]) -> str | None:
    """A short query-like question from the best distinctive terms (None: too few of them)."""
    chosen: list[str] = []
    for term in terms:
        if term.word.lower() not in {c.lower() for c in chosen}:
            chosen.append(term.word)
        if len(chosen) == TERMS_PER_QUESTION:
            break
    if len(chosen) < MIN_TERMS:
        return None
    listed = ", ".join(chosen[:-1]) + f" and {chosen[-1]}"
    return f"What does it say about {listed}?"


# --- questions written by a model ---------------------------------------------------------------

def question_messages(title: str, passage: Passage) -> list[dict[str, str]]:
    """The chat asking the model for one reader's question that the passage answers."""
    where = f' ("{passage.heading}")' if passage.heading and passage.heading != title else ""
    text = passage.text[:PASSAGE_CHARS]
    return [
        {"role": "system", "content": "You write questions that people ask about their "
                                      "documents, to test a search engine."},
        {"role": "user", "content": (
            f'A passage from "{title}", page {passage.page}{where}:\n'
            f"<passage>\n{text}\n</passage>\n\n"
            "Write one question that a reader of this document might ask and that this passage "
            "answers. Ask it in your own words, as a person would type it into a search box: do "
            "not copy phrases from the passage, and do not mention the passage or the text. "
            "Reply with the question only, on one line.")},
    ]


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def longest_copied_run(question: str, passage: str) -> int:
    """The most words in a row that the question shares with the passage."""
    asked, source = _words(question), _words(passage)
    if not asked or not source:
        return 0
    best = 0
    for n in range(1, len(asked) + 1):
        grams = {tuple(source[i:i + n]) for i in range(len(source) - n + 1)}
        if not any(tuple(asked[i:i + n]) in grams for i in range(len(asked) - n + 1)):
            break
        best = n
    return best


def parse_question(reply: str, passage: str) -> tuple[str | None, str]:
    """(the question, "") from a model's reply, or (None, why it was refused)."""
    text = _THINKING.sub("", reply or "").strip()
    if not text:
        return None, "empty reply"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = next((line for line in lines if "?" in line), None)
    if line is None:
        return None, "no question in the reply"
    question = _LEADER.sub("", line)
    question = question[:question.index("?") + 1] if "?" in question else question
    question = question.strip(" \t\"'“”‘’*_`").strip()
    question = re.sub(r"\s+", " ", question.lstrip(":").strip())
    words = _words(question)
    if len(words) < MIN_QUESTION_WORDS:
        return None, "too short to be a question"
    if len(words) > MAX_QUESTION_WORDS or len(question) > MAX_QUESTION_CHARS:
        return None, f"too long ({len(words)} words)"
    if _ABOUT_ITSELF.search(question):
        return None, "asks about the passage instead of its content"
    run = longest_copied_run(question, passage)
    if run >= COPY_RUN or (words and run == len(words)):
        return None, f"copies the passage ({run} words in a row)"
    return question, ""


# --- proposing ---------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


def documents_without_checks(library: Library) -> list[Document]:
    """The indexed documents no saved check points at."""
    checked = {c.document_id for c in check_store.list_checks(library.db)}
    return [d for d in library.documents()
            if d.status is DocStatus.INDEXED and d.passages and d.id not in checked]


def _excerpt(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + "…"


@dataclass
class _Model:
    """The chat model that writes questions, and the service it runs on."""

    name: str
    chat: Callable[[list[dict[str, str]]], str]


def _find_model(library: Library, model: str | None) -> tuple[_Model | None, str | None]:
    """The model to write questions with, or (None, why not)."""
    try:
        service = library.ollama()
        name = service.pick_model(model or library.settings()["ollama-model"] or None)
    except LlmError as exc:
        return None, f"{exc.message} Questions were made from the passages' terms instead."

    def chat(messages: list[dict[str, str]]) -> str:
        return service.chat(name, messages, num_ctx=prompt.MIN_CONTEXT, temperature=0.3,
                            max_tokens=MAX_TOKENS)

    return _Model(name, chat), None


@dataclass
class _Collector:
    existing: set[str]
    proposals: list[Proposal] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def take(self, question: str, doc: Document, passage: Passage, source: str) -> bool:
        key = question.casefold()
        if key in self.existing:
            return False
        self.existing.add(key)
        self.proposals.append(Proposal(question, doc.id, doc.title, passage.page, passage.id,
                                       source, _excerpt(passage.text)))
        return True


def propose(library: Library, document: Document, count: int = DEFAULT_COUNT,
            use_model: bool = True, model: str | None = None,
            progress: Progress | None = None,
            cancel: threading.Event | None = None) -> Proposals:
    """Up to count proposed checks for document, spread over its pages; with use_model, written
    by the library's chat model (model: another installed one) when Ollama has one, else (and
    always with use_model False) made from the passages' distinctive terms. Nothing is saved."""
    if not 1 <= count <= MAX_COUNT:
        raise FolioError(f"Propose between 1 and {MAX_COUNT} checks at a time (not {count}).")
    if document.status is not DocStatus.INDEXED:
        raise FolioError(f"'{document.title}' is not indexed ({document.status.value}): there "
                         "is nothing to ask about yet.")
    writer, notice = _find_model(library, model) if use_model else (None, None)
    candidates = eligible_passages(document_passages(library.db, document.id))
    ordered = spread_order(candidates, count)[:count * TRIES_PER_PROPOSAL]
    existing = {c.question.casefold() for c in check_store.list_checks(library.db)
                if c.document_id == document.id}
    found = _Collector(existing)
    statistics = TermStatistics(library.db)
    cancelled = False
    for passage in ordered:
        if len(found.proposals) >= count:
            break
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        if writer is not None:
            try:
                reply = writer.chat(question_messages(document.title, passage))
            except LlmError as exc:  # Ollama went away mid-way: the rest from the terms
                notice = (f"{exc.message} The remaining questions were made from the passages' "
                          "terms.")
                writer = None
            else:
                question, reason = parse_question(reply, passage.text)
                if question is None:
                    found.refused.append(Refusal(passage.id, passage.page, reply, reason))
                else:
                    found.take(question, document, passage, "model")
        if writer is None:
            made = extractive_question(statistics.distinctive_terms(passage.text,
                                                                        passage.heading))
            if made is not None:
                found.take(made, document, passage, "terms")
        if progress is not None:
            progress(len(found.proposals), count)
    used = writer.name if writer is not None and any(
        p.source == "model" for p in found.proposals) else None
    return Proposals(document.id, document.title, used, tuple(found.proposals),
                     tuple(found.refused), notice, len(candidates), cancelled)


def keep(library: Library, proposals: Sequence[Proposal]) -> list[int]:
    """Save the proposals the person kept, as generated checks; their ids."""
    return [library.add_check(p.question, p.expect, generated=True) for p in proposals]


# --- the proposals last shown --------------------------------------------------------------------

def remember_shown(library: Library, found: Proposals) -> None:
    """Keep found as the proposals last shown for its document (replacing the ones shown
    before), so that keeping by number (`shown`) keeps what the person read. The entries of
    documents no longer in the library are dropped on the way."""
    value = json.dumps({
        "shown_at": queries.now_iso(), "model": found.model, "notice": found.notice,
        "eligible": found.eligible, "cancelled": found.cancelled,
        "proposals": [{"question": p.question, "page": p.page, "passage_id": p.passage_id,
                       "source": p.source, "excerpt": p.excerpt} for p in found.proposals],
        "refused": [{"passage_id": r.passage_id, "page": r.page, "reply": r.reply,
                     "reason": r.reason} for r in found.refused],
    }, ensure_ascii=False)
    with write_transaction(library.db):
        shown_store.set_shown(library.db, found.document_id, value)


def shown(library: Library, document: Document) -> Proposals | None:
    """The proposals last shown for document (`remember_shown`), numbered as they were shown;
    None when none were."""
    raw = shown_store.get_shown(library.db, document.id)
    if raw is None:
        return None
    data = json.loads(raw)
    proposals = tuple(Proposal(str(p["question"]), document.id, document.title, int(p["page"]),
                               int(p["passage_id"]), str(p["source"]), str(p["excerpt"]))
                      for p in data["proposals"])
    refused = tuple(Refusal(int(r["passage_id"]), int(r["page"]), str(r["reply"]),
                            str(r["reason"])) for r in data["refused"])
    return Proposals(document.id, document.title, data["model"], proposals, refused,
                     data["notice"], int(data["eligible"]), bool(data["cancelled"]))


def saved_as(library: Library, found: Proposals) -> dict[int, int]:
    """The check each of found's proposals (by its number, from 1) is saved as, for those
    that are."""
    checks = {(c.question, c.document_id, c.page): c.id
              for c in check_store.list_checks(library.db)}
    return {n: checks[key] for n, p in enumerate(found.proposals, start=1)
            if (key := (p.question, p.document_id, p.page)) in checks}
