"""Keywords in every script (issue 15, item 3): a passage in German, French, Russian, Greek,
Arabic, Hindi, Chinese, Japanese or Korean is found by a keyword of its own language, at its
page of a PDF added like a user's file; diacritics fold, CJK words are found inside sentences,
and a library made before migration 9 still finds everything once migrated."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import apsw
import pytest

from core.engine import Engine
from core.library import Library
from core.search import SearchMode
from core.store import migrations, queries, search_queries, tokenizer
from core.store.connection import connect
from tests.fixtures import languages
from tests.fixtures.languages import LANGUAGES


def tokens(text: str, reason: int = apsw.FTS5_TOKENIZE_DOCUMENT) -> list[str]:
    db = connect(Path(":memory:"))
    folio = db.fts5_tokenizer(*search_queries.FTS_TOKENIZER)
    return [str(t[2]) for t in folio(text.encode(), reason, None)]


def test_every_language_is_found_at_its_page(library: Library, docs_dir: Path) -> None:
    lacking = {lang.name: languages.font_lacking(lang) for lang in LANGUAGES}
    if any(lacking.values()):
        pytest.skip(f"MuPDF's fonts lack glyphs: {lacking}")
    pages = languages.make_languages_pdf(docs_dir)
    (outcome,) = library.add([docs_dir / "languages.pdf"])
    assert outcome.document_id is not None, outcome
    wrong = {}
    for language in LANGUAGES:
        for query, word in language.queries:
            # the best hit is the language's page, holding the word (Arabic is stored as the
            # presentation forms the PDF's text layer has: NFKC gives the letters)
            hits = library.search(query, mode=SearchMode.KEYWORD).hits
            found = [(h.page, word in unicodedata.normalize("NFKC", h.text)) for h in hits]
            # quoted, it is required as a phrase: only that page (研究历史's bigram 研究 is
            # on the Japanese page too, so unquoted that page comes second)
            phrased = {h.page for h in library.search(f'"{query}"',
                                                       mode=SearchMode.KEYWORD).hits}
            if found[:1] != [(pages[language.name], True)] or phrased != {pages[language.name]}:
                wrong[(language.name, query)] = (found, phrased)
    assert wrong == {}


def test_diacritics_fold_both_ways() -> None:
    """unicode61 remove_diacritics 2 folds precomposed and combining accents: Müller, müller,
    MÜLLER, muller and a decomposed Mu\u0308ller are one term; so are é/e, ç/c, ñ/n."""
    assert len({tuple(tokens(w)) for w in ("Müller", "müller", "MÜLLER", "muller",
                                            "Mu\u0308ller")}) == 1
    assert tokens("rénové façade niño") == tokens("renove facade nino")
    # Greek keeps its accents (unicode61 folds Latin ones only): the accented word is the term
    assert tokens("ψαράδες") == tokens("ΨΑΡΆΔΕΣ") != tokens("ψαραδες")


def test_cjk_runs_are_bigrams_at_index_and_query_time() -> None:
    assert tokens("我们的图书馆保存着") == ["我们", "们的", "的图", "图书", "书馆", "馆保",
                                          "保存", "存着"]
    assert tokens("图书馆", apsw.FTS5_TOKENIZE_QUERY) == ["图书", "书馆"]
    assert tokens("서울의 도서관에서") == ["서울", "울의", "도서", "서관", "관에", "에서"]
    assert tokens("中") == ["中"]  # a one-character run stays itself
    # Latin words beside CJK are the chain's own tokens (stemmed), whatever touches them
    assert tokens("使用Python进行running") == ["使用", "python", "进行", "run"]


def test_cjk_phrases_and_words_match_in_fts5() -> None:
    db = connect(Path(":memory:"))
    db.execute("CREATE VIRTUAL TABLE f USING fts5(x, tokenize = 'folio')")
    db.execute("INSERT INTO f (rowid, x) VALUES (1, '我们的图书馆保存着许多古老的手稿和地图。'), "
               "(2, '東京の図書館には古い地図がたくさん'), (3, '서울의 도서관에서 오래된 지도를')")

    def match(expression: str) -> list[int]:
        return [int(r[0]) for r in db.execute("SELECT rowid FROM f WHERE f MATCH ?",
                                              (expression,))]
    assert match('"图书馆"') == [1]
    assert match('"古老的手稿"') == [1]
    assert match('"図書館"') == [2]
    assert match('"도서관"') == [3]
    assert match('"图书馆" AND "地图"') == [1]
    assert match('"手稿地图"') == []  # a phrase is consecutive: not every bigram somewhere


def test_indic_words_stay_whole() -> None:
    """Vowel signs are combining marks: unicode61's default categories split हिन्दी at them."""
    assert tokens("हिन्दी भाषा में खोज।") == ["हिन्दी", "भाषा", "में", "खोज"]


def test_presentation_forms_and_ligatures_fold() -> None:
    assert tokens("ﺍﻝﻡﻙﺕﺏﺓ") == tokens("المكتبة") == ["المكتبة"]
    assert tokens("ﬁnding ﬂows") == tokens("finding flows") == ["find", "flow"]


