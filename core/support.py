"""Which words of a source support each sentence of an answer (issue 17, span-exact citations).

Each sentence of an answer that cites [n] is aligned to the sentence of source n that supports
it best: a score from the content words and numbers they share (what share of the answer
sentence's words the source sentence holds) and, where the embedding model can be asked, the
cosine of the two sentences. A cited source whose best sentence scores under SUPPORTED is
"not found in [n]"; a number in the answer that no cited source holds is flagged too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from core.answer_types import SentenceSupport, Source, Span
from core.chunking import split_sentences
from core.citations import CITATION, cited_numbers
from core.embedding import Embedder
from core.errors import EmbeddingModelError
from core.llm import LlmError
from core.querytext import STOPWORDS

# Calibrated on sentences the test server writes (restated source sentences score 0.8-1.0)
# and on made-up ones (a sentence about something else scores under 0.3 with MiniLM).
SUPPORTED = 0.45
LEXICAL_SHARE = 0.5  # of the score; the rest is the cosine (all lexical without a model)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*\d%?|(?<![\w.])\d%?")


def content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS}


def numbers_in(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def lexical(claim: str, candidate: str) -> float:
    """The share of claim's content words (numbers count double) that candidate holds."""
    words, numbers = content_words(claim), numbers_in(claim)
    total = len(words) + len(numbers)
    if not total:
        return 0.0
    held = len(words & content_words(candidate)) + 2 * len(numbers & numbers_in(candidate))
    return min(1.0, held / total)


_LEADING_MARKS = re.compile(rf"^(?:\s*{CITATION.pattern})+", re.IGNORECASE)


def cited_sentences(answer: str) -> list[str]:
    """The answer's sentences, each with the marks that cite it: a mark written after the full
    stop ("... months. [1] It ...") belongs to the sentence before it, not the next one. A line
    ends a sentence too: the items of a list a model writes without full stops are claims of
    their own, each with its own citation."""
    sentences: list[str] = []
    lines = [line for line in answer.splitlines() if line.strip()] or [answer]
    for sentence in [piece for line in lines for piece in split_sentences(line) or [line]]:
        lead = _LEADING_MARKS.match(sentence)
        if lead is not None and sentences:
            sentences[-1] += " " + lead.group(0).strip()
            sentence = sentence[lead.end():].strip()
        if sentence:
            sentences.append(sentence)
    return sentences


def align(answer: str, sources: Sequence[Source], embedder: Embedder | None = None
          ) -> tuple[SentenceSupport, ...]:
    """The support of every sentence of answer that cites a known source."""
    by_number = {s.n: s for s in sources}
    claims = [(s, [n for n in cited_numbers(s) if n in by_number])
              for s in cited_sentences(answer)]
    claims = [(s, ns) for s, ns in claims if ns]
    if not claims:
        return ()
    pieces = {n: split_sentences(by_number[n].hit.text) or [by_number[n].hit.text]
              for _, ns in claims for n in ns}
    cosines = _cosines(embedder, [CITATION.sub("", s) for s, _ in claims], pieces)
    out = []
    for index, (sentence, numbers) in enumerate(claims):
        plain = CITATION.sub("", sentence)
        spans = []
        for n in numbers:
            scored = []
            for j, piece in enumerate(pieces[n]):
                cosine = cosines.get((index, n, j))
                score = lexical(plain, piece) if cosine is None else (
                    LEXICAL_SHARE * lexical(plain, piece) + (1 - LEXICAL_SHARE) * max(0.0, cosine))
                scored.append((score, -j, piece))
            score, _, best = max(scored)
            spans.append(Span(n, " ".join(best.split()), by_number[n].hit.page, round(score, 3),
                              score >= SUPPORTED))
        held = set().union(*(numbers_in(by_number[n].hit.text) for n in numbers))
        missing = tuple(sorted(numbers_in(plain) - held))
        out.append(SentenceSupport(sentence, tuple(spans), missing))
    return tuple(out)


def _cosines(embedder: Embedder | None, claims: list[str], pieces: dict[int, list[str]]
             ) -> dict[tuple[int, int, int], float]:
    """{(claim index, n, piece index): cosine}; {} when there is no model to ask."""
    if embedder is None:
        return {}
    flat = [(n, j, p) for n, ps in pieces.items() for j, p in enumerate(ps)]
    try:
        vectors = embedder.embed_passages(claims + [p for _, _, p in flat])
    except (EmbeddingModelError, LlmError):
        return {}
    if vectors is None:
        return {}
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    claim_vectors, piece_vectors = unit[:len(claims)], unit[len(claims):]
    similarity = claim_vectors @ piece_vectors.T
    return {(i, n, j): float(similarity[i, k]) for i in range(len(claims))
            for k, (n, j, _) in enumerate(flat)}
