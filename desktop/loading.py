"""Work the viewer and the settings need done in a worker: a document's text, the model choices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.paths import default_library_dir
from desktop.viewer import TextDocument

if TYPE_CHECKING:
    from core.library import Library
    from desktop.workers import Task

PDF_TYPES = {"pdf"}


@dataclass(frozen=True)
class LoadedDocument:
    """What the viewer needs to show a document: the stored PDF, or the text of anything else."""

    id: int
    title: str
    pdf: Path | None
    text: TextDocument | None
    message: str | None = None


def library_dir(setting: str) -> Path:
    """The folder the library setting names; empty means $FOLIO_HOME or the user data folder."""
    return Path(setting).expanduser() if setting else default_library_dir()


def load_document(library: Library, doc_id: int) -> LoadedDocument:
    doc = library.document(doc_id)
    if doc is None:
        return LoadedDocument(doc_id, "", None, None, "This document is no longer in the library.")
    path = library.stored_file(doc)
    if path is None or not path.exists():
        return LoadedDocument(doc_id, doc.title, None, None,
                              f"Folio has no copy of “{doc.title}” to show ({doc.error or 'missing'}).")
    if doc.doc_type in PDF_TYPES:
        return LoadedDocument(doc_id, doc.title, path, None)
    text = library.document_text(doc_id)
    return LoadedDocument(doc_id, doc.title, None, TextDocument(doc.title, text))


def embedding_choices(_library: object, _task: Task[list[tuple[str, str]]]
                      ) -> list[tuple[str, str]]:
    """The (name, label) of the embedding models a library could switch to."""
    from core.embedding import BUNDLED_MODEL, catalog_models
    from desktop.settings_dialog import embedding_options

    try:
        catalog = catalog_models()
    except Exception:  # fastembed's catalog is optional: offline the bundled model is enough
        catalog = []
    return embedding_options(catalog, BUNDLED_MODEL)
