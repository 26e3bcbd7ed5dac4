"""The facade the CLI and the desktop app use: open a library, add, list, remove, configure."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import apsw
import numpy as np

from core import check as check_module
from core import diagnosis, export, overview, prompt, sandbox
from core import settings as settings_module
from core import sync as folder_sync
from core.answer import Asker, AskOptions
from core.answer_types import (
    AnswerDone,
    AnswerEvent,
    Conversation,
    OllamaStatus,
    PullProgress,
    Turn,
)
from core.check import CheckReport
from core.embedding import Embedder
from core.engine import Engine, model_cache_dir
from core.errors import EmbeddingModelError, FolioError, LibraryError
from core.filestore import FileStore
from core.indexes import LibraryIndexes
from core.ingest import Ingestor, PasswordCallback, ProgressCallback
from core.llm import LlmError, OllamaService, resolve_host
from core.paths import default_library_dir, make_private_dir, tighten_library
from core.resources import resource_path
from core.search import DEFAULT_PARAMS, Searcher, SearchMode, SearchParams, SearchResult
from core.store import changes, conversations, queries, summaries, vectors
from core.store import checks as check_store
from core.store import folders as folder_store
from core.store.connection import connect, write_transaction
from core.store.migrations import migrate
from core.types import BUNDLED_MODEL, AddOutcome, Document, ReadOptions

SAMPLE_FILES = ("folio-guide.pdf",)
SETTINGS = [s.name for s in settings_module.SETTINGS]


class Library:
    """One library folder: library.db and files/, over one connection. Not shared across
    threads: open one per thread, all with the process's one Engine.

    Opening is cheap and writes nothing to an up-to-date library (a new or older one is
    migrated); the writer's housekeeping is prepare().
    """

    def __init__(self, root: Path, engine: Engine | None = None) -> None:
        self.root = root
        # Without an engine the library has one of its own, closed with it (a one-off use).
        self._own_engine = engine is None
        self.engine = engine if engine is not None else Engine()
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
        self.indexes: LibraryIndexes = self.engine.indexes(self.db_path)

    @classmethod
    def open(cls, root: Path | None = None, engine: Engine | None = None) -> Library:
        return cls(root if root is not None else default_library_dir(), engine)

    def prepare(self) -> None:
        """The writer's housekeeping, once after opening: tighten the permissions, remove
        stored files no document names (a crash between copy and commit), trim the change log."""
        self.tighten_permissions()
        self.store.sweep(queries.stored_paths(self.db))
        with write_transaction(self.db):
            changes.trim(self.db)

    def data_version(self) -> int:
        """Moves when another connection (another thread, the CLI) commits a change. (PRAGMA
        data_version: apsw's Connection.data_version() moves only once the connection reads.)"""
        row = self.db.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

    def tighten_permissions(self) -> list[Path]:
        """Folder 0700, database files 0600 (they hold all the text of the documents and the
        questions), unless keep-permissions is on; the paths whose modes were changed."""
        if queries.get_meta(self.db, settings_module.setting("keep-permissions").key) == "on":
            return []
        return tighten_library(self.root, self.db_path)

    def close(self) -> None:
        self.db.close()
        if self._own_engine:
            self.engine.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the embedding model ------------------------------------------------------------------

    @property
    def embedding_model(self) -> str:
        return queries.get_meta(self.db, "embedding_model") or BUNDLED_MODEL

    @property
    def embedding_dim(self) -> int:
        return int(queries.get_meta(self.db, "embedding_dim") or 384)

    @property
    def embedder(self) -> Embedder:
        return self.engine.embedder(self.embedding_model, self._ollama_host())

    def _ollama_host(self) -> str | None:
        return self.settings()["ollama-host"] or None

    def searcher(self) -> Searcher:
        return Searcher(self.db, self.indexes, self.embedder, self.engine.query_pool())

    def set_embedding_model(self, name: str, progress: Callable[[int, int], None] | None = None,
                            cancel: threading.Event | None = None) -> bool:
        """Switch to another model and re-embed every passage; False if cancelled (no change).

        The new vectors are computed first and swapped in with one transaction, so a failed
        download or a cancel leaves the library exactly as it was.
        """
        if name == self.embedding_model:
            return True
        embedder = self.engine.embedder(name, self._ollama_host())
        embedder.load()
        rows = queries.passage_texts_for_embedding(self.db)
        done = 0

        def on_batch(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(rows))

        stop = cancel or threading.Event()
        embedded = embedder.embed_passages([f"{ctx}\n{text}" for _, _, ctx, text in rows],
                                           on_batch=on_batch, should_stop=stop.is_set)
        if embedded is None:
            return False
        with write_transaction(self.db):
            vectors.drop_table(self.db)
            vectors.create_table(self.db, embedder.dim)
            vectors.insert(self.db, [pid for pid, _, _, _ in rows], embedded)
            queries.set_meta(self.db, "embedding_model", name)
            queries.set_meta(self.db, "embedding_dim", str(embedder.dim))
            changes.bump_epoch(self.db)
        return True

    # --- settings -----------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        """Every setting's value (core/settings.py), defaults filled in."""
        return settings_module.values(
            queries.meta_values(self.db, [s.key for s in settings_module.SETTINGS]))

    def set_setting(self, key: str, value: str) -> None:
        """Validate and keep a setting (not the embedding model: set_embedding_model)."""
        if key == "embedding-model":
            raise FolioError("Use set_embedding_model(): changing the model re-embeds the library.")
        declared = settings_module.setting(key)
        value = declared.validate(value)
        with write_transaction(self.db):
            queries.set_meta(self.db, declared.key, value)
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
                            progress, cancel, self.engine.reader(limits), password_for,
                            int(settings["max-text-mb"]) * 10**6, self.read_options(settings))
        outcomes = ingestor.add_all(list(paths), on_outcome)
        # The log keeps its newest entries (core/store/changes.py); a full disk or a busy file
        # leaves it for the next time.
        with contextlib.suppress(apsw.Error), write_transaction(self.db):
            changes.trim(self.db)
        return outcomes

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

    def remove_path(self, original_path: str) -> list[int]:
        """Remove every document (indexed or failed) of the file at original_path; their ids."""
        ids: list[int] = []
        for doc in queries.documents_with_original_path(self.db, original_path):
            self.remove(str(doc.id))
            ids.append(doc.id)
        return ids

    # --- watched folders (core/sync.py) -------------------------------------------------------

    def folders(self) -> list[folder_store.Folder]:
        return folder_store.list_folders(self.db)

    def watch_folder(self, path: Path | str, include: Sequence[str] = (),
                     exclude: Sequence[str] = ()) -> folder_store.Folder:
        """Keep the folder in sync from now on (the next sync adds its files); watching it
        again changes its patterns."""
        folder = folder_sync.normalise(path)
        folder_sync.check_folder_to_watch(folder)
        with write_transaction(self.db):
            folder_store.add_folder(self.db, folder, include, exclude)
        found = folder_store.folder_at(self.db, folder)
        assert found is not None
        return found

    def unwatch_folder(self, path: Path | str, keep_documents: bool = False) -> list[int]:
        """Stop following the folder; unless keep_documents, remove the documents of its files
        (those also under another watched folder stay, with that folder). The removed ids."""
        folder = folder_store.folder_at(self.db, folder_sync.normalise(path))
        if folder is None:
            raise FolioError(f"{folder_sync.normalise(path)} is not a watched folder "
                             "(`folio folders list` shows them).")
        files = folder_store.seen_files(self.db, folder.id)
        others = [f for f in self.folders() if f.id != folder.id]
        removed: list[int] = []
        with write_transaction(self.db):
            folder_store.delete_folder(self.db, folder.id)  # its folder_files go by cascade
        for path_seen in files:
            keeper = max((f for f in others if folder_sync.is_under(path_seen, f.path)),
                         key=lambda f: len(f.path), default=None)
            if keeper is not None:
                with write_transaction(self.db):
                    folder_store.record_file(self.db, dataclasses.replace(
                        files[path_seen], folder_id=keeper.id))
            elif not keep_documents:
                removed += self.remove_path(path_seen)
        return removed

    def sync(self, progress: ProgressCallback | None = None,
             cancel: threading.Event | None = None,
             on_outcome: Callable[[AddOutcome], None] | None = None,
             wait_s: float = 0.0, only: Sequence[str] | None = None) -> folder_sync.SyncReport:
        """Bring the library in line with its watched folders (core/sync.py)."""
        def add(paths: list[Path]) -> list[AddOutcome]:
            return self.add(paths, progress=progress, cancel=cancel, on_outcome=on_outcome)

        syncer = folder_sync.Syncer(self.db, add, self.remove_path, cancel, wait_s=wait_s,
                                    skip=[str(self.root)])
        return syncer.run(None if only is None else [folder_sync.normalise(p) for p in only])

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
        """The passage's stored vector, scaled to length 1 (stored as int8: core/store/vectors)."""
        stored = vectors.vector_of(self.db, passage_id)
        if stored is None:
            return None
        vector = stored.astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    # --- search -------------------------------------------------------------------------------

    def search(self, query: str, mode: SearchMode | str = SearchMode.HYBRID, k: int = 10,
               scope: Sequence[int] | None = None,
               params: SearchParams = DEFAULT_PARAMS) -> SearchResult:
        """The k best passages for query (hybrid, keyword or semantic), within scope if given."""
        return self.searcher().search(query, SearchMode(mode), k, scope, params)

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
        return self.engine.ollama(resolve_host(host or self.settings()["ollama-host"] or None))

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
            cancel: threading.Event | None = None, save: bool = True,
            whole_document: bool | None = None) -> Iterator[AnswerEvent]:
        """Events of answering question: SourcesFound, Token..., then AnswerDone or AskFailed.

        A follow-up continues `conversation` (its turns are the history unless history is given);
        a new conversation is started otherwise. The turn is saved when the answer is done (not
        when cancel stopped it), and AnswerDone.answer.conversation_id says where.

        A question about one document as a whole (scoped to it, with words such as summarise or
        list every; or whole_document=True) walks the document's sections (core/overview.py),
        with Progress events before the answer.
        """
        settings = self.settings()
        if conversation is not None and not conversations.conversation_exists(self.db, conversation):
            raise FolioError(f"No conversation {conversation}.")
        if history is None:
            history = conversations.turns(self.db, conversation) if conversation is not None else []
        options = AskOptions(model=model or settings["ollama-model"] or None,
                             k=k or int(settings["answer-sources"]), scope=scope,
                             max_context=int(settings["max-context"]),
                             prompt_sources=settings["prompt-sources"])
        try:
            service: OllamaService | LlmError = self.ollama(host)
        except LlmError as exc:  # a host setting that is not an address: answer without a model
            service = exc
        if scope and (whole_document or (whole_document is None
                                         and overview.wanted(question, scope))):
            events = overview.Overviewer(self.db, self.embedder, service, options.model,
                                         options.max_context, cancel).run(question, scope[0])
        else:
            events = Asker(self.searcher(), service, options, cancel).run(question, history)
        for event in events:
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

    def forget_summaries(self, doc_id: int) -> int:
        """Drop the whole-document summaries kept for a document (core/overview.py); how many."""
        with write_transaction(self.db):
            return summaries.forget_document(self.db, doc_id)

    def conversations(self) -> list[Conversation]:
        """Kept conversations, the most recent first."""
        return conversations.list_conversations(self.db)

    def turns(self, conversation_id: int) -> list[Turn]:
        return conversations.turns(self.db, conversation_id)

    def conversation_markdown(self, conversation_id: int) -> str:
        """The conversation as Markdown with its sources as footnotes (core/export.py)."""
        kept = next((c for c in self.conversations() if c.id == conversation_id), None)
        if kept is None:
            raise FolioError(f"No conversation {conversation_id}.")
        return export.conversation_markdown(kept.title, self.turns(conversation_id),
                                            self.documents())

    def open_link(self, url: str) -> tuple[Document, int]:
        """The document and page of a folio:// link (export.LinkError for any other link)."""
        return export.parse_link(url, self.documents())

    def delete_conversation(self, conversation_id: int) -> bool:
        with write_transaction(self.db):
            return conversations.delete_conversation(self.db, conversation_id)

    # --- diagnosis and saved checks (core/diagnosis.py) ---------------------------------------

    def place(self, expect: str) -> diagnosis.Place:
        """The place an answer should come from: 'DOC' or 'DOC:PAGE' (an id or a sha256
        prefix, and a page number)."""
        ref, _, page_text = expect.strip().partition(":")
        doc = self.resolve(ref)
        page: int | None = None
        if page_text:
            if not page_text.strip().isdigit() or not 1 <= int(page_text) <= max(1, doc.pages):
                raise FolioError(f"'{page_text}' is not a page of '{doc.title}' (it has "
                                 f"{doc.pages} page(s)).")
            page = int(page_text)
        return diagnosis.Place(doc.id, doc.title, page)

    def sources_sent(self, k: int | None = None) -> int:
        """How many sources an answer sends the model for k sources per answer (None: the
        library's answer-sources): twice as many under prompt-sources brief (core/prompt.py)."""
        settings = self.settings()
        return prompt.sources_wanted(k or int(settings["answer-sources"]),
                                     settings["prompt-sources"])

    def add_check(self, question: str, expect: str, generated: bool = False) -> int:
        if not question.strip():
            raise FolioError("A check needs a question.")
        place = self.place(expect)
        with write_transaction(self.db):
            return check_store.add_check(self.db, question.strip(), place.document_id,
                                         place.page, generated)

    def checks(self) -> list[tuple[check_store.SavedCheck, diagnosis.Place]]:
        """The saved checks and their places (a check whose document was removed is left out
        of runs but listed: its place has the title 'document removed')."""
        titles = {d.id: d.title for d in self.documents()}
        return [(c, diagnosis.Place(c.document_id, titles.get(c.document_id,
                                                                "document removed"), c.page))
                for c in check_store.list_checks(self.db)]

    def remove_check(self, check_id: int) -> None:
        with write_transaction(self.db):
            if not check_store.delete_check(self.db, check_id):
                raise FolioError(f"No check {check_id} (`folio checks list` shows them).")

    def run_checks(self, k: int | None = None, mode: SearchMode = SearchMode.HYBRID,
                   model: str | None = None, progress: Callable[[int, int], None] | None = None,
                   cancel: threading.Event | None = None) -> diagnosis.CheckRun:
        """Every saved check: the place's rank, hit@1/3/5/10 and the verdict; with a model,
        each question is answered (not kept) and whether the answer cited the place."""
        sources = k or int(self.settings()["answer-sources"])  # what each answer is asked with
        cut = self.sources_sent(sources)  # how many of them reach the model
        present = {d.id for d in self.documents()}
        saved = [(c, p) for c, p in self.checks() if c.document_id in present]

        def answer(question: str) -> tuple[list[int], list[int]]:
            for event in self.ask(question, model=model, k=sources, save=False, cancel=cancel):
                if isinstance(event, AnswerDone):
                    return ([s.hit.passage_id for s in event.answer.sources],
                            [c.passage_id for c in event.answer.citations])
            return [], []

        stop = cancel.is_set if cancel is not None else None
        return diagnosis.run_checks(self.searcher(), saved, cut, SearchMode(mode),
                                    answer if model else None, model, progress, stop)

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


__all__ = ["EmbeddingModelError", "Library", "default_library_dir", "model_cache_dir"]
