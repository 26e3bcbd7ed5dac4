"""The path from a file to indexed passages: copy, read, chunk, embed, write in one transaction."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import apsw

from core import chunking
from core.embedding import Embedder, Vectors
from core.errors import IngestError
from core.filestore import FileStore
from core.readers import SUPPORTED_SUFFIXES, detect_type, read_document
from core.store import queries
from core.store.connection import write_transaction
from core.types import AddOutcome, AddProgress, AddStatus, FailureKind, Passage

ProgressCallback = Callable[[AddProgress], None]
SPECIAL_TOKENS = 2  # [CLS] and [SEP]


def expand_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """(file, named) for every path; folders are walked for supported files, once each.

    named is True for a path the user gave directly: an unsupported file there is a failure,
    while inside a folder it is passed over. Symlinked folders are not followed (no loops).
    """
    seen: set[str] = set()
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(folder) / name
                    if name.startswith(".") or candidate.suffix.lower() not in SUPPORTED_SUFFIXES:
                        continue
                    key = os.path.abspath(candidate)
                    if key not in seen:
                        seen.add(key)
                        yield candidate, False
        else:
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                yield path, True


@dataclass
class _Counter:
    files_done: int = 0
    files_total: int = 0
    passages_total_done: int = 0


class Ingestor:
    """Adds files to one library; one instance per add() call."""

    def __init__(self, db: apsw.Connection, store: FileStore, embedder: Embedder,
                 max_bytes: int, progress: ProgressCallback | None,
                 cancel: threading.Event | None) -> None:
        self.db = db
        self.store = store
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.counter = _Counter()

    def _report(self, path: str | None, done: int, total: int) -> None:
        if self.progress is not None:
            c = self.counter
            self.progress(AddProgress(c.files_done, c.files_total, path, done, total,
                                      c.passages_total_done))

    def add_all(self, paths: Iterable[Path],
                on_outcome: Callable[[AddOutcome], None] | None = None) -> list[AddOutcome]:
        files = list(expand_paths(paths))
        self.counter.files_total = len(files)
        outcomes: list[AddOutcome] = []
        for path, _named in files:
            if self.cancel.is_set():
                break
            outcome = self.add_one(path)
            outcomes.append(outcome)
            self.counter.files_done += 1
            self._report(None, 0, 0)
            if on_outcome is not None:
                on_outcome(outcome)
            if outcome.status is AddStatus.CANCELLED:
                break
        return outcomes

    def add_one(self, path: Path) -> AddOutcome:
        original = os.path.abspath(path)
        self._report(original, 0, 0)
        tmp: Path | None = None
        doc_type = detect_type(path) or path.suffix.lower().lstrip(".") or "unknown"
        try:
            doc_type = self._check(path)
            tmp, sha256, size = self.store.copy_in(path, self.max_bytes)
            if size == 0:
                raise IngestError(FailureKind.EMPTY, "The file is empty.")
            present = queries.indexed_document_with_sha(self.db, sha256)
            if present is not None:
                tmp.unlink(missing_ok=True)
                tmp = None
                self._forget_failures(original)
                return AddOutcome(original, AddStatus.PRESENT, present.id, present.title,
                                  present.passages)
            relative = self.store.relative(sha256, path.suffix or f".{doc_type}")
            stored = self.store.settle(tmp, relative)
            tmp = None
            return self._index(path, original, doc_type, stored, relative, sha256, size)
        except IngestError as exc:
            if exc.kind is FailureKind.STORAGE:
                return AddOutcome(original, AddStatus.FAILED, None, None, 0, exc.message)
            doc_id = self._record_failure(original, path.name, doc_type, exc)
            return AddOutcome(original, AddStatus.FAILED, doc_id, path.name, 0, exc.message)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _check(self, path: Path) -> str:
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            raise IngestError(FailureKind.NOT_FOUND, "The file was not found.") from exc
        except OSError as exc:
            raise IngestError(FailureKind.UNREADABLE,
                              f"The file cannot be read: {exc.strerror or exc}.") from exc
        if path.is_dir():
            raise IngestError(FailureKind.UNSUPPORTED, "This is a folder.")
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
            raise IngestError(
                FailureKind.UNSUPPORTED,
                f"Unsupported file type '{path.suffix or path.name}': Folio reads PDF, EPUB, XPS, "
                "FB2, Markdown, text and HTML.")
        return doc_type

    def _index(self, path: Path, original: str, doc_type: str, stored: Path, relative: str,
               sha256: str, size: int) -> AddOutcome:
        try:
            result = read_document(stored, doc_type, path.stem)
            header_tokens: dict[tuple[str, ...], int] = {}

            def budget_for(headings: tuple[str, ...]) -> int:
                if headings not in header_tokens:
                    header = chunking.context_header(result.title, headings)
                    header_tokens[headings] = self.embedder.count_tokens(header)
                return self.embedder.max_tokens - SPECIAL_TOKENS - header_tokens[headings]

            passages = chunking.chunk(result.paragraphs, self.embedder.count_tokens_batch,
                                      budget_for, result.label_of)
            if not passages:
                raise IngestError(FailureKind.NO_TEXT, "The file contains no text.")
            contexts = [chunking.context_header(result.title, p.headings) for p in passages]
            vectors = self._embed(original, passages, contexts)
            if vectors is None:
                self._discard_unreferenced(relative)
                return AddOutcome(original, AddStatus.CANCELLED, reason="cancelled")
            replaced = queries.documents_with_original_path(self.db, original)
            with write_transaction(self.db):
                for old in replaced:
                    queries.delete_document(self.db, old.id)
                doc_id = queries.insert_document(
                    self.db, title=result.title, doc_type=doc_type, original_path=original,
                    stored_path=relative, sha256=sha256, size_bytes=size,
                    pages=result.page_count, status="indexed", error=None, error_kind=None,
                    notes="; ".join(result.notes) or None)
                queries.insert_passages(self.db, doc_id, passages, contexts, vectors)
        except BaseException:
            self._discard_unreferenced(relative)
            raise
        for old in replaced:
            if old.stored_path and old.stored_path != relative:
                self._discard_unreferenced(old.stored_path)
        self.counter.passages_total_done += len(passages)
        was_indexed = any(old.status == "indexed" for old in replaced)
        return AddOutcome(original, AddStatus.REPLACED if was_indexed else AddStatus.ADDED,
                          doc_id, result.title, len(passages), notes=tuple(result.notes))

    def _embed(self, original: str, passages: list[Passage],
               contexts: list[str]) -> Vectors | None:
        done = 0
        total = len(passages)

        def on_batch(n: int) -> None:
            nonlocal done
            done += n
            self._report(original, done, total)

        texts = [f"{ctx}\n{p.text}" for ctx, p in zip(contexts, passages, strict=True)]
        return self.embedder.embed_passages(texts, on_batch=on_batch,
                                            should_stop=self.cancel.is_set)

    def _discard_unreferenced(self, relative: str) -> None:
        if not queries.stored_path_in_use(self.db, relative):
            self.store.discard(relative)

    def _forget_failures(self, original: str) -> None:
        failed = [d for d in queries.documents_with_original_path(self.db, original)
                  if d.status == "failed"]
        if failed:
            with write_transaction(self.db):
                for doc in failed:
                    queries.delete_document(self.db, doc.id)

    def _record_failure(self, original: str, name: str, doc_type: str,
                        exc: IngestError) -> int | None:
        """Record a failed file (replacing earlier failures of the same path)."""
        try:
            with write_transaction(self.db):
                for doc in queries.documents_with_original_path(self.db, original):
                    if doc.status == "failed":
                        queries.delete_document(self.db, doc.id)
                return queries.insert_document(
                    self.db, title=name, doc_type=doc_type, original_path=original,
                    stored_path=None, sha256=None, size_bytes=0, pages=0, status="failed",
                    error=exc.message, error_kind=exc.kind.value, notes=None)
        except apsw.Error:
            return None
