"""A document's sections for a whole-document answer, and the extractive overview made without a
model: the outline with each section's most central sentences, cited.

The sections come from the passages' heading paths (the PDF's outline where it has one, else
the headings the reader found): the shallowest heading level that splits the document in two
or more, small neighbours merged, a section too long for one prompt cut into parts. A document
without usable headings is walked in page ranges of PAGES_PER_SECTION pages, cut the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.chunking import split_sentences
from core.embedding import Embedder
from core.errors import EmbeddingModelError
from core.store.queries import HEADING_SEPARATOR
from core.types import Hit

PAGES_PER_SECTION = 5  # a document without headings is walked in ranges of this many pages
MIN_SECTION_TOKENS = 150  # a section smaller than this is merged with its next neighbour
MAX_DEPTH = 3  # heading levels tried, from the top
CENTRAL_SENTENCES = 2  # per section in the extractive overview
CENTRAL_PASSAGES = 2  # whose sentences are candidates (the passages nearest the section's centre)
CANDIDATES_PER_PASSAGE = 8  # each embedded: the cost of the overview without a model
MIN_SENTENCE_WORDS = 5
MAX_SENTENCE_CHARS = 400
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Section:
    """Consecutive passages of a document that are summarised together; number from 1."""

    number: int
    heading: str  # as shown: "3 Revenue", "Pages 6–10", "Risks (part 2 of 3)"
    path: tuple[str, ...]  # the heading path it stands for (() for a page range)
    passages: tuple[Hit, ...]
    tokens: int

    @property
    def page_start(self) -> int:
        return min(p.page for p in self.passages)

    @property
    def page_end(self) -> int:
        return max(p.page_end for p in self.passages)

    @property
    def pages(self) -> str:
        first, last = self.passages[0], self.passages[-1]
        start = first.page_label or str(self.page_start)
        # A passage's label is its first page's: the last page of the section has one only
        # when the last passage ends on the page it starts on.
        end = (last.page_label if last.page_end == last.page else None) or str(self.page_end)
        return f"p. {start}" if self.page_start == self.page_end else f"pp. {start}–{end}"


@dataclass
class _Run:
    heading: str
    path: tuple[str, ...]
    items: list[tuple[Hit, int]]

    @property
    def tokens(self) -> int:
        return sum(t for _, t in self.items)


def _path(hit: Hit) -> tuple[str, ...]:
    return tuple(hit.heading_path.split(HEADING_SEPARATOR)) if hit.heading_path else ()


def _runs_at(passages: Sequence[tuple[Hit, int]], depth: int) -> list[_Run]:
    runs: list[_Run] = []
    for hit, tokens in passages:
        key = _path(hit)[:depth]
        if runs and runs[-1].path == key:
            runs[-1].items.append((hit, tokens))
        else:
            runs.append(_Run(key[-1] if key else "", key, [(hit, tokens)]))
    return runs


def _page_runs(passages: Sequence[tuple[Hit, int]]) -> list[_Run]:
    runs: list[_Run] = []
    for hit, tokens in passages:
        window = (hit.page - 1) // PAGES_PER_SECTION
        if runs and (runs[-1].items[0][0].page - 1) // PAGES_PER_SECTION == window:
            runs[-1].items.append((hit, tokens))
        else:
            runs.append(_Run("", (), [(hit, tokens)]))
    return runs


def _merge_small(runs: list[_Run], budget: int) -> list[_Run]:
    """A run under MIN_SECTION_TOKENS joins the next (or the last, the one before) while the
    two fit the budget: a short preface or a one-line heading is not a request of its own."""
    merged: list[_Run] = []
    for run in runs:
        last = merged[-1] if merged else None
        if last is not None and (last.tokens < MIN_SECTION_TOKENS or run.tokens < MIN_SECTION_TOKENS
                                 ) and last.tokens + run.tokens <= budget and (
                last.path[:-1] == run.path[:-1]):
            heading = " / ".join(h for h in (last.heading, run.heading) if h)
            merged[-1] = _Run(heading, last.path if last.heading else run.path,
                              last.items + run.items)
        else:
            merged.append(run)
    return merged


def _cut(run: _Run, budget: int) -> list[_Run]:
    """The run in parts of at most budget tokens (a passage larger than the budget alone)."""
    parts: list[list[tuple[Hit, int]]] = [[]]
    used = 0
    for item in run.items:
        if parts[-1] and used + item[1] > budget:
            parts.append([])
            used = 0
        parts[-1].append(item)
        used += item[1]
    if len(parts) == 1:
        return [run]
    return [_Run(f"{run.heading or 'Pages'} (part {i} of {len(parts)})" if run.heading else "",
                 run.path, part) for i, part in enumerate(parts, start=1)]


def _page_heading(run: _Run) -> str:
    start = min(h.page for h, _ in run.items)
    end = max(h.page_end for h, _ in run.items)
    return f"Page {start}" if start == end else f"Pages {start}–{end}"


def sections_of(passages: Sequence[tuple[Hit, int]], budget: int) -> list[Section]:
    """The document's sections (see the module docstring), each at most budget tokens of
    passages (counted as the passages were: the embedding model's tokens)."""
    if not passages:
        return []
    runs: list[_Run] | None = None
    for depth in range(1, MAX_DEPTH + 1):
        found = _runs_at(passages, depth)
        if sum(1 for r in found if r.path) >= 2:
            runs = found
            break
    if runs is None:
        runs = _page_runs(passages)
    runs = [part for run in _merge_small(runs, budget) for part in _cut(run, budget)]
    return [Section(i, run.heading or _page_heading(run), run.path,
                    tuple(h for h, _ in run.items), run.tokens)
            for i, run in enumerate(runs, start=1)]


_CHAPTER = re.compile(r"\b(chapter|section|part|item|article|appendix)\s+([0-9]+|[ivxlc]+|[a-z])\b",
                      re.IGNORECASE)


def named_sections(question: str, sections: Sequence[Section]) -> list[Section]:
    """The sections a question names ("the main points of chapter 3"), or [] when it names
    none or none matches: a heading holding "Chapter 3" (or starting "3 " / "3." under a
    chapter-style word)."""
    named = _CHAPTER.findall(question)
    if not named:
        return []
    chosen: list[Section] = []
    for word, number in named:
        pattern = re.compile(rf"(?:\b{re.escape(word)}\s+{re.escape(number)}\b|^{re.escape(number)}"
                             rf"(?:[.):]|\s))", re.IGNORECASE)
        for section in sections:
            if section not in chosen and any(pattern.search(h.strip()) for h in
                                             (*section.path, section.heading)):
                chosen.append(section)
    return chosen


# --- the extractive overview ------------------------------------------------------------------

def candidate_sentences(text: str) -> list[str]:
    """Sentences of a passage worth quoting: whole sentences of prose, not table rows, not a
    heading or a few words."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip(" -*•")
        if not line or line.startswith("|"):
            continue
        for sentence in split_sentences(line):
            words = _WORD.findall(sentence)
            if len(words) >= MIN_SENTENCE_WORDS and not sentence.endswith(":"):
                if len(sentence) > MAX_SENTENCE_CHARS:
                    sentence = sentence[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
                found.append(" ".join(sentence.split()))
    return found


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: np.ndarray = vectors / np.maximum(norms, 1e-9)
    return unit


VectorOf = Callable[[int], "np.ndarray | None"]


def central_sentences(section: Section, embedder: Embedder | None, vector_of: VectorOf,
                      count: int = CENTRAL_SENTENCES) -> list[tuple[Hit, str]]:
    """The section's most central sentences, in reading order, each with its passage.

    The centre is the mean of the passages' stored vectors; the sentences of the passages
    nearest it are embedded and the nearest taken. Without a vector model (an Ollama one that
    is down) a sentence scores by how many of the section's frequent words it holds.
    """
    hits = list(section.passages)
    stored = [vector_of(h.passage_id) for h in hits]
    known = [(h, v) for h, v in zip(hits, stored, strict=True) if v is not None]
    centre: np.ndarray | None = None
    if known and embedder is not None:
        matrix = _unit(np.stack([v.astype(np.float32) for _, v in known]))
        centre = _unit(matrix.mean(axis=0))
        nearest = np.argsort(-(matrix @ centre), kind="stable")[:CENTRAL_PASSAGES]
        chosen = sorted((known[i][0] for i in nearest), key=hits.index)
    else:
        chosen = hits[:CENTRAL_PASSAGES]
    candidates: list[tuple[Hit, str]] = []
    for hit in chosen:
        for sentence in candidate_sentences(hit.text)[:CANDIDATES_PER_PASSAGE]:
            if all(sentence != s for _, s in candidates):  # a repeated sentence is one candidate
                candidates.append((hit, sentence))
    if not candidates:
        candidates = [(h, " ".join(h.text.split())[:MAX_SENTENCE_CHARS]) for h in chosen[:1]]
    scores = _scores(candidates, section, embedder, centre)
    best = sorted(np.argsort(-np.asarray(scores), kind="stable")[:count])
    return [candidates[i] for i in best]


def _scores(candidates: list[tuple[Hit, str]], section: Section, embedder: Embedder | None,
            centre: np.ndarray | None) -> list[float]:
    if centre is not None and embedder is not None:
        try:
            vectors = embedder.embed_passages([s for _, s in candidates])
        except EmbeddingModelError:  # Ollama's embedding model away: by words
            vectors = None
        if vectors is not None and vectors.shape[1] == centre.shape[0]:
            return [float(v) for v in _unit(vectors) @ centre]
    counts: dict[str, int] = {}
    for hit in section.passages:
        for word in {w.lower() for w in _WORD.findall(hit.text) if len(w) > 3}:
            counts[word] = counts.get(word, 0) + 1
    return [sum(counts.get(w, 0) for w in {w.lower() for w in _WORD.findall(s)}) / (
        1 + len(_WORD.findall(s))) for _, s in candidates]