def test_porter_changes_only_latin_tokens() -> None:
    """Porter's rules remove ASCII suffixes, so other scripts pass it unchanged: the choice is
    which Latin words it stems. German and French words folded to ASCII are stemmed; on the
    pairs below (a word, and a form of it a reader would search for) Porter joins 7 of 16
    German and French pairs that unicode61 alone keeps apart (the -s and -ment endings; not
    German's -en and -er plurals, nor Haus/Hauses: hau/haus), and none of the 4 pairs of
    different words. It helps more than it harms, so it stays on for every Latin token."""
    plain = "unicode61", ["remove_diacritics", "2", "categories", "L* N* Co M*"]
    db = connect(Path(":memory:"))
    bare = db.fts5_tokenizer(*plain)

    def unstemmed(text: str) -> list[str]:
        return [str(t[2]) for t in bare(text.encode(), apsw.FTS5_TOKENIZE_DOCUMENT, None)]
    for text in ("рукописи летопись", "χειρόγραφα ψαράδες", "المكتبة والخرائط",
                 "पुस्तकालय पांडुलिपियाँ"):
        assert tokens(text) == unstemmed(text)
    same = [("Haus", "Hauses"), ("Bericht", "Berichts"), ("Brücke", "Brücken"),
            ("Rathaus", "Rathäuser"), ("Gemeinde", "Gemeinden"), ("Verkehr", "Verkehrs"),
            ("Leistung", "Leistungen"), ("Kind", "Kinder"),
            ("élection", "élections"), ("rénové", "rénovée"), ("fontaine", "fontaines"),
            ("gouvernement", "gouvernements"), ("élève", "élèves"), ("jouer", "jouent"),
            ("nation", "nationale"), ("lycée", "lycées")]
    different = [("Rat", "Rate"), ("Arm", "Armut"), ("mur", "mure"), ("sale", "salut")]
    joined = [pair for pair in same if tokens(pair[0]) == tokens(pair[1])]
    joined_bare = [pair for pair in same if unstemmed(pair[0]) == unstemmed(pair[1])]
    assert (len(joined), len(joined_bare)) == (7, 0), joined
    assert [p for p in different if tokens(p[0]) == tokens(p[1])] == []


def test_text_without_cjk_tokenizes_as_before() -> None:
    """What FTS5 indexed before migration 9, for text of the Latin, Greek and Cyrillic
    scripts: the old chain's tokens exactly (so SciFact and Cranfield rank as they did)."""
    db = connect(Path(":memory:"))
    old = db.fts5_tokenizer("porter", ["unicode61", "remove_diacritics", "2"])
    text = ("The running boundary-layer ‘tests’ — 3.5 µm, naïve façade, Straße; "
            "Библиотека хранит рукописи; Η βιβλιοθήκη φυλάσσει.")
    assert tokens(text) == [str(t[2]) for t in old(text.encode(), 1, None)]


def test_a_library_made_before_migration_9_finds_its_words(tmp_path: Path,
                                                           engine: Engine) -> None:
    root = tmp_path / "old"
    root.mkdir()
    db = connect(root / "library.db")
    for number, migration in enumerate(migrations.MIGRATIONS[:8], start=1):
        migration(db)
        db.execute(f"PRAGMA user_version = {number}")
    queries.set_meta(db, "sample_added", "x")
    db.execute("INSERT INTO documents (id, title, doc_type, original_path, status, added_at) "
               "VALUES (1, 'Alte Notizen', 'markdown', '/old.md', 'indexed', 'then')")
    texts = ["Herr Müller was running along the jetty.",
             "我们的图书馆保存着许多古老的手稿。",
             "पुस्तकालय में पुरानी पांडुलिपियाँ हैं।"]
    for i, text in enumerate(texts, start=1):
        db.execute("INSERT INTO passages (id, document_id, ordinal, text, page_start, page_end, "
                   "token_count) VALUES (?, 1, ?, ?, 1, 1, 10)", (i, i, text))
    before = {q: [int(r[0]) for r in db.execute(
        "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", (q,))]
        for q in ('"muller"', '"图书馆"')}
    assert before == {'"muller"': [1], '"图书馆"': []}  # the sentence was one token
    db.close()

    with Library.open(root, engine) as library:
        assert migrations.schema_version(library.db) == len(migrations.MIGRATIONS) >= 9
        sql = library.db.execute("SELECT sql FROM sqlite_master WHERE name = 'passages_fts'"
                                 ).fetchone()
        assert sql is not None and f"tokenize = '{tokenizer.NAME}'" in str(sql[0])
        library.db.execute("INSERT INTO passages_fts (passages_fts, rank) "
                           "VALUES ('integrity-check', 1)")
        for query, want in (("muller", 1), ("Müller", 1), ("run", 1), ("图书馆", 2),
                            ("手稿", 2), ("पुस्तकालय", 3), ("jetty", 1)):
            hits = library.search(query, mode=SearchMode.KEYWORD).hits
            assert [h.passage_id for h in hits] == [want], query
        # the triggers are back: a passage written now is indexed with the new tokenizer
        library.db.execute(
            "INSERT INTO passages (id, document_id, ordinal, text, page_start, page_end, "
            "token_count) VALUES (4, 1, 4, '서울의 도서관에서 지도를 찾았습니다.', 1, 1, 10)")
        assert [h.passage_id for h in library.search(
            "도서관", mode=SearchMode.KEYWORD).hits] == [4]
