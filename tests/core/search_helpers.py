"""Searching a bare connection in tests (a keyword-only library file of core/evaluation), the
way a Library does: through a Searcher over the file's LibraryIndexes. One LibraryIndexes per
connection here, so a second connection loads the saved keyword index as another process
would."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import apsw

from core.indexes import LibraryIndexes
from core.keyword_index import KeywordIndex
from core.search import DEFAULT_PARAMS, Searcher, SearchParams

_INDEXES: weakref.WeakKeyDictionary[apsw.Connection, LibraryIndexes] = (
    weakref.WeakKeyDictionary())


def indexes_of(db: apsw.Connection) -> LibraryIndexes:
    if db not in _INDEXES:
        _INDEXES[db] = LibraryIndexes()
    return _INDEXES[db]


def keyword_ranks(db: apsw.Connection, query: str, limit: int, scope: Sequence[int] | None,
                  params: SearchParams = DEFAULT_PARAMS) -> list[tuple[int, float]]:
    return Searcher(db, indexes_of(db)).keyword_ranks(query, limit, scope, params)


def keyword_index(db: apsw.Connection) -> KeywordIndex:
    """The connection's keyword index, brought up to date."""
    with indexes_of(db).keywords(db) as index:
        return index
