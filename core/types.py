"""The plain values that cross module boundaries: documents, paragraphs, passages, outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# The embedding model that ships with Folio (core/embedding.py) and its vectors' size.
BUNDLED_MODEL = "folio/all-MiniLM-L6-v2-int8"
BUNDLED_DIM = 384


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle on a page, in PDF points from the top-left corner; page is 1-based."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph as a reader found it, with where it sits in the document."""

    text: str
    page: int
    rects: tuple[Rect, ...] = ()
    headings: tuple[str, ...] = ()
    kind: str = "text"  # "text" or "table": a table is never split or joined with others
    span: tuple[int, int] | None = None  # character offsets in a text document's source


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How documents are read: OCR of pages that have no text layer, and in which languages."""

    ocr: bool = True
    ocr_languages: str = "eng"  # Tesseract's form: "eng", "eng+deu"
    tessdata_dir: str | None = None  # a folder of *.traineddata besides the bundled one


@dataclass(slots=True)
class ReadResult:
    """What a reader returns for one file."""

    title: str
    page_count: int
    page_labels: list[str | None]
    paragraphs: list[Paragraph]
    notes: list[str] = field(default_factory=list)
    tables: int = 0  # tables found and kept as Markdown tables
    ocr_pages: int = 0  # pages whose text came from OCR

    def label_of(self, page: int) -> str | None:
        if 1 <= page <= len(self.page_labels):
            return self.page_labels[page - 1]
        return None


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieval unit: whole consecutive paragraphs of one section, within a token budget."""

    ordinal: int
    text: str
    headings: tuple[str, ...]
    page_start: int
    page_end: int
    page_label: str | None
    rects: tuple[Rect, ...]
    token_count: int
    span: tuple[int, int] | None = None


class DocStatus(StrEnum):
    INDEXED = "indexed"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a file could not be indexed; each has a message a person understands."""

    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    UNSUPPORTED = "unsupported"
    DAMAGED = "damaged"
    ENCRYPTED = "encrypted"
    WRONG_PASSWORD = "wrong_password"
    TIMEOUT = "timeout"  # the reader took longer than the time limit
    MEMORY = "memory"  # the reader needed more memory than the limit
    CRASHED = "crashed"  # the reader process died on the file
    NO_TEXT = "no_text"
    TOO_LARGE = "too_large"
    NOT_TEXT = "not_text"
    STORAGE = "storage"


@dataclass(frozen=True, slots=True)
class Document:
    """A row of the library's document list."""

    id: int
    title: str
    doc_type: str
    original_path: str
    stored_path: str | None
    sha256: str | None
    size_bytes: int
    pages: int
    passages: int
    status: DocStatus
    error: str | None
    error_kind: str | None
    notes: str | None
    added_at: str


class AddStatus(StrEnum):
    ADDED = "added"
    PRESENT = "already present"
    REPLACED = "replaced"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AddOutcome:
    """What happened to one path given to Library.add.

    read_s is the time spent reading the file (in the reader child, with the round trip);
    embed_s its share of the embedding of the wave it was embedded in, by passage count.
    """

    path: str
    status: AddStatus
    document_id: int | None = None
    title: str | None = None
    passages: int = 0
    reason: str | None = None
    notes: tuple[str, ...] = ()
    pages: int = 0
    tables: int = 0
    ocr_pages: int = 0
    read_s: float = 0.0
    chunk_s: float = 0.0
    embed_s: float = 0.0
    # A failure that is not the file's (Ollama down for an Ollama embedding model): nothing
    # was recorded, and adding the file again (or the next sync) tries it again.
    transient: bool = False


class AddStage(StrEnum):
    """What Library.add is doing to the current file."""

    READING = "reading"
    OCR = "OCR"  # reading a page without a text layer by OCR
    CHUNKING = "chunking"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class AddProgress:
    """Reported while adding: files done of files total, passages embedded in the current wave,
    and, while a file is read, its pages read of its pages (pages_total 0: not known).

    files_read counts the files read and split so far (0: not told): those past files_done are
    the wave waiting for its vectors, written together when the wave is embedded."""

    files_done: int
    files_total: int
    current_path: str | None
    passages_done: int
    passages_total: int
    total_passages_done: int
    pages_done: int = 0
    pages_total: int = 0
    stage: AddStage | None = None
    files_read: int = 0


@dataclass(frozen=True)
class Hit:
    """One passage found, with where it is and why it was found."""

    passage_id: int
    document_id: int
    title: str
    page: int
    page_end: int
    page_label: str | None
    heading_path: str
    text: str
    score: float
    keyword_rank: int | None
    semantic_rank: int | None
    rects: tuple[Rect, ...] = field(default=())

    @property
    def found_by(self) -> str:
        if self.keyword_rank is not None and self.semantic_rank is not None:
            return "both"
        return "keywords" if self.keyword_rank is not None else "meaning"
