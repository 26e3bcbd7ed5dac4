"""`folio check`: is the library consistent, and what can be rebuilt when it is not."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from core.embedding import Embedder
from core.filestore import CHUNK, FileStore
from core.store import changes, integrity, queries, vectors
from core.store.connection import write_transaction


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    repairable: bool


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    documents: int = 0
    passages: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, message: str, repairable: bool) -> None:
        self.problems.append(Problem(kind, message, repairable))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _check_files(db: apsw.Connection, store: FileStore, report: CheckReport,
                 repair: bool) -> None:
    for doc in queries.list_documents(db):
        if doc.stored_path is None:
            continue
        stored = store.absolute(doc.stored_path)
        if stored.is_file() and sha256_of(stored) == doc.sha256:
            continue
        state = "is missing" if not stored.is_file() else "has changed (sha256 differs)"
        # The user's own file, if it still holds the same bytes, can give the copy back.
        original = Path(doc.original_path)
        if repair and original.is_file() and sha256_of(original) == doc.sha256:
            tmp, _, _ = store.copy_in(original, max_bytes=2**62)
            stored.unlink(missing_ok=True)  # a changed copy is replaced
            store.settle(tmp, doc.stored_path)
            report.repaired.append(f"copied '{doc.title}' again from {doc.original_path}")
            continue
        report.add("stored file", f"Document {doc.id} '{doc.title}': Folio's copy {state}; "
                   "remove it and add the file again.", repairable=False)


def check(db: apsw.Connection, store: FileStore, embedding_model: str, embedding_dim: int,
          embedder: Embedder | None = None, repair: bool = False) -> CheckReport:
    """Every rule the library must keep; with repair, rebuild what can be rebuilt."""
    report = CheckReport(documents=integrity.count(db, "SELECT count(*) FROM documents"),
                         passages=integrity.count(db, "SELECT count(*) FROM passages"))
    damage = integrity.integrity_check(db)
    if damage:
        report.add("integrity", "SQLite finds the file damaged: " + "; ".join(damage[:5]),
                   repairable=False)
        return report  # nothing else can be trusted, and repairs could make it worse
    for name, sql, message, fix in integrity.RULES:
        n = integrity.count(db, sql)
        if not n:
            continue
        if repair and fix is not None:
            with write_transaction(db):
                db.execute(fix)
                changes.bump_epoch(db)  # the indexes are built anew from what is left
            report.repaired.append(message.format(n=n) + ": removed")
        else:
            report.add(name, message.format(n=n).capitalize(), fix is not None)
    _check_fts(db, report, repair)
    _check_vectors(db, embedding_model, embedding_dim, embedder, report, repair)
    _check_files(db, store, report, repair)
    return report


def _check_fts(db: apsw.Connection, report: CheckReport, repair: bool) -> None:
    if integrity.fts_consistent(db):
        return
    if repair:
        with write_transaction(db):
            integrity.rebuild_fts(db)
        report.repaired.append("rebuilt the keyword index from the passages")
    else:
        report.add("keyword index", "The keyword index does not match the passages.", True)


def _check_vectors(db: apsw.Connection, model: str, dim: int, embedder: Embedder | None,
                   report: CheckReport, repair: bool) -> None:
    declared = vectors.width(db)
    if declared is None:
        report.add("vectors", "The vector table is missing or not of float or int8 vectors; "
                   "re-embed with `folio config embedding-model`.", repairable=False)
        return
    if declared != dim:
        report.add("embedding model", f"The vector table holds {declared} dimensions, but the "
                   f"recorded model {model} has {dim}; re-embed with "
                   "`folio config embedding-model`.", repairable=False)
        return
    missing = integrity.missing_vectors(db)
    if missing and repair and embedder is not None and embedder.name == model:
        embedded = embedder.embed_passages([f"{ctx}\n{text}" for _, _, ctx, text in missing])
        assert embedded is not None
        with write_transaction(db):
            vectors.insert(db, [pid for pid, _, _, _ in missing], embedded)
            changes.bump_epoch(db)  # every index loads the vectors anew
        report.repaired.append(f"embedded {len(missing)} passage(s) that had no vector")
    elif missing:
        report.add("vectors", f"{len(missing)} passage(s) have no vector.", repairable=True)
