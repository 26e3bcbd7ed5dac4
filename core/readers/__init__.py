"""Readers: one module per format, each turning a file into paragraphs with page and position."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from core.errors import IngestError
from core.types import FailureKind, ReadOptions, ReadResult

# on_page(pages_done, pages_total, what): what is "" or "OCR"; called after every page of a
# paged document, so the reader process can show progress and judge a page that hangs.
PageCallback = Callable[[int, int, str], None]

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

# The module of core.readers that reads each type; each has read(path, title_hint), and "paged"
# read(path, title_hint, password, options, on_page).
READER_MODULES: dict[str, str] = {
    "pdf": "paged", "epub": "paged", "xps": "paged", "fb2": "paged",
    "markdown": "markdown", "text": "text", "html": "html",
}


def detect_type(path: Path, head: bytes = b"") -> str | None:
    """The document type of path by its suffix, or by its first bytes when the suffix says nothing."""
    doc_type = SUFFIX_TYPES.get(path.suffix.lower())
    if doc_type is None and head.lstrip()[:5] == b"%PDF-":
        return "pdf"
    return doc_type


def read_document(path: Path, doc_type: str, title_hint: str, password: str | None = None,
                  options: ReadOptions | None = None,
                  on_page: PageCallback | None = None) -> ReadResult:
    """Read path as doc_type; raises IngestError with a clear reason when it cannot."""
    module_name = READER_MODULES.get(doc_type)
    if module_name is None:
        raise IngestError(FailureKind.UNSUPPORTED, f"Unsupported file type '{path.suffix}'.")
    # Imported on first use: PyMuPDF alone takes a second to import.
    module = importlib.import_module(f"core.readers.{module_name}")
    if module_name == "paged":
        paged: Callable[[Path, str, str | None, ReadOptions, PageCallback | None], ReadResult]
        paged = module.read
        return paged(path, title_hint, password, options or ReadOptions(), on_page)
    reader: Callable[[Path, str], ReadResult] = module.read
    return reader(path, title_hint)
