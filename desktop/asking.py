"""Asking and conversations: a question streams its answer into the chat panel from a reader.

The library decides how to answer (its ollama-host, ollama-model and answer-sources settings,
read by core at each question), so `folio config` and the settings dialog both reach the next
question. A kept answer is announced as a change of conversations, and the conversation list
refreshes itself on that event, whoever made the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core import overview
from core.answer_types import (
    AnswerDone,
    AnswerEvent,
    AskFailed,
    Conversation,
    Progress,
    SourcesFound,
    Token,
)
from desktop.app_events import CONVERSATIONS, AppEvents, Change
from desktop.chat_panel import ChatPanel
from desktop.library_panel import LibraryPanel
from desktop.live_read import LiveRead
from desktop.tasks import StreamTask, Task
from desktop.workers import Workers

if TYPE_CHECKING:
    from core.library import Library

STOPPED = "Stopped."


class Asking(QObject):
    """One question at a time: a new one stops the one being answered."""

    answer_finished = Signal(object)  # the Answer, or the message of a failed or stopped one

    def __init__(self, workers: Workers, events: AppEvents, chat: ChatPanel,
                 library_panel: LibraryPanel, on_error: Callable[[str], object],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.chat = chat
        self.library_panel = library_panel
        self.on_error = on_error
        self.current: StreamTask[AnswerEvent] | None = None
        self._conversations: LiveRead[list[Conversation]] = LiveRead(
            workers, "conversations", lambda lib: lib.conversations(), chat.set_conversations,
            watched=True)
        events.library_changed.connect(self._on_library_changed)

    def _on_library_changed(self, change: Change) -> None:
        if change.switched:
            self.stop()
            self.chat.show_conversation(None, [])
        if change.touches_conversations:
            self._conversations.refresh()

    def refresh_conversations(self) -> None:
        self._conversations.refresh()

    # --- a question ---------------------------------------------------------------------------

    def ask(self, question: str, whole_document: bool | None = None) -> StreamTask[AnswerEvent]:
        """Ask on a reader; a question asked while one is answered stops the old one first.
        whole_document: walk the scoped document's sections (core/overview.py); None lets
        core decide from the question's words."""
        if self.current is not None:
            self.stop()
            self.chat.fail_answer(STOPPED)
            self.current = None
        conversation = self.chat.conversation_id
        scope = self.chat.scope()

        def work(lib: Library, task: StreamTask[AnswerEvent]) -> Iterator[AnswerEvent]:
            for event in lib.ask(question, conversation=conversation, scope=scope,
                                 cancel=task.cancel, whole_document=whole_document):
                if isinstance(event, AnswerDone) and event.answer.conversation_id is not None:
                    task.changed(CONVERSATIONS)  # the turn was kept
                yield event

        task: StreamTask[AnswerEvent] = StreamTask(work, "ask")
        self.current = task
        self.chat.begin_answer(question)
        task.on_yielded(lambda event: self._on_event(task, event))
        task.on_failure(lambda message: self._end(task, message))
        task.on_finished(lambda: self._end(task, STOPPED))  # ended without AnswerDone/AskFailed
        self.workers.read(task)
        return task

    def _on_event(self, task: StreamTask[AnswerEvent], event: AnswerEvent) -> None:
        if task is not self.current:
            return  # a stopped question still sends its last events; they belong to no turn
        match event:
            case Token(text=text):
                self.chat.append_token(text)
            case SourcesFound(sources=sources):
                self.chat.show_sources(sources)
            case Progress(message=message):
                self.chat.show_progress(message)
            case AnswerDone(answer=answer):
                self.chat.finish_answer(answer)
                self.current = None
                self.answer_finished.emit(answer)
            case AskFailed(message=message):
                self._end(task, message)

    def _end(self, task: StreamTask[AnswerEvent], message: str) -> None:
        if task is self.current:
            self.chat.fail_answer(message)
            self.current = None
            self.answer_finished.emit(message)

    def warm(self) -> Task[None]:
        """Load the embedding model and the library's keyword and vector indexes on a reader
        now, so the first question does not wait for them (seconds at a million passages); a
        question asked meanwhile waits for the same loads, never repeats them."""
        def work(lib: Library, _task: Task[None]) -> None:
            lib.search("folio", k=1)

        task: Task[None] = Task(work, "warm")
        self.workers.read(task)
        return task

    def stop(self) -> None:
        if self.current is not None:
            self.current.cancel.set()

    @property
    def answering(self) -> bool:
        return self.current is not None

    # --- what to ask about --------------------------------------------------------------------

    def ask_about(self, doc_ids: list[int]) -> None:
        """Ask the next questions within these documents only: a chip above the question box."""
        self.chat.set_scope(doc_ids, [self.library_panel.title_of(i) for i in doc_ids])
        self.chat.focus_question()

    def summarise(self, doc_id: int) -> StreamTask[AnswerEvent]:
        """Summarise the document section by section (core/overview.py), within it only; the
        sections' summaries are kept, so a second time is instant."""
        title = self.library_panel.title_of(doc_id)
        self.chat.set_scope([doc_id], [title])
        return self.ask(overview.SUMMARY_QUESTION.format(title=title), whole_document=True)

    # --- past conversations -------------------------------------------------------------------

    def open_conversation(self, conversation_id: int | None) -> None:
        self.stop()
        if conversation_id is None:
            self.chat.show_conversation(None, [])
            self.chat.focus_question()
            return
        self.workers.read(Task(lambda lib, _t: lib.turns(conversation_id), "turns")
                          .on_success(lambda turns: self.chat.show_conversation(conversation_id,
                                                                                turns))
                          .on_failure(self.on_error))
