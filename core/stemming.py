"""One stem for "the same word in another form", wherever Folio counts a question's words in a
sentence without the keyword index: the evidence brief (core/brief.py) and the extractive
answer's choice of sentence (core/answer.py).

The stem is Snowball's English stemmer (Porter2), from py-rust-stemmers, the Rust library
fastembed (the embedding dependency) already installs: about 1 µs a word. It meets "cities" and
"city", "studies" and "study", "runs" and "run", "stops" and "stopped", and keeps apart what a
five-letter prefix conflated ("contract" and "contrast", "provide" and "province") and what the
keyword index's FTS5 porter conflates ("general" and "generator", both "gener" in Porter's
first version). It is not the keyword index's stem on purpose: this one only decides how much a
word held in a sentence counts, never which passages match.
"""

from __future__ import annotations

import functools

import py_rust_stemmers


@functools.cache
def _english() -> py_rust_stemmers.SnowballStemmer:
    return py_rust_stemmers.SnowballStemmer("english")


def stem(word: str) -> str:
    """The stem of a word, lowercased ("Stops", "stopped" -> "stop"; "cities" -> "citi")."""
    return str(_english().stem_word(word.lower()))
