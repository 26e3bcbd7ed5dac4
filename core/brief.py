"""The evidence brief: the sentences of a passage that matter for a question (issue 17, item 2).

With the `prompt-sources brief` setting (the default) each source in the answer prompt carries,
instead of its whole passage, the units of the passage that score best for the question, in the
passage's order: a unit is a sentence, a list item (shown under its lead-in) or a table row
(shown under its table's header row). A unit scores the share of the question's content words
and numbers it holds (numbers count double, as core/support.py counts them; a word held only in
another form, "stop" for "stops", the same stem by core/stemming.py, counts STEM_MATCH); a table
row scores its own cells, and its header's words count only HEADER_WEIGHT (they are every row's,
so they lift a table's rows alike and never pick one). The best unit is always kept, so no
source is ever empty; the others are kept, best first, while they score close enough to the
best and the brief stays under BRIEF_SHARE of the passage. A question that asks for a quantity
(how many, when, what percentage...) favours the units that hold a number. Kept units are quoted
verbatim, so an answer that restates one is still aligned to the full passage by
core/support.py, and the source keeps its number, page and passage (citations and highlights are
unchanged).

Words alone, on purpose: scoring by meaning as well (half the cosine of each unit's vector and
the question's, `briefs(..., embedder)`) embeds every unit of every source, about 55 sentences
and 2,100 tokens for the 12 sources of a default answer: 0.4 s of CPU before the first token on
a quiet machine, over 1 s on a busy one (the model's arithmetic, not padding or the question's
vector: docs/answers.md), against about 3 ms by words. The words pick the same best unit as
words and cosine for 75-78% of the sources on the development sets and put the right document
in the prompt as often (tests/bench/brief.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.answer_types import Source
from core.chunking import split_sentences
from core.embedding import Embedder
from core.errors import EmbeddingModelError
from core.llm import LlmError
from core.stemming import stem
from core.store.queries import HEADING_SEPARATOR
from core.support import content_words, numbers_in

BRIEF_SHARE = 0.4  # the most of a passage's characters a brief keeps (beyond its best unit)
WHOLE_BELOW_CHARS = 240  # a passage this short is kept whole: there is little to save
RELATIVE = 0.6  # a unit is kept only if it scores at least this share of the best unit's score
FLOOR = 0.2  # ... and at least this: about a fifth of the question's words held
LEXICAL_SHARE = 0.5  # of a unit's score when it is scored by meaning too; the rest is the cosine
STEM_MATCH = 0.7  # a question word held in another form ("stop" for "stops") counts this much
HEADER_WEIGHT = 0.1  # of the share of the question's words a table row's header cells hold
NUMBER_BONUS = 0.15  # added to a unit holding a number when the question asks for a quantity
GAP = "…"  # marks text left out between two kept units
LONG_UNIT_CHARS = 400  # a "sentence" this long is cut further where a full stop ends a clause

_BULLETS = re.compile(r"(?:^|\s)([•◦▪‣∙·]\s+)")
_LIST_ITEM = re.compile(r"^(?:[•◦▪‣∙·]|\d{1,2}[.)])\s+")
_TABLE_RULE = re.compile(r"[\s|:-]+")
# A full stop before a lowercase word: where split_sentences sees no sentence end (it wants a
# capital next), in lowercased or OCR'd text ("... slipstream . an experimental study ...").
_LOOSE_BREAK = re.compile(r"(?:(?<=\s\.)|(?<=[a-z]{3}\.))\s+(?=[a-z(])")
_QUANTITY = re.compile(
    r"^\s*when\b|\b(?:how (?:many|much|long|old|far|often|large|big|small|high|low|fast|heavy)|"
    r"what (?:year|date|time|percentage|share|proportion|fraction|number|amount|size)|"
    r"number of|percentage|per ?cent|rate|cost|price|amount|dose|dosage|date|deadline)\b",
    re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of a passage a brief may keep."""

    text: str  # as it appears in the passage (a sentence, a list item's line, a table row)
    line: int  # the passage line it is on (units of one prose line share it)
    scored: str  # what is scored: the text (a table row's cells), with a list's lead-in
    lead: tuple[str, ...] = ()  # lines shown once before the first kept unit under them
    header: str = ""  # a table row's header cells: they count HEADER_WEIGHT

    def meaning(self) -> str:
        """What is embedded when scored by meaning too: a table row as "Header: cell; ..."."""
        return f"{self.header}: {self.scored}" if self.header else self.scored


