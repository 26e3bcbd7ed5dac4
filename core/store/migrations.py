"""Numbered schema migrations, applied in order when a library is opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import apsw
import numpy as np

M001_TABLES = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    doc_type      TEXT NOT NULL,
    original_path TEXT NOT NULL,
    stored_path   TEXT,
    sha256        TEXT,
    size_bytes    INTEGER NOT NULL DEFAULT 0,
    pages         INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('indexed', 'failed')),
    error         TEXT,
    error_kind    TEXT,
    notes         TEXT,
    added_at      TEXT NOT NULL
);
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX documents_original_path ON documents (original_path);

CREATE TABLE passages (
    id           INTEGER PRIMARY KEY,
    document_id  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    text         TEXT NOT NULL,
    heading_path TEXT NOT NULL DEFAULT '',
    context      TEXT NOT NULL DEFAULT '',
    page_start   INTEGER NOT NULL,
    page_end     INTEGER NOT NULL,
    page_label   TEXT,
    char_start   INTEGER,
    char_end     INTEGER,
    token_count  INTEGER NOT NULL,
    UNIQUE (document_id, ordinal)
);

CREATE TABLE passage_rects (
    passage_id INTEGER NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    page       INTEGER NOT NULL,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    PRIMARY KEY (passage_id, seq)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE passages_fts USING fts5 (
    context, text,
    content = 'passages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts (rowid, context, text) VALUES (new.id, new.context, new.text);
END;
CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, context, text)
        VALUES ('delete', old.id, old.context, old.text);
END;
CREATE TRIGGER passages_au AFTER UPDATE ON passages BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, context, text)
        VALUES ('delete', old.id, old.context, old.text);
    INSERT INTO passages_fts (rowid, context, text) VALUES (new.id, new.context, new.text);
END;
"""


M002_PORTER = """
DROP TRIGGER passages_ai;
DROP TRIGGER passages_ad;
DROP TRIGGER passages_au;
DROP TABLE passages_fts;
CREATE VIRTUAL TABLE passages_fts USING fts5 (
    context, text,
    content = 'passages', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO passages_fts (passages_fts) VALUES ('rebuild');
""" + M001_TABLES[M001_TABLES.index("CREATE TRIGGER passages_ai"):]


def m001_create_tables(db: apsw.Connection) -> None:
    db.execute(M001_TABLES)


def m002_porter_stemming(db: apsw.Connection) -> None:
    """Stem keywords with Porter: +0.03 nDCG@10 for keyword search on SciFact (train and test)."""
    db.execute(M002_PORTER)


def m003_bit_vectors(db: apsw.Connection) -> None:
    """Float vectors move to a plain table; vec0 keeps bit vectors for a fast coarse pass."""
    db.execute("""
        CREATE TABLE passage_embeddings (
            passage_id INTEGER PRIMARY KEY REFERENCES passages (id) ON DELETE CASCADE,
            embedding  BLOB NOT NULL
        )""")
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'passage_vectors'").fetchone()
    if exists is None:
        return
    dim_row = db.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
    dim = int(dim_row[0]) if dim_row else 384
    db.execute("INSERT INTO passage_embeddings (passage_id, embedding) "
               "SELECT passage_id, embedding FROM passage_vectors")
    db.execute("CREATE TEMP TABLE old_documents AS "
               "SELECT passage_id, document_id FROM passage_vectors")
    db.execute("DROP TABLE passage_vectors")
    db.execute(f"CREATE VIRTUAL TABLE passage_vectors USING vec0(passage_id INTEGER PRIMARY KEY, "
               f"document_id INTEGER, embedding_bits bit[{dim}])")
    db.execute("INSERT INTO passage_vectors (passage_id, document_id, embedding_bits) "
               "SELECT e.passage_id, o.document_id, vec_quantize_binary(vec_f32(e.embedding)) "
               "FROM passage_embeddings e JOIN temp.old_documents o USING (passage_id)")
    db.execute("DROP TABLE temp.old_documents")


def m004_term_statistics(db: apsw.Connection) -> None:
    """Per-term document counts of the FTS index, so that search can leave out common terms."""
    db.execute("CREATE VIRTUAL TABLE passages_fts_terms USING fts5vocab(passages_fts, 'row')")


