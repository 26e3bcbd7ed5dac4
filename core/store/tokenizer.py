"""Folio's FTS5 tokenizer, "folio": what a keyword is, in every script.

It is FTS5's own chain, porter over unicode61 with remove_diacritics 2 (Müller, müller and
muller are one term; é, ñ, ç fold the same way), with three additions:

- Combining marks are word characters (unicode61's categories 'L* N* Co M*'). With the default
  'L* N* Co', the vowel signs of Devanagari and the other Indic scripts (Mn/Mc) split every
  word: हिन्दी became the tokens ह, न, द. Latin combining accents are still removed.
- Ligatures and presentation forms (ﬁ; the Arabic letters' contextual forms, which is what
  text extraction gives for most Arabic PDFs) are read as the letters they stand for (NFKC).
- Chinese, Japanese and Korean have no spaces between words (Korean's particles attach to the
  word: 서울에서 is "in Seoul"), so unicode61 made one token of a whole sentence. Each run of
  Han, kana or Hangul characters becomes its overlapping bigrams instead (東京都に → 東京 京都
  都に), a one-character run stays itself. Any word of two or more characters inside a
  sentence is then found, at indexing and query time alike: FTS5 runs this tokenizer on MATCH
  phrases too (a phrase's bigrams are consecutive positions, so a CJK phrase matches exactly),
  and core/keyword_index.py tokenizes with it through search_queries.FTS_TOKENIZER.

Porter stays on every token: its rules only remove ASCII suffixes, so Cyrillic, Greek, Arabic,
Devanagari and CJK tokens pass through it unchanged, and folded German or French words are
stemmed (élections -> elect, Berichts -> bericht): on 16 German and French pairs of a word
and another form of it, 7 meet with Porter and none without, and no pair of different words
meets (tests/core/test_languages.py).

Cost: text without CJK or compatibility characters (bytes.isascii(), else a byte search for
their UTF-8 lead bytes) is handed to the built-in chain and its token list returned as is;
what is left is apsw's round trip through Python, which roughly doubles FTS5's own indexing
time (SciFact and Cranfield, 9.3 MB: 0.25-0.45 s -> 0.65-1.0 s at a load of 5 on 2 cores, some
50-90 µs more a passage, against milliseconds to embed one). The keyword index skips even
that: tokens() calls the built-in chain directly for such text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import cast

import apsw

NAME = "folio"
# Part of the keyword index's cache format: bump it whenever what this tokenizer emits changes
# (and add a migration rebuilding passages_fts).
VERSION = 1
INNER = ("porter", ["unicode61", "remove_diacritics", "2", "categories", "L* N* Co M*"])

_CJK_RANGES = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana (ー included), extensions
    "\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK unified ideographs, extension A
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"  # Hangul syllables and Jamo extensions
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f\uffa0-\uffdc"  # halfwidth Katakana and Hangul
    "\U00020000-\U0003134f"  # CJK extensions B to G
)
_CJK_RUN = re.compile(f"[{_CJK_RANGES}]+")
# Compatibility characters that PDF text layers are full of, read as their NFKC forms: the
# Latin and Armenian ligatures (ﬁ -> fi) and the Hebrew and Arabic presentation forms, which
# is what MuPDF extracts from most Arabic PDFs (ﺍﻝﻡﻙﺕﺏﺓ -> المكتبة).
_COMPATIBILITY = re.compile("[\ufb00-\ufb06\ufb13-\ufb17\ufb1d-\ufdff\ufe70-\ufefe]")
# The lead bytes of every UTF-8 sequence above: absent (most text), the text has neither.
_MAYBE_CJK = re.compile(rb"[\xe1\xe3-\xed\xef\xf0]")

Token = tuple[int, int, str]


def _bigrams(run: str, offset: int) -> list[Token]:
    """(start byte, end byte, bigram) of a run of CJK characters starting at byte offset."""
    ends = [offset]
    for char in run:
        ends.append(ends[-1] + len(char.encode("utf-8")))
    if len(run) == 1:
        return [(ends[0], ends[1], run)]
    return [(ends[i], ends[i + 2], run[i:i + 2]) for i in range(len(run) - 1)]


def _no_cjk(utf8: bytes) -> bool:
    """True when utf8 surely holds no CJK or compatibility character (it may be wrong the
    other way)."""
    return utf8.isascii() or _MAYBE_CJK.search(utf8) is None


def _fold_compatibility(text: str) -> tuple[str, list[int]]:
    """text with its compatibility characters NFKC-folded, and for each UTF-8 byte offset of
    the folded text (and its end) the offset in text it came from."""
    folded: list[str] = []
    origin: list[int] = []
    at = 0
    for char in text:
        size = len(char.encode("utf-8"))
        form = unicodedata.normalize("NFKC", char) if _COMPATIBILITY.match(char) else char
        folded.append(form)
        origin.extend([at] * len(form.encode("utf-8")))
        at += size
    origin.append(at)
    return "".join(folded), origin


def factory(db: apsw.Connection, args: Sequence[str]) -> apsw.Tokenizer:
    """The FTS5 tokenizer factory registered as "folio" on every connection."""
    if args:
        raise ValueError(f"the {NAME} tokenizer takes no arguments, got {list(args)}")
    inner = db.fts5_tokenizer(INNER[0], list(INNER[1]))

    def chain(utf8: bytes, flags: int, locale: str | None) -> list[Token]:
        # (start, end, token) triples: the chain makes no colocated tokens
        return cast(list[Token], inner(utf8, flags, locale, include_colocated=False))

    def split(text: str, flags: int, locale: str | None) -> list[Token]:
        """The chain's tokens of text, but its CJK runs as bigrams."""
        tokens: list[Token] = []
        done = 0  # characters of text handled
        at = 0  # their UTF-8 bytes
        for match in _CJK_RUN.finditer(text):
            if match.start() > done:
                between = text[done:match.start()].encode("utf-8")
                tokens.extend((start + at, end + at, token)
                              for start, end, token in chain(between, flags, locale))
                at += len(between)
            run = match.group()
            tokens.extend(_bigrams(run, at))
            at = tokens[-1][1]
            done = match.end()
        if done < len(text):
            tokens.extend((start + at, end + at, token)
                          for start, end, token in chain(text[done:].encode("utf-8"), flags,
                                                         locale))
        return tokens

    def tokenize(utf8: bytes, flags: int, locale: str | None) -> list[Token]:
        if _no_cjk(utf8):
            return chain(utf8, flags, locale)
        try:
            text = utf8.decode("utf-8")
        except UnicodeDecodeError:
            return chain(utf8, flags, locale)
        origin = None
        if _COMPATIBILITY.search(text):
            text, origin = _fold_compatibility(text)
            utf8 = text.encode("utf-8")
        tokens = split(text, flags, locale) if _CJK_RUN.search(text) else chain(
            utf8, flags, locale)
        if origin is not None:  # offsets into the text FTS5 gave
            tokens = [(origin[start], origin[end], token) for start, end, token in tokens]
        return tokens

    return tokenize


def tokens(db: apsw.Connection) -> Callable[[bytes, int], list[str]]:
    """(utf8, FTS5 reason) -> the tokens "folio" gives, without offsets: the built-in chain
    called directly for text without CJK (no round trip through Python), "folio" otherwise."""
    inner = db.fts5_tokenizer(INNER[0], list(INNER[1]))
    folio = db.fts5_tokenizer(NAME, [])

    def tokenize(utf8: bytes, reason: int) -> list[str]:
        chosen = inner if _no_cjk(utf8) else folio
        return cast(list[str], chosen(utf8, reason, None, include_offsets=False,
                                      include_colocated=False))

    return tokenize


def register(db: apsw.Connection) -> None:
    """Make "folio" known to db (FTS5 looks a table's tokenizer up whenever it opens it)."""
    db.register_fts5_tokenizer(NAME, factory)
