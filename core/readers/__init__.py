"""Readers: one module per format, each turning a file into paragraphs with page and position."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.errors import IngestError
from core.types import FailureKind, ReadResult

SUFFIX_TYPES: dict[str, str] = {
    ".pdf": "pdf",
    ".epub": "epub",
    ".xps": "xps",
    ".oxps": "xps",
    ".fb2": "fb2",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}

SUPPORTED_SUFFIXES = tuple(sorted(SUFFIX_TYPES))


def detect_type(path: Path, head: bytes = b"") -> str | None:
    """The document type of path by its suffix, or by its first bytes when the suffix says nothing."""
    doc_type = SUFFIX_TYPES.get(path.suffix.lower())
    if doc_type is None and head.lstrip()[:5] == b"%PDF-":
        return "pdf"
    return doc_type


def read_document(path: Path, doc_type: str, title_hint: str) -> ReadResult:
    """Read path as doc_type; raises IngestError with a clear reason when it cannot."""
    readers: dict[str, Callable[[Path, str], ReadResult]]
    from core.readers import html, markdown, paged, text

    readers = {
        "pdf": paged.read_paged,
        "epub": paged.read_paged,
        "xps": paged.read_paged,
        "fb2": paged.read_paged,
        "markdown": markdown.read_markdown,
        "text": text.read_text,
        "html": html.read_html,
    }
    reader = readers.get(doc_type)
    if reader is None:
        raise IngestError(FailureKind.UNSUPPORTED, f"Unsupported file type '{path.suffix}'.")
    return reader(path, title_hint)
