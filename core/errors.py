"""Errors with a kind and a sentence a person understands."""

from __future__ import annotations

from core.types import FailureKind


class FolioError(Exception):
    """Base of Folio's own errors; str() is the message to show."""


class IngestError(FolioError):
    """A file could not be indexed, for one clear reason."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class EmbeddingModelError(FolioError):
    """The embedding model could not be loaded or downloaded."""


class EmbeddingUnavailable(EmbeddingModelError):
    """The embedding model is served by Ollama, which cannot embed now (not running, the model
    not installed, a reply cut off): not the document's fault, and the library is unchanged."""


class LibraryError(FolioError):
    """The library folder or file cannot be used."""
