"""Turns any text a user types into a safe FTS5 query: quoted terms, phrases kept, noise dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A bound on hostile pastes, not a ranking choice: no question of either development set has
# more than ~30 words (tests/core/test_rank_safety.py checks that none reaches it), and a
# 5,000-word paste still searches in milliseconds.
MAX_WORDS = 256

# Words that match nearly every passage. Long questions are full of them ("give a response
# based on the details shown in..."), and OR-ing them in swamps the rare words that matter.
_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves give given show shown tell based
details detail describe described according answer response please question using use used
following document documents text passage say says said
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Lucene's EnglishAnalyzer list (ENGLISH_STOP_WORDS_SET), for comparison in tune_search.py.
_LUCENE_STOPWORD_TEXT = """
a an and are as at be but by for if in into is it no not of on or such that the their then
there these they this to was will with
"""
LUCENE_STOPWORDS = frozenset(_LUCENE_STOPWORD_TEXT.split())
STOPWORD_LISTS = {"folio": STOPWORDS, "lucene": LUCENE_STOPWORDS, "none": frozenset()}

_PHRASE = re.compile(r'"([^"]+)"')
# Word characters: \w, and the combining marks \w leaves out (Python's \w is letters and
# digits only), without which a Devanagari word fell apart at its vowel signs (हिन्दी -> ह न द):
# the combining diacritics, Hebrew and Arabic points, the Indic blocks but their dandas, the
# Thai, Lao, Tibetan and Myanmar signs. What a keyword is stays the tokenizer's
# (core/store/tokenizer.py): a term here is only what is quoted and counted as one word.
_MARKS = ("\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
          "\u06d6-\u06ed\u0900-\u0963\u0966-\u0dff\u0e31-\u0e3a\u0e47-\u0e4e"
          "\u0eb1-\u0ecd\u0f18-\u0fbc\u102b-\u103e\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
          "\ufe20-\ufe2f")
_WORD = f"[\\w{_MARKS}]"
# A term is a run of word characters, joined by inner hyphens, dots, slashes or apostrophes:
# "BX-200", "3.5", "e.g", "don't" stay one term (FTS5 reads a quoted term as a phrase).
_TERM = re.compile(f"{_WORD}+(?:[-./'’]{_WORD}+)*")


@dataclass(frozen=True)
class KeywordQuery:
    terms: tuple[str, ...]  # the words kept, each once
    phrases: tuple[str, ...]
    words: tuple[str, ...] = ()  # the words kept, as often as the query has them

    def scored_words(self) -> tuple[str, ...]:
        """What BM25 ranks by: the words kept (with repeats) and the words of the phrases."""
        return (*(self.words or self.terms), *self.phrases)

    def phrase_expression(self) -> str | None:
        """The FTS5 MATCH string requiring every phrase, or None without phrases."""
        return " AND ".join(_quote(p) for p in self.phrases) or None

    def match_expression(self, require_phrases: bool = True) -> str | None:
        """The FTS5 MATCH string; every piece is a double-quoted string, so nothing is syntax."""
        terms = " OR ".join(_quote(t) for t in self.terms)
        phrases = [_quote(p) for p in self.phrases]
        if phrases and require_phrases:
            required = " AND ".join(phrases)
            return f"{required} AND ({terms})" if terms else required
        pieces = [p for p in (*phrases, terms) if p]
        return " OR ".join(pieces) if pieces else None


def _quote(text: str) -> str:
    return '"' + text.replace('"', " ") + '"'


def parse(text: str, stopwords: frozenset[str] = STOPWORDS) -> KeywordQuery:
    """The keyword side of a query: quoted phrases, and the words that are not noise."""
    phrases = tuple(dict.fromkeys(
        p.strip().lower() for p in _PHRASE.findall(text) if _TERM.search(p)))
    rest = _PHRASE.sub(" ", text)
    words = [w.lower().strip("'’") for w in _TERM.findall(rest)]
    words = [w for w in words if w]
    kept = [w for w in words if w not in stopwords and not (len(w) == 1 and w.isalpha())]
    if not kept and not phrases:
        kept = words  # a query made only of common words still means something
    kept = kept[:MAX_WORDS]
    return KeywordQuery(terms=tuple(dict.fromkeys(kept)), phrases=phrases[:8], words=tuple(kept))
