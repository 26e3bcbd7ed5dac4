"""App-level events: one signal says what in the library changed, and panels refresh themselves.

A write task of this app, an answer kept in a conversation and a commit by another process (the
CLI, seen by the workers' watcher) all end in `AppEvents.library_changed(Change)`. Listeners look
at the flags they care about; `Change.switched` (another library folder) means everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class Change:
    """What changed in the library (any combination)."""

    documents: bool = False
    conversations: bool = False
    settings: bool = False
    switched: bool = False  # the app now uses another library folder: everything is new
    folders: bool = False  # the watched folders (their list, state, last sync)

    def __or__(self, other: Change) -> Change:
        return Change(self.documents or other.documents,
                      self.conversations or other.conversations,
                      self.settings or other.settings, self.switched or other.switched,
                      self.folders or other.folders)

    def __bool__(self) -> bool:
        return (self.documents or self.conversations or self.settings or self.switched
                or self.folders)

    @property
    def touches_documents(self) -> bool:
        return self.documents or self.switched

    @property
    def touches_conversations(self) -> bool:
        return self.conversations or self.switched

    @property
    def touches_settings(self) -> bool:
        return self.settings or self.switched

    @property
    def touches_folders(self) -> bool:
        return self.folders or self.switched


DOCUMENTS = Change(documents=True)
CONVERSATIONS = Change(conversations=True)
SETTINGS = Change(settings=True)
SWITCHED = Change(switched=True)
FOLDERS = Change(folders=True)


class AppEvents(QObject):
    """The app's one event bus; made once by the window and handed to whoever listens."""

    library_changed = Signal(Change)
