"""Answers that leave the app with their sources: Markdown with footnotes, and folio:// links.

A conversation becomes Markdown: each question as a heading, each answer with its citation
marks turned into footnotes ([^1]) that give the document's title, the page (its label), the
sentence of the cited passage that best supports the answer's sentence, and a deep link
`folio://open?doc=SHA256&page=N` that opens Folio at that page.

A deep link may come from anywhere (a web page, an email), so parse_link accepts exactly one
shape: scheme folio, action open, a 64-hex sha256 of a document in the library and a page
number within it; anything else is refused with a sentence, and nothing is opened, added or run.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from core.answer_types import Citation, Turn
from core.chunking import split_sentences
from core.citations import CITATION, cited_numbers
from core.errors import FolioError
from core.support import cited_sentences, lexical
from core.types import Document

SCHEME = "folio"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PAGE = re.compile(r"[1-9][0-9]{0,5}")  # ASCII digits only (str.isdigit takes '²' and '١')
QUOTE_CHARS = 300


class LinkError(FolioError):
    """A folio:// link that Folio does not open."""


@dataclass(frozen=True)
class Link:
    sha256: str
    page: int


def link(sha256: str, page: int) -> str:
    return f"{SCHEME}://open?doc={sha256}&page={int(page)}"


def parse_link(url: str, documents: Sequence[Document]) -> tuple[Document, int]:
    """The document and page a folio:// link names, or LinkError saying why it is refused."""
    named = link_form(url)
    document = next((d for d in documents if d.sha256 == named.sha256
                     and d.status.value == "indexed"), None)
    if document is None:
        raise LinkError("The document this link names is not in the library.")
    if not 1 <= named.page <= max(1, document.pages):
        raise LinkError(f"'{document.title}' has no page {named.page}.")
    return document, named.page


def link_form(url: str) -> Link:
    """The sha256 and page of a link of the one accepted shape, whatever the library holds (the
    launcher's check before it hands a link to a running window), or LinkError."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() != SCHEME or parts.netloc.lower() != "open" or parts.path not in (
            "", "/") or parts.fragment:
        raise LinkError("Folio opens only links of the form folio://open?doc=SHA256&page=N.")
    try:
        query = urllib.parse.parse_qs(parts.query, strict_parsing=True, max_num_fields=2)
    except ValueError as exc:
        raise LinkError("This folio:// link is not well formed.") from exc
    if set(query) != {"doc", "page"} or any(len(v) != 1 for v in query.values()):
        raise LinkError("A folio:// link names a document (doc) and a page (page), nothing else.")
    sha, page_text = query["doc"][0].lower(), query["page"][0]
    if not _SHA256.fullmatch(sha):
        raise LinkError("The link's doc is not the sha256 of a document.")
    if not _PAGE.fullmatch(page_text):
        raise LinkError("The link's page is not a page number.")
    return Link(sha, int(page_text))


def supporting_sentence(claim: str, passage: str) -> str:
    """The sentence of passage that shares the most of claim's content words and numbers
    (core/support.py's lexical score)."""
    plain = CITATION.sub("", claim)
    sentences = split_sentences(passage) or [passage]
    best = max(sentences, key=lambda s: (lexical(plain, s), -sentences.index(s)))
    best = " ".join(best.split())
    return best if len(best) <= QUOTE_CHARS else best[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"


def _claims_citing(answer: str) -> dict[int, str]:
    """For each source number, the answer's sentences that cite it, joined."""
    claims: dict[int, list[str]] = {}
    for sentence in cited_sentences(answer):
        for n in cited_numbers(sentence):
            claims.setdefault(n, []).append(sentence)
    return {n: " ".join(parts) for n, parts in claims.items()}


def turn_markdown(turn: Turn, documents: dict[int, Document], first_note: int = 1) -> tuple[
        str, list[str], int]:
    """(the answer with footnote marks, the footnotes, the next footnote number)."""
    claims = _claims_citing(turn.answer)
    numbers: dict[int, int] = {}
    notes: list[str] = []
    for citation in turn.citations:
        note = first_note + len(numbers)
        numbers[citation.n] = note
        notes.append(f"[^{note}]: {_footnote(citation, claims.get(citation.n, ''), documents)}")

    def mark(match: re.Match[str]) -> str:
        cited = [numbers[n] for n in cited_numbers(match.group(0)) if n in numbers]
        return "".join(f"[^{n}]" for n in cited) if cited else match.group(0)

    return CITATION.sub(mark, turn.answer), notes, first_note + len(numbers)


def _escaped(text: str) -> str:
    """Document text as Markdown text: its brackets and parentheses make no links or notes."""
    return re.sub(r"([\\`*_\[\]()<>^])", r"\\\1", text)


def _footnote(citation: Citation, claim: str, documents: dict[int, Document]) -> str:
    quote = _escaped(supporting_sentence(claim, citation.text))
    where = _escaped(f"{citation.title}, p. {citation.page_display}")
    document = documents.get(citation.document_id)
    if document is None or document.sha256 is None:
        return f"{where} (document removed): “{quote}”"
    return f"[{where}]({link(document.sha256, citation.page)}): “{quote}”"


def conversation_markdown(title: str, turns: Sequence[Turn],
                          documents: Sequence[Document]) -> str:
    """The conversation as Markdown, its sources as footnotes with deep links."""
    by_id = {d.id: d for d in documents}
    lines = [f"# {title}", ""]
    notes: list[str] = []
    next_note = 1
    for turn in turns:
        text, turn_notes, next_note = turn_markdown(turn, by_id, next_note)
        lines += [f"## {turn.question}", "", text.strip(), ""]
        notes += turn_notes
    if notes:
        lines += notes
    return "\n".join(lines).rstrip() + "\n"