def units(text: str) -> list[Unit]:
    """The passage's sentences, list items and table rows, in order."""
    lines = [ln.strip() for ln in _BULLETS.sub(lambda m: "\n" + m.group(1), text).splitlines()]
    lines = [ln for ln in lines if ln]
    out: list[Unit] = []
    header: tuple[str, ...] = ()  # the current table's header row and rule
    header_cells: list[str] = []
    lead_in = ""  # the sentence ending with ':' that introduces the current list
    for i, line in enumerate(lines):
        if line.startswith("|"):
            if _TABLE_RULE.fullmatch(line):
                continue
            cells = _cells(line)
            if i + 1 < len(lines) and lines[i + 1].startswith("|") and _TABLE_RULE.fullmatch(
                    lines[i + 1]):
                header, header_cells = (line, lines[i + 1]), cells
                continue
            if header and len(header_cells) == len(cells):
                own = "; ".join(c for c in cells if c)
                out.append(Unit(line, i, own, header, "; ".join(h for h in header_cells if h)))
            else:
                out.append(Unit(line, i, " ".join(c for c in cells if c)))
            continue
        header, header_cells = (), []
        item = _LIST_ITEM.match(line)
        if item is not None and lead_in:
            out.append(Unit(line, i, f"{lead_in} {line[item.end():]}", (lead_in,)))
            continue
        sentences = split_sentences(line) or [line]
        lead_in = ""
        if sentences[-1].endswith(":") and i + 1 < len(lines) and _LIST_ITEM.match(lines[i + 1]):
            lead_in = sentences.pop()  # shown with the items it introduces, never alone
        out += [Unit(piece, i, piece) for sentence in sentences for piece in _clauses(sentence)]
    return out


def _clauses(sentence: str) -> list[str]:
    if len(sentence) <= LONG_UNIT_CHARS:
        return [sentence]
    return [c.strip() for c in _LOOSE_BREAK.split(sentence) if c.strip()] or [sentence]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _words_share(question: str) -> Callable[[str], float]:
    """The share of the question's content words and numbers a text holds (numbers count
    double, as in core/support.py's lexical()); a word held only in another form of it (the
    same stem) counts STEM_MATCH."""
    words, numbers = content_words(question), numbers_in(question)
    stems = {w: stem(w) for w in words}
    total = len(words) + len(numbers)

    def share(text: str) -> float:
        if not total:
            return 0.0
        held_words = content_words(text)
        held_stems = {stem(w) for w in held_words}
        held = sum(1.0 if w in held_words else STEM_MATCH if stems[w] in held_stems else 0.0
                   for w in words)
        return min(1.0, (held + 2 * len(numbers & numbers_in(text))) / total)
    return share


def asks_quantity(question: str) -> bool:
    return _QUANTITY.search(question) is not None


def unit_scores(question: str, pieces: Sequence[Unit],
                cosines: Sequence[float] | None) -> list[float]:
    """Each unit's score for question (cosines: by meaning too, as in choose)."""
    quantity = asks_quantity(question)
    share_of = _words_share(question)
    scores = []
    for i, piece in enumerate(pieces):
        words = share_of(piece.scored)
        if piece.header:
            words += HEADER_WEIGHT * share_of(piece.header)
        score = words if cosines is None else (
            LEXICAL_SHARE * words + (1 - LEXICAL_SHARE) * max(0.0, cosines[i]))
        if quantity and numbers_in(piece.text):
            score += NUMBER_BONUS
        scores.append(score)
    return scores


