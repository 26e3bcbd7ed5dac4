"""The facade the CLI and the desktop app use: open a library, add, list, remove, configure."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import apsw
import numpy as np
import platformdirs

from core import check as check_module
from core import sandbox
from core import search as search_module
from core.answer import DEFAULT_SOURCES, Asker, AskOptions
from core.answer_types import (
    AnswerDone,
    AnswerEvent,
    Conversation,
    OllamaStatus,
    PullProgress,
    Turn,
)
from core.check import CheckReport
from core.embedding import BUNDLED_MODEL, Embedder
from core.errors import EmbeddingModelError, FolioError, LibraryError
from core.filestore import FileStore
from core.ingest import DEFAULT_MAX_TEXT_CHARS, Ingestor, PasswordCallback, ProgressCallback
from core.llm import LlmError, OllamaService, resolve_host
from core.paths import default_library_dir, make_private_dir, tighten_library
from core.prompt import DEFAULT_MAX_CONTEXT
from core.resources import resource_path
from core.search import DEFAULT_PARAMS, SearchMode, SearchParams, SearchResult
from core.store import conversations, queries
from core.store.connection import connect, write_transaction
from core.store.migrations import migrate
from core.types import AddOutcome, Document, ReadOptions

DEFAULT_MAX_FILE_MB = 512
SAMPLE_FILES = ("folio-guide.pdf",)

SETTINGS: dict[str, str] = {  # setting name -> meta key
    "embedding-model": "embedding_model",
    "max-file-mb": "max_file_mb",
    "ollama-host": "ollama_host",
    "ollama-model": "ollama_model",
    "answer-sources": "answer_sources",
    "max-context": "max_context",
    "reader-page-timeout-s": "reader_page_timeout_s",
    "reader-timeout-s": "reader_timeout_s",
    "reader-memory-mb": "reader_memory_mb",
    "max-text-mb": "max_text_mb",
    "ocr": "ocr",
    "ocr-languages": "ocr_languages",
    "ocr-data-dir": "ocr_data_dir",
    "keep-permissions": "keep_permissions",
}
SETTING_DEFAULTS = {
    "max-file-mb": str(DEFAULT_MAX_FILE_MB),
    "ollama-host": "",  # empty: $OLLAMA_HOST, else http://127.0.0.1:11434
    "ollama-model": "",  # empty: the first installed chat model
    "answer-sources": str(DEFAULT_SOURCES),
    "max-context": str(DEFAULT_MAX_CONTEXT),
    "reader-page-timeout-s": str(sandbox.DEFAULT_PAGE_TIMEOUT_S),  # one page of a PDF, EPUB...
    "reader-timeout-s": str(sandbox.DEFAULT_TIMEOUT_S),  # a whole text, Markdown or HTML file
    "reader-memory-mb": str(sandbox.DEFAULT_MEMORY_MB),
    "max-text-mb": str(DEFAULT_MAX_TEXT_CHARS // 10**6),
    "ocr": "on",  # "off": pages without a text layer are skipped
    "ocr-languages": "eng",  # Tesseract's form, e.g. "eng+deu"
    "ocr-data-dir": "",  # empty: $TESSDATA_PREFIX, then the bundled English data
    # "on": the folder's and the database's modes are left as the user set them (a library
    # shared with a group on purpose); "off": folder 0700, library.db and its -wal/-shm 0600.
    "keep-permissions": "off",
}
_OCR_LANGUAGES = re.compile(r"^[A-Za-z_]{3,20}(\+[A-Za-z_]{3,20})*$")
NUMERIC_SETTINGS = {"max-file-mb": 1, "answer-sources": 1, "max-context": 2048,  # minimums
                    "reader-page-timeout-s": 1, "reader-timeout-s": 1, "reader-memory-mb": 256,
                    "max-text-mb": 1}


def model_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("Folio", appauthor=False)) / "models"


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def shared_embedder(name: str) -> Embedder:
    """One Embedder per model per process: the ONNX session is large and thread-safe to run."""
    with _embedders_lock:
        if name not in _embedders:
            _embedders[name] = Embedder(name, cache_dir=model_cache_dir())
        return _embedders[name]


class Library:
    """One library folder: library.db and files/. Not shared across threads: open one per thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            make_private_dir(root)
        except OSError as exc:
            raise LibraryError(f"Cannot create the library folder {root}: {exc.strerror}") from exc
        self.db_path = root / "library.db"
        self.store = FileStore(root)
        self.db = connect(self.db_path)
        try:
            migrate(self.db)
        except apsw.BusyError as exc:
            self.db.close()
            raise LibraryError(f"The library at {root} is busy with another writer; "
                               "try again in a moment.") from exc
        self.tighten_permissions()
        self._embedder: Embedder | None = None
        self._ollama: OllamaService | None = None
        self._ensure_model_recorded()
        self.store.sweep(queries.stored_paths(self.db))

    @classmethod
    def open(cls, root: Path | None = None) -> Library:
        return cls(root if root is not None else default_library_dir())

    def tighten_permissions(self) -> list[Path]:
        """Folder 0700, database files 0600 (they hold all the text of the documents and the
        questions), unless keep-permissions is on; the paths whose modes were changed."""
        if queries.get_meta(self.db, SETTINGS["keep-permissions"]) == "on":
            return []
        return tighten_library(self.root, self.db_path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the embedding model ------------------------------------------------------------------

    def _ensure_model_recorded(self) -> None:
        if queries.get_meta(self.db, "embedding_model") is not None:
            return
        with write_transaction(self.db):
            if queries.get_meta(self.db, "embedding_model") is None:
                queries.set_meta(self.db, "embedding_model", BUNDLED_MODEL)
                queries.set_meta(self.db, "embedding_dim", "384")
                queries.set_meta(self.db, "created_at", queries.now_iso())
                if not queries.vector_table_exists(self.db):
                    queries.create_vector_table(self.db, 384)

    @property
    def embedding_model(self) -> str:
        return queries.get_meta(self.db, "embedding_model") or BUNDLED_MODEL

    @property
    def embedding_dim(self) -> int:
        return int(queries.get_meta(self.db, "embedding_dim") or 384)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None or self._embedder.name != self.embedding_model:
            self._embedder = shared_embedder(self.embedding_model)
        return self._embedder

    def set_embedding_model(self, name: str, progress: Callable[[int, int], None] | None = None,
                            cancel: threading.Event | None = None) -> bool:
        """Switch to another model and re-embed every passage; False if cancelled (no change).

        The new vectors are computed first and swapped in with one transaction, so a failed
        download or a cancel leaves the library exactly as it was.
        """
        if name == self.embedding_model:
            return True
        embedder = shared_embedder(name)
        embedder.load()
        rows = queries.passage_texts_for_embedding(self.db)
        done = 0

        def on_batch(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(rows))

        stop = cancel or threading.Event()
        vectors = embedder.embed_passages([f"{ctx}\n{text}" for _, _, ctx, text in rows],
                                          on_batch=on_batch, should_stop=stop.is_set)
        if vectors is None:
            return False
        with write_transaction(self.db):
            queries.drop_vector_table(self.db)
            queries.create_vector_table(self.db, embedder.dim)
            queries.insert_vectors(self.db, ((pid, did, vec) for (pid, did, _, _), vec
                                             in zip(rows, vectors, strict=True)))
            queries.set_meta(self.db, "embedding_model", name)
            queries.set_meta(self.db, "embedding_dim", str(embedder.dim))
        self._embedder = embedder
        return True

    # --- settings -----------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        meta = queries.all_meta(self.db)
        values = {"embedding-model": meta.get("embedding_model", BUNDLED_MODEL)}
        for name, default in SETTING_DEFAULTS.items():
            values[name] = meta.get(SETTINGS[name], default)
        return values

    def set_setting(self, key: str, value: str) -> None:
        value = value.strip()
        if key == "embedding-model":
            raise FolioError("Use set_embedding_model(): changing the model re-embeds the library.")
        if key not in SETTINGS:
            raise FolioError(f"Unknown setting '{key}'. Settings: {', '.join(SETTINGS)}.")
        if key == "ollama-host" and value:
            resolve_host(value)  # raises LlmError with a sentence for an address that cannot be one
        if key in ("ocr", "keep-permissions") and value not in ("on", "off"):
            raise FolioError(f"{key} must be 'on' or 'off'.")
        if key == "ocr-languages" and not _OCR_LANGUAGES.match(value):
            raise FolioError("ocr-languages takes Tesseract's language codes joined by '+', "
                             "e.g. 'eng' or 'eng+deu'.")
        if key == "ocr-data-dir" and value and not Path(value).expanduser().is_dir():
            raise FolioError(f"ocr-data-dir: no folder at {value}.")
        minimum = NUMERIC_SETTINGS.get(key)
        if minimum is not None and (not value.isdigit() or int(value) < minimum):
            raise FolioError(f"{key} must be a whole number, at least {minimum}.")
        with write_transaction(self.db):
            queries.set_meta(self.db, SETTINGS[key], value)
        if key == "keep-permissions":
            self.tighten_permissions()  # "off" takes effect now, not at the next start

    def read_options(self, settings: dict[str, str] | None = None) -> ReadOptions:
        settings = settings or self.settings()
        data_dir = settings["ocr-data-dir"]
        return ReadOptions(ocr=settings["ocr"] == "on", ocr_languages=settings["ocr-languages"],
                           tessdata_dir=str(Path(data_dir).expanduser()) if data_dir else None)

    @property
    def max_file_bytes(self) -> int:
        return int(self.settings()["max-file-mb"]) * 2**20

    # --- documents ----------------------------------------------------------------------------

    def add(self, paths: Iterable[Path], progress: ProgressCallback | None = None,
            cancel: threading.Event | None = None,
            on_outcome: Callable[[AddOutcome], None] | None = None,
            password_for: PasswordCallback | None = None) -> list[AddOutcome]:
        """Add files and folders; every file ends added, already present, replaced or failed.

        Documents are parsed in a child process with the reader-page-timeout-s (a page),
        reader-timeout-s (a file without pages) and reader-memory-mb limits. password_for(path)
        is asked for the password of a protected file (None skips it).
        """
        settings = self.settings()
        limits = sandbox.Limits(float(settings["reader-timeout-s"]),
                                int(settings["reader-memory-mb"]),
                                float(settings["reader-page-timeout-s"]))
        ingestor = Ingestor(self.db, self.store, self.embedder, self.max_file_bytes,
                            progress, cancel, sandbox.shared_reader(limits), password_for,
                            int(settings["max-text-mb"]) * 10**6, self.read_options(settings))
        return ingestor.add_all(list(paths), on_outcome)

    def documents(self) -> list[Document]:
        return queries.list_documents(self.db)

    def document(self, doc_id: int) -> Document | None:
        return queries.get_document(self.db, doc_id)

    def resolve(self, ref: str) -> Document:
        """A document by id or by a prefix (4+ characters) of its sha256."""
        ref = ref.strip()
        if ref.isdigit():
            doc = queries.get_document(self.db, int(ref))
            if doc is not None:
                return doc
        if len(ref) >= 4 and all(c in "0123456789abcdefABCDEF" for c in ref):
            matches = queries.find_documents_by_sha_prefix(self.db, ref.lower())
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise FolioError(f"'{ref}' matches {len(matches)} documents; give more of the "
                                 "sha256.")
        raise FolioError(f"No document with id or sha256 prefix '{ref}'.")

    def remove(self, ref: str) -> Document:
        """Remove a document, all its rows and Folio's stored copy (never the user's file)."""
        doc = self.resolve(ref)
        with write_transaction(self.db):
            queries.delete_document(self.db, doc.id)
        if doc.stored_path and not queries.stored_path_in_use(self.db, doc.stored_path):
            self.store.discard(doc.stored_path)
        return doc

    def document_text(self, doc_id: int) -> str:
        """The document's text as indexed: its passages in order, separated by blank lines,
        each new heading on its own line; every passage's text appears in it verbatim."""
        parts: list[str] = []
        previous: list[str] = []
        for heading_path, text in queries.passage_texts_of_document(self.db, doc_id):
            headings = heading_path.split(queries.HEADING_SEPARATOR) if heading_path else []
            same = 0
            while same < min(len(headings), len(previous)) and headings[same] == previous[same]:
                same += 1
            parts.extend(headings[same:])
            previous = headings
            parts.append(text)
        return "\n\n".join(parts)

    def stored_file(self, doc: Document) -> Path | None:
        return None if doc.stored_path is None else self.store.absolute(doc.stored_path)

    def vector_of_passage(self, passage_id: int) -> np.ndarray | None:
        row = self.db.execute(
            f"SELECT embedding FROM {queries.EMBEDDING_TABLE} WHERE passage_id = ?", (passage_id,)
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.float32)

    # --- search -------------------------------------------------------------------------------

    def search(self, query: str, mode: SearchMode | str = SearchMode.HYBRID, k: int = 10,
               scope: Sequence[int] | None = None,
               params: SearchParams = DEFAULT_PARAMS) -> SearchResult:
        """The k best passages for query (hybrid, keyword or semantic), within scope if given."""
        return search_module.search(self.db, self.embedder, query, SearchMode(mode), k, scope,
                                    params)

    # --- consistency -------------------------------------------------------------------------

    def check(self, repair: bool = False) -> CheckReport:
        """integrity_check, FTS and vectors against passages, orphans, stored files and their
        sha256, the embedding model; with repair, rebuild what can be rebuilt."""
        embedder = self.embedder if repair else None
        return check_module.check(self.db, self.store, self.embedding_model, self.embedding_dim,
                                  embedder, repair)

    # --- asking ------------------------------------------------------------------------------

    def ollama(self, host: str | None = None) -> OllamaService:
        """The Ollama service at host, else the host setting, else $OLLAMA_HOST, else the default."""
        resolved = resolve_host(host or self.settings()["ollama-host"] or None)
        if self._ollama is None or self._ollama.host != resolved:
            self._ollama = OllamaService(resolved)
        return self._ollama

    def ollama_status(self, host: str | None = None, model: str | None = None) -> OllamaStatus:
        """Reachable or not, the installed models, the model answers will use. Never raises."""
        try:
            service = self.ollama(host)
        except LlmError as exc:  # an address that cannot be one
            return OllamaStatus(host or self.settings()["ollama-host"], False, None, (), None,
                                exc.message, exc.kind)
        return service.status(model or self.settings()["ollama-model"] or None)

    def pull_model(self, name: str, host: str | None = None,
                   progress: Callable[[PullProgress], None] | None = None,
                   cancel: threading.Event | None = None) -> bool:
        """Have Ollama download a model; False if cancelled. Raises LlmError."""
        return self.ollama(host).pull(name, progress, cancel)

    def ask(self, question: str, history: Sequence[Turn] | None = None, *,
            conversation: int | None = None, model: str | None = None, host: str | None = None,
            k: int | None = None, scope: Sequence[int] | None = None,
            cancel: threading.Event | None = None, save: bool = True) -> Iterator[AnswerEvent]:
        """Events of answering question: SourcesFound, Token..., then AnswerDone or AskFailed.

        A follow-up continues `conversation` (its turns are the history unless history is given);
        a new conversation is started otherwise. The turn is saved when the answer is done (not
        when cancel stopped it), and AnswerDone.answer.conversation_id says where.
        """
        settings = self.settings()
        if conversation is not None and not conversations.conversation_exists(self.db, conversation):
            raise FolioError(f"No conversation {conversation}.")
        if history is None:
            history = conversations.turns(self.db, conversation) if conversation is not None else []
        options = AskOptions(model=model or settings["ollama-model"] or None,
                             k=k or int(settings["answer-sources"]), scope=scope,
                             max_context=int(settings["max-context"]))
        try:
            service: OllamaService | LlmError = self.ollama(host)
        except LlmError as exc:  # a host setting that is not an address: answer without a model
            service = exc
        asker = Asker(self.db, self.embedder, service, options, cancel)
        for event in asker.run(question, history):
            stopped = cancel is not None and cancel.is_set()
            # A stopped answer is not kept: the user broke it off (often to ask something else).
            if isinstance(event, AnswerDone) and save and event.answer.text and not stopped:
                try:
                    with write_transaction(self.db):
                        if conversation is None:
                            conversation = conversations.create_conversation(self.db, question)
                        conversations.add_turn(self.db, conversation, event.answer)
                except apsw.Error as exc:  # busy, full disk, read-only: the answer still counts
                    notice = f"The answer could not be kept in the conversation ({exc})."
                    event = AnswerDone(dataclasses.replace(
                        event.answer, notice=" ".join(filter(None, [event.answer.notice, notice]))))
                else:
                    event = AnswerDone(dataclasses.replace(event.answer,
                                                           conversation_id=conversation))
            yield event

    def conversations(self) -> list[Conversation]:
        """Kept conversations, the most recent first."""
        return conversations.list_conversations(self.db)

    def turns(self, conversation_id: int) -> list[Turn]:
        return conversations.turns(self.db, conversation_id)

    def delete_conversation(self, conversation_id: int) -> bool:
        with write_transaction(self.db):
            return conversations.delete_conversation(self.db, conversation_id)

    # --- the sample library -------------------------------------------------------------------

    def ensure_sample(self, progress: ProgressCallback | None = None) -> list[AddOutcome]:
        """Index the built-in user guide the first time a library is used; later calls do nothing."""
        if queries.get_meta(self.db, "sample_added") is not None:
            return []
        paths = [resource_path("sample", name) for name in SAMPLE_FILES]
        outcomes = self.add([p for p in paths if p.exists()], progress=progress)
        with write_transaction(self.db):
            queries.set_meta(self.db, "sample_added", queries.now_iso())
        return outcomes


__all__ = ["EmbeddingModelError", "Library", "default_library_dir"]
