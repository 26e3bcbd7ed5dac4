"""Folio's FTS5 tokenizer, "folio": what a keyword is, in every script.

It is FTS5's own chain, porter over unicode61 with remove_diacritics 2 (Müller, müller and
muller are one term; é, ñ, ç fold the same way), with two additions:

- Combining marks are word characters (unicode61's categories 'L* N* Co M*'). With the default
  'L* N* Co', the vowel signs of Devanagari and the other Indic scripts (Mn/Mc) split every
  word: हिन्दी became the tokens ह, न, द. Latin combining accents are still removed.
- Chinese, Japanese and Korean have no spaces between words (Korean's particles attach to the
  word: 서울에서 is "in Seoul"), so unicode61 made one token of a whole sentence. Each run of
  Han, kana or Hangul characters becomes its overlapping bigrams instead (東京都に → 東京 京都
  都に), a one-character run stays itself. Any word of two or more characters inside a
  sentence is then found, at indexing and query time alike: FTS5 runs this tokenizer on MATCH
  phrases too (a phrase's bigrams are consecutive positions, so a CJK phrase matches exactly),
  and core/keyword_index.py tokenizes with it through search_queries.FTS_TOKENIZER.

Porter stays on every token: its rules only remove ASCII suffixes, so Cyrillic, Greek, Arabic,
Devanagari and CJK tokens pass through it unchanged, and folded German or French words are
stemmed (Hauses -> haus, élections -> elect; tests/core/test_languages.py has the measure).

Cost: text without CJK characters (bytes.isascii(), else a byte search for the lead bytes
of CJK code points) is handed to the built-in chain and its token list returned as is; what is
left is apsw's round trip through Python, +0.07 s on SciFact's 7.8 MB when FTS5 indexes it
(about 14 µs a passage; measured in the commit that made this). The keyword index skips even
that: tokens() calls the built-in chain directly for such text.
"""

from __future__ import annotations

import re
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
# The lead bytes of every UTF-8 sequence above: absent (most text), the text has no CJK.
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
    """True when utf8 surely holds no CJK character (it may be wrong the other way)."""
    return utf8.isascii() or _MAYBE_CJK.search(utf8) is None


def factory(db: apsw.Connection, args: Sequence[str]) -> apsw.Tokenizer:
    """The FTS5 tokenizer factory registered as "folio" on every connection."""
    if args:
        raise ValueError(f"the {NAME} tokenizer takes no arguments, got {list(args)}")
    inner = db.fts5_tokenizer(INNER[0], list(INNER[1]))

    def chain(utf8: bytes, flags: int, locale: str | None) -> list[Token]:
        # (start, end, token) triples: the chain makes no colocated tokens
        return cast(list[Token], inner(utf8, flags, locale, include_colocated=False))

    def tokenize(utf8: bytes, flags: int, locale: str | None) -> list[Token]:
        if _no_cjk(utf8):
            return chain(utf8, flags, locale)
        try:
            text = utf8.decode("utf-8")
        except UnicodeDecodeError:
            return chain(utf8, flags, locale)
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
        if done == 0:
            return chain(utf8, flags, locale)
        if done < len(text):
            tokens.extend((start + at, end + at, token)
                          for start, end, token in chain(utf8[at:], flags, locale))
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