def choose(question: str, pieces: Sequence[Unit], cosines: Sequence[float] | None) -> list[int]:
    """The indexes of the units a brief keeps, in passage order (never none); cosines: each
    unit's similarity to the question, when scored by meaning too."""
    if not pieces:
        return []
    scores = unit_scores(question, pieces, cosines)
    # The question's own numbers are kept wherever they are (a year, a dose, a clause number).
    asked_numbers = numbers_in(question)
    must = {i for i, p in enumerate(pieces) if asked_numbers & numbers_in(p.text)}
    best = max(range(len(pieces)), key=lambda i: (scores[i], -i))
    bar = max(FLOOR, RELATIVE * scores[best])
    room = BRIEF_SHARE * sum(len(p.text) for p in pieces)
    kept = {best} | must
    used = sum(len(pieces[i].text) for i in kept)
    for i in sorted(range(len(pieces)), key=lambda i: (-scores[i], i)):
        if i in kept or scores[i] < bar:
            continue
        if used + len(pieces[i].text) > room:
            continue  # a shorter unit further down may still fit
        kept.add(i)
        used += len(pieces[i].text)
    return sorted(kept)


def render(pieces: Sequence[Unit], kept: Sequence[int]) -> str:
    """The kept units in passage order, text left out marked with GAP; a table's header row or
    a list's lead-in is shown once, above the first kept unit under it."""
    out: list[str] = []
    shown: set[tuple[str, ...]] = set()
    previous: int | None = None
    for i in kept:
        piece = pieces[i]
        lead = piece.lead if piece.lead not in shown else ()
        shown.add(piece.lead)
        if previous is None:
            sep = ""
        elif piece.line == pieces[previous].line and not lead:
            sep = " " if i == previous + 1 else f" {GAP} "
        else:
            sep = "\n" if i == previous + 1 else f"\n{GAP}\n"
        out.append(sep + "\n".join([*lead, piece.text]))
        previous = i
    if previous is not None and previous < len(pieces) - 1:
        # Text left out after the last kept unit: on its line if that line goes on, else on a
        # line of its own (a table row stays a row).
        out.append(f" {GAP}" if pieces[previous + 1].line == pieces[previous].line else f"\n{GAP}")
    return "".join(out)


def section_of(source: Source) -> str:
    """The passage's heading path without the document title (which the source shows)."""
    path = [h for h in source.hit.heading_path.split(HEADING_SEPARATOR)
            if h.strip() and h.strip() != source.hit.title.strip()]
    return HEADING_SEPARATOR.join(path)


def briefs(question: str, sources: Sequence[Source],
           embedder: Embedder | None = None) -> list[str]:
    """Each source's brief for question, in the order of sources, scored by words; with
    embedder, by words and the model's cosine (the units of all sources in one call of the
    model: seconds on CPU, so the answer prompt does not; tests/bench/brief.py compares)."""
    texts = [s.hit.text.strip() for s in sources]
    split = [units(t) if len(t) >= WHOLE_BELOW_CHARS else [] for t in texts]
    if not content_words(question):  # nothing to score by: the passages as they are
        split = [[] for _ in texts]
    wanted = [(k, j) for k, pieces in enumerate(split) if len(pieces) > 1
              for j in range(len(pieces))]
    cosines = _cosines(embedder, question, [split[k][j].meaning() for k, j in wanted])
    by_source: dict[int, list[float]] = {}
    for (k, _), cosine in zip(wanted, cosines or [], strict=False):
        by_source.setdefault(k, []).append(cosine)
    out = []
    for k, text in enumerate(texts):
        pieces = split[k]
        if len(pieces) < 2:
            out.append(text)
            continue
        kept = choose(question, pieces, by_source.get(k))
        out.append(render(pieces, kept) if len(kept) < len(pieces) else text)
    return out


def _cosines(embedder: Embedder | None, question: str, texts: list[str]) -> list[float] | None:
    if embedder is None or not texts:
        return None
    try:
        query = embedder.embed_query(question)
        vectors = embedder.embed_passages(texts)
    except (EmbeddingModelError, LlmError):  # Ollama's model, Ollama down: words alone
        return None
    if vectors is None:
        return None
    norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(query)), 1e-9)
    return [float(v) for v in (vectors @ query) / np.maximum(norms, 1e-9)]
