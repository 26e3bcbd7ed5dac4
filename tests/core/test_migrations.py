"""A library written by the first schema opens, migrates, and still finds what it held."""

from __future__ import annotations

from pathlib import Path

from core.engine import Engine
from core.library import Library
from core.search import SearchMode
from core.store import migrations, queries
from core.store import vectors as store_vectors
from core.store.connection import connect


def test_schema_1_library_is_migrated_and_searchable(tmp_path: Path, engine: Engine) -> None:
    root = tmp_path / "old"
    root.mkdir()
    db = connect(root / "library.db")
    migrations.m001_create_tables(db)
    db.execute("PRAGMA user_version = 1")
    db.execute("CREATE VIRTUAL TABLE passage_vectors USING vec0(passage_id INTEGER PRIMARY KEY, "
               "document_id INTEGER, embedding float[384] distance_metric=cosine)")
    for key, value in (("embedding_model", "folio/all-MiniLM-L6-v2-int8"),
                       ("embedding_dim", "384"), ("sample_added", "x")):
        queries.set_meta(db, key, value)
    db.execute("INSERT INTO documents (id, title, doc_type, original_path, status, added_at) "
               "VALUES (1, 'Old notes', 'markdown', '/old.md', 'indexed', 'then')")
    texts = ["The lighthouse keepers were running along the jetty.",
             "Bread must rise in a warm kitchen."]
    vectors = engine.embedder("folio/all-MiniLM-L6-v2-int8").embed_passages(texts)
    assert vectors is not None
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True), start=1):
        db.execute("INSERT INTO passages (id, document_id, ordinal, text, page_start, page_end, "
                   "token_count) VALUES (?, 1, ?, ?, 1, 1, 10)", (i, i, text))
        db.execute("INSERT INTO passage_vectors (passage_id, document_id, embedding) "
                   "VALUES (?, 1, ?)", (i, vector.tobytes()))
    db.close()

    with Library.open(root, engine) as library:
        assert migrations.schema_version(library.db) == len(migrations.MIGRATIONS)
        # porter stemming now: "run" finds "running"
        hits = library.search("run", mode=SearchMode.KEYWORD).hits
        assert [h.passage_id for h in hits] == [1]
        # the float vectors are in vec0 as int8, pointing the same way; nothing else holds them
        stored = library.vector_of_passage(2)
        assert stored is not None and float(stored @ vectors[1]) > 0.999
        top = library.search("baking loaves", mode=SearchMode.SEMANTIC).hits[0]
        assert top.passage_id == 2
        assert store_vectors.count(library.db) == 2
        assert store_vectors.width(library.db) == 384
        assert library.db.execute("SELECT 1 FROM sqlite_master WHERE name = "
                                  "'passage_embeddings'").fetchone() is None
        assert library.check().ok