M005_CONVERSATIONS = """
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE turns (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    ordinal             INTEGER NOT NULL,
    question            TEXT NOT NULL,
    standalone_question TEXT NOT NULL,
    answer              TEXT NOT NULL,
    mode                TEXT NOT NULL CHECK (mode IN ('generated', 'extractive')),
    model               TEXT,
    complete            INTEGER NOT NULL DEFAULT 1,
    notice              TEXT,
    citations           TEXT NOT NULL DEFAULT '[]',  -- JSON: a snapshot, readable after removal
    created_at          TEXT NOT NULL,
    UNIQUE (conversation_id, ordinal)
);
"""


def m005_conversations(db: apsw.Connection) -> None:
    """Conversations are kept in the library, so the app can reopen them and follow-ups work."""
    db.execute(M005_CONVERSATIONS)


M006_CHANGE_LOG = """
CREATE TABLE passage_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id INTEGER NOT NULL
);
CREATE TRIGGER passages_log_insert AFTER INSERT ON passages BEGIN
    INSERT INTO passage_changes (passage_id) VALUES (new.id);
END;
CREATE TRIGGER passages_log_delete AFTER DELETE ON passages BEGIN
    INSERT INTO passage_changes (passage_id) VALUES (old.id);
END;
CREATE TRIGGER passages_log_update AFTER UPDATE ON passages BEGIN
    INSERT INTO passage_changes (passage_id) VALUES (old.id);
    INSERT INTO passage_changes (passage_id) VALUES (new.id);
END;
"""


def m006_change_log(db: apsw.Connection) -> None:
    """Every write to passages is logged with a sequence number, so that the in-memory indexes
    of any connection or process catch up by reading what changed since the number they saw."""
    db.execute(M006_CHANGE_LOG)


def m007_vectors_in_vec0(db: apsw.Connection) -> None:
    """Vectors get one home: the vec0 table passage_vectors holds each passage's vector as int8
    (scaled to its largest component), and search reads it; the float32 passage_embeddings
    table and the bit vectors go. The model of a new library is recorded here too."""
    from core import types
    from core.store import vectors

    dim_row = db.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
    dim = int(dim_row[0]) if dim_row else types.BUNDLED_DIM
    if db.execute("SELECT 1 FROM meta WHERE key = 'embedding_model'").fetchone() is None:
        db.execute("INSERT INTO meta (key, value) VALUES ('embedding_model', ?), "
                   "('embedding_dim', ?), ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ'))",
                   (types.BUNDLED_MODEL, str(dim)))
    db.execute("DROP TABLE IF EXISTS passage_vectors")
    vectors.create_table(db, dim)
    floats = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'passage_embeddings'").fetchone()
    if floats is None:
        return
    last = 0
    while True:  # in slices, so a big library is not held in memory twice
        rows = db.execute("SELECT passage_id, embedding FROM passage_embeddings "
                          "WHERE passage_id > ? ORDER BY passage_id LIMIT 4096", (last,)).fetchall()
        if not rows:
            break
        good = [(int(cast(int, pid)), cast(bytes, blob)) for pid, blob in rows
                if len(cast(bytes, blob)) == 4 * dim]
        if good:
            matrix = np.frombuffer(b"".join(blob for _, blob in good),
                                   dtype=np.float32).reshape(len(good), dim)
            vectors.insert(db, [pid for pid, _ in good], matrix)
        last = int(cast(int, rows[-1][0]))
    db.execute("DROP TABLE passage_embeddings")


M008_FOLDERS = """
CREATE TABLE folders (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL UNIQUE,
    include      TEXT NOT NULL DEFAULT '[]',  -- JSON list of glob patterns; [] = every type
    exclude      TEXT NOT NULL DEFAULT '[]',
    available    INTEGER NOT NULL DEFAULT 1,
    problem      TEXT,                         -- why it is unavailable, in a sentence
    last_sync_at TEXT,
    added_at     TEXT NOT NULL
);

-- What the last sync saw of each file of a watched folder: a file whose size and mtime are
-- these is unchanged (no hashing, no reading); sha256 is of the bytes it had then.
CREATE TABLE folder_files (
    path      TEXT PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    sha256    TEXT
) WITHOUT ROWID;
CREATE INDEX folder_files_folder ON folder_files (folder_id);
"""


