"""One in-memory index per library connection, built on first use and refreshed on each use.

The vector index (search.py) and the keyword index (keyword_index.py) are both kept this way.
Each connection has a lock of its own: a multi-second build for one library never makes a
search of another wait. (Issue "One engine per process" is to share them per library file.)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, Protocol, Self, TypeVar

import apsw


class Refreshable(Protocol):
    def refresh(self, db: apsw.Connection) -> Self: ...


T = TypeVar("T", bound=Refreshable)


class ConnectionCache(Generic[T]):
    """build(db) the first time a connection asks, index.refresh(db) every time after."""

    def __init__(self, build: Callable[[apsw.Connection], T]) -> None:
        self._build = build
        self._items: weakref.WeakKeyDictionary[apsw.Connection, T] = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[apsw.Connection, threading.Lock] = (
            weakref.WeakKeyDictionary())
        self._guard = threading.Lock()  # held only to find a connection's own lock

    def get(self, db: apsw.Connection) -> T:
        with self._guard:
            lock = self._locks.get(db)
            if lock is None:
                lock = self._locks[db] = threading.Lock()
        with lock:
            item = self._items.get(db)
            item = self._build(db) if item is None else item.refresh(db)
            self._items[db] = item
            return item
