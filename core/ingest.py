"""The path from files to indexed passages: copy, read, chunk, embed, write one transaction each.

Files are prepared (copied, read, chunked) in order and embedded in waves: the passages of
several small files go through the model together, since a batch of two passages embeds far
slower per passage than a full one. Each document is still written in its own transaction,
and a cancel discards every document of the wave being embedded, leaving no trace of them.

The reader child has its own limits; what it returns is bounded here, in this process, before
and while it is chunked: its text size, the time chunking takes (a multiple of the reading
time) and the text chunking makes (a multiple of the text it was given). A file over a bound
fails with its reason; the batch goes on.

What chunking makes is measured, not this process's memory: in the app, reader threads load
or build the search indexes (a gigabyte at 100k passages) while a file is chunked, and a
bound on the process's growth would fail that file for a search's memory.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import apsw
import numpy as np

from core import chunking
from core.embedding import Embedder, Vectors
from core.errors import EmbeddingModelError, EmbeddingUnavailable, IngestError
from core.expansion import expand_paths, unsupported_reason
from core.filestore import FileStore
from core.readers import detect_type, read_document, sniff
from core.sandbox import ReaderProcess
from core.store import queries
from core.store.connection import write_transaction
from core.types import (
    AddOutcome,
    AddProgress,
    AddStage,
    AddStatus,
    DocStatus,
    FailureKind,
    Paragraph,
    Passage,
    ReadOptions,
    ReadResult,
)

ProgressCallback = Callable[[AddProgress], None]
PasswordCallback = Callable[[str], str | None]  # original path -> password, None to skip
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
DEFAULT_MAX_TEXT_CHARS = 32 * 10**6  # ~10,000 dense pages; embedding it takes hours here
WAVE_PASSAGES = 256  # embed together the passages of consecutive files, up to this many
EMBED_SLICE = 2048  # passages per embed_passages call: its token counts and vectors stay small
# Chunking is allowed CHUNK_READ_FACTOR times the reading time, and never less than
# CHUNK_MIN_S: on the filings it takes a quarter of the reading time or less.
CHUNK_READ_FACTOR = 10.0
CHUNK_MIN_S = 30.0
# The passages' text may be CHUNK_OUTPUT_FACTOR times the document's, and never less than
# CHUNK_OUTPUT_MIN_CHARS: packing adds a separator between paragraphs and a table's header row
# repeated in each piece (at most half of each piece's tokens, but its characters are not
# bounded: a word over 100 characters is one token). Prose makes passages about as long as
# itself. With max-text-mb (32 M characters) this bounds what chunking holds to some hundreds
# of MB, whatever the other threads of the process hold (a search loading its indexes).
CHUNK_OUTPUT_FACTOR = 8.0
CHUNK_OUTPUT_MIN_CHARS = 10**6
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class _Prepared:
    """A document read and chunked, waiting for its vectors."""

    original: str
    doc_type: str
    relative: str
    sha256: str
    size: int
    result: ReadResult
    passages: list[Passage]
    contexts: list[str]
    read_s: float
    chunk_s: float


_Entry = AddOutcome | _Prepared


class _Cancelled(Exception):
    """Raised by the chunking check when the caller cancels."""


class Ingestor:
    """Adds files to one library; one instance per Library.add call."""

    def __init__(self, db: apsw.Connection, store: FileStore, embedder: Embedder,
                 max_bytes: int, progress: ProgressCallback | None,
                 cancel: threading.Event | None, reader: ReaderProcess | None = None,
                 password_for: PasswordCallback | None = None,
                 max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
                 read_options: ReadOptions | None = None,
                 chunk_read_factor: float = CHUNK_READ_FACTOR,
                 chunk_min_s: float = CHUNK_MIN_S,
                 chunk_output_factor: float = CHUNK_OUTPUT_FACTOR,
                 chunk_output_min_chars: int = CHUNK_OUTPUT_MIN_CHARS) -> None:
        self.db = db
        self.chunk_read_factor = chunk_read_factor
        self.chunk_min_s = chunk_min_s
        self.chunk_output_factor = chunk_output_factor
        self.chunk_output_min_chars = chunk_output_min_chars
        self.read_options = read_options or ReadOptions()
        self.max_text_chars = max_text_chars
        self.reader = reader  # None: read in this process (trusted input, benchmarks)
        self.password_for = password_for
        self.store = store
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.files_done = 0
        self.files_read = 0  # files_done and the files of the wave waiting for their vectors
        self.files_total = 0
        self.passages_written = 0
        self.embedding_problem: str | None = None  # once the embedding service failed

    def _report(self, path: str | None, done: int = 0, total: int = 0,
                stage: AddStage | None = None, pages_done: int = 0, pages_total: int = 0) -> None:
        if self.progress is not None:
            self.progress(AddProgress(self.files_done, self.files_total, path, done, total,
                                      self.passages_written, pages_done, pages_total, stage,
                                      self.files_read))

    def add_all(self, paths: Iterable[Path],
                on_outcome: Callable[[AddOutcome], None] | None = None) -> list[AddOutcome]:
        files = list(expand_paths(paths))
        self.files_total = len(files)
        outcomes: list[AddOutcome] = []
        wave: list[_Entry] = []

        def flush() -> None:
            # One report for the wave, once it is written: reported file by file, the files
            # still to be counted would fall back to "read" and the bar would go back.
            finished = self._finish_wave(wave)
            for outcome in finished:
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
            self.files_done += len(finished)
            self.files_read = self.files_done
            if finished:
                self._report(None)
            wave.clear()

        for path in files:
            if self.cancel.is_set():
                break
            if self.embedding_problem is not None:  # no vectors can be had: do not read
                outcome = AddOutcome(os.path.abspath(path), AddStatus.FAILED,
                                     reason=self.embedding_problem,
                                     transient=self.embedding_problem.endswith(_BACK))
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                self.files_done += 1
                continue
            self._report(os.path.abspath(path), stage=AddStage.READING)
            wave.append(self._prepare(path, wave))
            self.files_read += 1
            if sum(len(e.passages) for e in wave if isinstance(e, _Prepared)) >= WAVE_PASSAGES:
                flush()
        flush()
        return outcomes

    # --- preparing one file ---------------------------------------------------------------------

    def _prepare(self, path: Path, wave: list[_Entry]) -> _Entry:
        original = os.path.abspath(path)
        doc_type = detect_type(path) or path.suffix.lower().lstrip(".") or "unknown"
        tmp: Path | None = None
        relative: str | None = None
        read_s = 0.0
        try:
            doc_type = self._check(path)
            tmp, sha256, size = self.store.copy_in(path, self.max_bytes)
            if size == 0:
                raise IngestError(FailureKind.EMPTY, "The file is empty.")
            present = self._present(sha256, wave)
            if present is not None:
                self._forget_failures(original)
                doc_id, title, count, pages = present
                return AddOutcome(original, AddStatus.PRESENT, doc_id, title, count, pages=pages)
            relative = self.store.relative(sha256, path.suffix or f".{doc_type}")
            stored = self.store.settle(tmp, relative)
            tmp = None
            started = time.perf_counter()
            result = _checked(self._read(stored, doc_type, path.stem, original))
            read_s = time.perf_counter() - started
            self._check_text_size(result)
            self._report(original, stage=AddStage.CHUNKING)
            started = time.perf_counter()
            passages, contexts = self._chunk(result, read_s)
            return _Prepared(original, doc_type, relative, sha256, size, result, passages,
                             contexts, read_s, time.perf_counter() - started)
        except IngestError as exc:
            if relative is not None:
                self._discard_unreferenced(relative, wave)
            return self._failure(original, path.name, doc_type, exc, read_s)
        except _Cancelled:
            if relative is not None:
                self._discard_unreferenced(relative, wave)
            return AddOutcome(original, AddStatus.CANCELLED, reason="cancelled", read_s=read_s)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _read(self, stored: Path, doc_type: str, title_hint: str, original: str) -> ReadResult:
        """Read in the reader process; a protected file is read again with the password, if the
        caller can give one (it is used for this reading only, never stored)."""
        try:
            return self._read_once(stored, doc_type, title_hint, None, original)
        except IngestError as exc:
            if exc.kind is not FailureKind.ENCRYPTED or self.password_for is None:
                raise
            password = self.password_for(original)
            if not password:
                raise
            return self._read_once(stored, doc_type, title_hint, password, original)

    def _check_text_size(self, result: ReadResult) -> None:
        """Refuse text that would take hours to embed (a data dump, a generated file)."""
        chars = sum(len(p.text) for p in result.paragraphs)
        if chars > self.max_text_chars:
            raise IngestError(FailureKind.TOO_LARGE,
                              f"The document holds {chars / 1e6:.0f} million characters of text, "
                              f"more than the limit of {self.max_text_chars / 1e6:.0f} million "
                              "(`folio config max-text-mb` changes it).")

    def _read_once(self, stored: Path, doc_type: str, title_hint: str, password: str | None,
                   original: str) -> ReadResult:
        def on_page(done: int, total: int, what: str) -> None:
            stage = AddStage.OCR if what == "OCR" else AddStage.READING
            self._report(original, stage=stage, pages_done=done, pages_total=total)

        if self.reader is not None:
            return self.reader.read(stored, doc_type, title_hint, password, self.read_options,
                                    on_page)
        try:
            return read_document(stored, doc_type, title_hint, password, self.read_options,
                                 on_page)
        except IngestError:
            raise
        except Exception as exc:  # a reader's bug or a library's surprise costs one file
            raise IngestError(FailureKind.DAMAGED,
                              f"The file could not be read ({type(exc).__name__}: "
                              f"{str(exc)[:120]}).") from exc

    def _check(self, path: Path) -> str:
        """The document type of path, after the checks that need no reading."""
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:  # a mistyped path
            raise IngestError(FailureKind.NOT_FOUND, "The file was not found.") from exc
        except OSError as exc:
            raise IngestError(FailureKind.UNREADABLE,
                              f"The file cannot be read: {exc.strerror or exc}.") from exc
        if path.is_dir():
            raise IngestError(FailureKind.UNSUPPORTED, "This is a folder.")
        if not stat.S_ISREG(st.st_mode):  # a pipe or a device would block or never end
            raise IngestError(FailureKind.UNSUPPORTED, "This is not a regular file.")
        if st.st_size == 0:
            raise IngestError(FailureKind.EMPTY, "The file is empty.")
        if st.st_size > self.max_bytes:
            raise IngestError(FailureKind.TOO_LARGE,
                              f"The file is larger than the limit of {self.max_bytes // 2**20} MB "
                              "(`folio config max-file-mb` changes it).")
        try:
            with path.open("rb") as handle:
                head = handle.read(1024)
        except OSError as exc:
            raise IngestError(FailureKind.UNREADABLE,
                              f"The file cannot be read: {exc.strerror or exc}.") from exc
        doc_type = detect_type(path, head)
        if doc_type is None:
            raise IngestError(FailureKind.UNSUPPORTED, unsupported_reason(path))
        wrong_name = sniff.mismatch(doc_type, head)  # a text file renamed .pdf, say
        if wrong_name is not None:
            raise IngestError(FailureKind.UNSUPPORTED, wrong_name)
        return doc_type

    def _present(self, sha256: str,
                 wave: list[_Entry]) -> tuple[int | None, str, int, int] | None:
        """(id, title, passages, pages) of a document with these bytes, in the library or this
        wave."""
        doc = queries.indexed_document_with_sha(self.db, sha256)
        if doc is not None:
            return doc.id, doc.title, doc.passages, doc.pages
        for entry in wave:
            if isinstance(entry, _Prepared) and entry.sha256 == sha256:
                return None, entry.result.title, len(entry.passages), entry.result.page_count
        return None

    def _chunk(self, result: ReadResult, read_s: float) -> tuple[list[Passage], list[str]]:
        header_tokens: dict[tuple[str, ...], int] = {}

        def budget_for(headings: tuple[str, ...]) -> int:
            if headings not in header_tokens:
                header = chunking.context_header(result.title, headings)
                header_tokens[headings] = self.embedder.count_tokens(header)
            return self.embedder.max_tokens - SPECIAL_TOKENS - header_tokens[headings]

        given = sum(len(p.text) for p in result.paragraphs)
        try:
            passages = chunking.chunk(result.paragraphs, self.embedder.count_tokens_batch,
                                      budget_for, result.label_of,
                                      self._chunk_check(read_s, given))
        except MemoryError as exc:  # what it held is freed as the exception unwinds
            raise IngestError(FailureKind.TOO_LARGE, "Splitting the text into passages needed "
                              "more memory than this computer has left; the file was left "
                              "out.") from exc
        if not passages:
            raise IngestError(FailureKind.NO_TEXT, "The file contains no text.")
        return passages, [chunking.context_header(result.title, p.headings) for p in passages]

    def _chunk_check(self, read_s: float, given_chars: int) -> chunking.Check:
        """What chunking calls now and then with the characters of passages it has made: it
        raises when the caller cancels, or when the document costs more time than its budget
        or makes more text than a multiple of its own."""
        limit_s = max(self.chunk_min_s, self.chunk_read_factor * read_s)
        deadline = time.monotonic() + limit_s
        limit_chars = max(self.chunk_output_min_chars,
                          math.ceil(self.chunk_output_factor * given_chars))

        def check(made_chars: int) -> None:
            if self.cancel.is_set():
                raise _Cancelled
            if time.monotonic() > deadline:
                raise IngestError(FailureKind.TIMEOUT,
                                  f"Splitting the text into passages took longer than "
                                  f"{limit_s:g} s (reading it took {read_s:.1f} s); the file "
                                  "was left out. Its text is probably not prose (a form or a "
                                  "table read as millions of characters?).")
            if made_chars > limit_chars:
                raise IngestError(FailureKind.TOO_LARGE,
                                  f"Splitting the text into passages made more than "
                                  f"{limit_chars / max(1, given_chars):.0f} times the document's "
                                  f"{given_chars:,} characters (a table repeating a huge "
                                  "header row?); the file was left out.")

        return check

    # --- embedding and writing a wave -----------------------------------------------------------

    def _finish_wave(self, wave: list[_Entry]) -> list[AddOutcome]:
        prepared = [e for e in wave if isinstance(e, _Prepared)]
        started = time.perf_counter()
        try:
            vectors = self._embed(prepared) if prepared else {}
        except EmbeddingModelError as exc:  # nothing of the wave is written: no half document
            transient = isinstance(exc, EmbeddingUnavailable)  # Ollama down: tried again
            self.embedding_problem = _not_added(str(exc)) if transient else str(exc)
            return [entry if isinstance(entry, AddOutcome) else
                    self._not_embedded(entry, transient) for entry in wave]
        # The wave's embedding time is shared over its files by passage count.
        per_passage = (time.perf_counter() - started) / max(1, sum(len(e.passages)
                                                                    for e in prepared))
        outcomes = []
        for entry in wave:
            if isinstance(entry, AddOutcome):
                outcomes.append(entry)
            elif vectors is None:
                self._discard_unreferenced(entry.relative)
                outcomes.append(AddOutcome(entry.original, AddStatus.CANCELLED,
                                           reason="cancelled", read_s=entry.read_s))
            else:
                outcomes.append(self._write(entry, vectors[id(entry)],
                                            per_passage * len(entry.passages)))
        return outcomes

    def _embed(self, prepared: list[_Prepared]) -> dict[int, Vectors] | None:
        texts = [f"{ctx}\n{p.text}" for e in prepared
                 for ctx, p in zip(e.contexts, e.passages, strict=True)]
        done = 0
        label = prepared[0].original if len(prepared) == 1 else f"{len(prepared)} files"

        def on_batch(n: int) -> None:
            nonlocal done
            done += n
            self._report(label, done, len(texts), AddStage.EMBEDDING)

        # In slices: embed_passages tokenizes all it is given at once and sorts it by length.
        slices = []
        for start in range(0, len(texts), EMBED_SLICE):
            part = self.embedder.embed_passages(texts[start:start + EMBED_SLICE],
                                                on_batch=on_batch,
                                                should_stop=self.cancel.is_set)
            if part is None:
                return None
            slices.append(part)
        all_vectors = slices[0] if len(slices) == 1 else np.concatenate(slices)
        by_entry: dict[int, Vectors] = {}
        start = 0
        for entry in prepared:
            by_entry[id(entry)] = all_vectors[start:start + len(entry.passages)]
            start += len(entry.passages)
        return by_entry

    def _write(self, entry: _Prepared, vectors: Vectors, embed_s: float) -> AddOutcome:
        replaced = queries.documents_with_original_path(self.db, entry.original)
        result = entry.result
        # A new version keeps its document's id: citations kept in conversations still open it.
        kept_id = next((old.id for old in replaced if old.status is DocStatus.INDEXED), None)
        try:
            with write_transaction(self.db):
                for old in replaced:
                    queries.delete_document(self.db, old.id)
                doc_id = queries.insert_document(
                    self.db, kept_id, title=result.title, doc_type=entry.doc_type,
                    original_path=entry.original, stored_path=entry.relative,
                    sha256=entry.sha256, size_bytes=entry.size, pages=result.page_count,
                    status=DocStatus.INDEXED.value, error=None, error_kind=None,
                    notes="; ".join(result.notes) or None)
                queries.insert_passages(self.db, doc_id, entry.passages, entry.contexts, vectors)
        except apsw.Error as exc:
            self._discard_unreferenced(entry.relative)
            # A full disk, a busy or read-only library: not the file's fault, tried again.
            transient = isinstance(exc, apsw.FullError | apsw.BusyError | apsw.ReadOnlyError)
            return AddOutcome(entry.original, AddStatus.FAILED, reason=_write_failure(exc),
                              read_s=entry.read_s, chunk_s=entry.chunk_s, embed_s=embed_s,
                              transient=transient)
        for old in replaced:
            if old.stored_path and old.stored_path != entry.relative:
                self._discard_unreferenced(old.stored_path)
        self.passages_written += len(entry.passages)
        was_indexed = any(old.status is DocStatus.INDEXED for old in replaced)
        return AddOutcome(entry.original, AddStatus.REPLACED if was_indexed else AddStatus.ADDED,
                          doc_id, result.title, len(entry.passages), notes=tuple(result.notes),
                          pages=result.page_count, tables=result.tables,
                          ocr_pages=result.ocr_pages, read_s=entry.read_s,
                          chunk_s=entry.chunk_s, embed_s=embed_s)

    # --- failures and clean-up ------------------------------------------------------------------

    def _not_embedded(self, entry: _Prepared, transient: bool) -> AddOutcome:
        self._discard_unreferenced(entry.relative)
        return AddOutcome(entry.original, AddStatus.FAILED, reason=self.embedding_problem,
                          read_s=entry.read_s, chunk_s=entry.chunk_s, transient=transient)

    def _discard_unreferenced(self, relative: str, wave: Iterable[_Entry] = ()) -> None:
        pending = any(isinstance(e, _Prepared) and e.relative == relative for e in wave)
        if not pending and not queries.stored_path_in_use(self.db, relative):
            self.store.discard(relative)

    def _forget_failures(self, original: str) -> None:
        failed = [d for d in queries.documents_with_original_path(self.db, original)
                  if d.status is DocStatus.FAILED]
        if failed:
            with write_transaction(self.db):
                for doc in failed:
                    queries.delete_document(self.db, doc.id)

    def _failure(self, original: str, name: str, doc_type: str, exc: IngestError,
                 read_s: float = 0.0) -> AddOutcome:
        """Record a failed file (replacing earlier failures of the same path) and say why.

        A path where no file is (a mistyped name, a file since moved) is not recorded: the
        library lists documents, and Retry could never succeed; an earlier failure of that path
        is forgotten with it. A storage failure is not the file's fault and is not kept either.
        """
        doc_id: int | None = None
        if exc.kind is FailureKind.NOT_FOUND:
            with contextlib.suppress(apsw.Error):  # the outcome says not found either way
                self._forget_failures(original)
        elif exc.kind is not FailureKind.STORAGE:
            try:
                with write_transaction(self.db):
                    for doc in queries.documents_with_original_path(self.db, original):
                        if doc.status is DocStatus.FAILED:
                            queries.delete_document(self.db, doc.id)
                    doc_id = queries.insert_document(
                        self.db, title=name, doc_type=doc_type, original_path=original,
                        stored_path=None, sha256=None, size_bytes=0, pages=0,
                        status=DocStatus.FAILED.value, error=exc.message,
                        error_kind=exc.kind.value, notes=None)
            except apsw.Error:
                doc_id = None
        return AddOutcome(original, AddStatus.FAILED, doc_id, name, 0, exc.message, read_s=read_s)


_BACK = "add it again (or sync) once Ollama is back."


def _not_added(problem: str) -> str:
    return f"{problem} The file was not added; {_BACK}"


def _checked(result: ReadResult) -> ReadResult:
    """result, with every paragraph's text and headings a str the tokenizer can take.

    The tokenizer raises a bare TypeError for anything else, and for a str holding a lone
    surrogate (it cannot be UTF-8), so such a code point becomes U+FFFD here.
    """
    paragraphs: list[Paragraph] = []
    changed = False
    for paragraph in result.paragraphs:
        if not isinstance(paragraph, Paragraph) or not isinstance(paragraph.text, str) or not all(
                isinstance(h, str) for h in paragraph.headings):
            raise IngestError(FailureKind.DAMAGED, "The file could not be read (the reader "
                              "returned something that is not text).")
        text = _SURROGATE.sub("\ufffd", paragraph.text)
        headings = tuple(_SURROGATE.sub("\ufffd", h) for h in paragraph.headings)
        if text is not paragraph.text or headings != paragraph.headings:
            paragraph = replace(paragraph, text=text, headings=headings)
            changed = True
        paragraphs.append(paragraph)
    title = _SURROGATE.sub("\ufffd", result.title) if isinstance(result.title, str) else ""
    if changed or title is not result.title:
        result = replace(result, title=title, paragraphs=paragraphs)
    return result


def _write_failure(exc: apsw.Error) -> str:
    if isinstance(exc, apsw.FullError):
        return "The disk is full: the document was not added (the library is unchanged)."
    if isinstance(exc, apsw.ReadOnlyError):
        return "The library cannot be written to (read-only): the document was not added."
    if isinstance(exc, apsw.BusyError):
        return "The library is busy with another writer; try again in a moment."
    return f"The library could not be written: {exc}."