def m008_watched_folders(db: apsw.Connection) -> None:
    """Folders the library follows (core/sync.py), and the files each last sync saw."""
    db.execute(M008_FOLDERS)


M009_FOLIO_TOKENIZER = M002_PORTER.replace("'porter unicode61 remove_diacritics 2'", "'folio'")


def m009_keywords_in_every_script(db: apsw.Connection) -> None:
    """Keywords in every script: passages_fts is rebuilt with Folio's tokenizer
    (core/store/tokenizer.py: porter unicode61 with combining marks as letters, so Devanagari
    words stay whole, and CJK runs as overlapping bigrams). The fts5vocab table of migration 4
    reads the new table by name; the change log is untouched (passages do not change), and
    the keyword index's saved copy is of another tokenizer, so it is built anew."""
    db.execute(M009_FOLIO_TOKENIZER)


M010_CHECKS = """
ALTER TABLE turns ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';  -- JSON: passage ids sent

CREATE TABLE checks (
    id          INTEGER PRIMARY KEY,
    question    TEXT NOT NULL,
    document_id INTEGER NOT NULL,  -- not a foreign key: a check outlives a removed document
    page        INTEGER,           -- NULL: anywhere in the document
    generated   INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    UNIQUE (question, document_id, page)
);
"""


def m010_checks(db: apsw.Connection) -> None:
    """A turn keeps which passages were sent to the model (its diagnosis asks), and saved
    checks (a question and the document, or page, that answers it) are kept (core/diagnosis.py)."""
    db.execute(M010_CHECKS)


def m011_turn_support(db: apsw.Connection) -> None:
    """A kept answer keeps the support of its cited sentences (core/support.py), so a reopened
    conversation highlights the supporting sentence as the fresh answer did."""
    db.execute("ALTER TABLE turns ADD COLUMN support TEXT NOT NULL DEFAULT '[]'")


def m012_library_id(db: apsw.Connection) -> None:
    """A random id of this library file: a saved keyword index (library.db.keywords.npz) is
    used only by the library that wrote it (a library.db restored or replaced at the same path
    is another library)."""
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('library_id', "
               "lower(hex(randomblob(16))))")


M013_SUMMARIES = """
CREATE TABLE summaries (
    key         TEXT PRIMARY KEY,  -- sha256 of all it was made from (core/overview.py)
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('section', 'document')),
    model       TEXT NOT NULL,
    heading     TEXT NOT NULL DEFAULT '',
    page_start  INTEGER NOT NULL,
    page_end    INTEGER NOT NULL,
    sources     TEXT NOT NULL DEFAULT '[]',  -- JSON: the passage ids its [1], [2] ... name
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX summaries_document ON summaries (document_id);
"""


def m013_summaries(db: apsw.Connection) -> None:
    """Whole-document answers (core/overview.py) keep what the model wrote: a row per section
    summary and one per combined answer, each written only once it is complete, under a key
    made from the document's bytes, the passages, the model and the prompt (so a row is never
    a part of a run, and a changed document or model finds nothing). A removed document takes
    its rows with it."""
    db.execute(M013_SUMMARIES)


MIGRATIONS: list[Callable[[apsw.Connection], None]] = [
    m001_create_tables, m002_porter_stemming, m003_bit_vectors, m004_term_statistics,
    m005_conversations, m006_change_log, m007_vectors_in_vec0, m008_watched_folders,
    m009_keywords_in_every_script, m010_checks, m011_turn_support, m012_library_id,
    m013_summaries]


def schema_version(db: apsw.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def migrate(db: apsw.Connection) -> int:
    """Apply every migration the file has not had yet, in one write transaction.

    The version is read again once the write lock is held: two processes or threads opening a
    new library at once would otherwise both run the first migrations.
    """
    from core.errors import LibraryError
    from core.store.connection import write_transaction

    if schema_version(db) == len(MIGRATIONS):
        return len(MIGRATIONS)
    with write_transaction(db):
        current = schema_version(db)
        if current > len(MIGRATIONS):
            raise LibraryError(f"This library was written by a newer Folio (schema {current}); "
                               "update Folio to open it.")
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
