"""The values of asking: sources, citations, the answer, and the events Library.ask yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.types import Hit, Rect


class AnswerMode(StrEnum):
    GENERATED = "generated"  # written by the Ollama model from the sources
    EXTRACTIVE = "extractive"  # the best sentences of the best passages, without a model


class LlmErrorKind(StrEnum):
    """Why no (complete) written answer came; each comes with a sentence a person understands."""

    UNREACHABLE = "unreachable"  # nothing answers at the Ollama host
    NO_MODEL = "no_model"  # Ollama runs but has no chat model installed
    MODEL_MISSING = "model_missing"  # the chosen model is not installed
    CUT_OFF = "cut_off"  # the stream ended before the answer was complete
    BAD_RESPONSE = "bad_response"  # the server said something that is not Ollama's API
    TIMEOUT = "timeout"  # no reply within the time limit
    SERVER_ERROR = "server_error"  # Ollama reported an error (out of memory, runner crashed, ...)
    TOO_LONG = "too_long"  # the question leaves no room for a source in the model's context


@dataclass(frozen=True, slots=True)
class Source:
    """A passage given to the model as source [n]."""

    n: int
    hit: Hit


@dataclass(frozen=True, slots=True)
class Citation:
    """A source number the answer cites, resolved to where the passage is."""

    n: int
    passage_id: int
    document_id: int
    title: str
    page: int
    page_label: str | None
    text: str
    rects: tuple[Rect, ...]
    found_by: str  # "keywords", "meaning" or "both"

    @property
    def page_display(self) -> str:
        return self.page_label or str(self.page)


@dataclass(frozen=True, slots=True)
class Timings:
    retrieval_ms: float
    first_token_ms: float | None = None  # from the question to the first token of the answer
    tokens_per_s: float | None = None
    total_ms: float = 0.0
    request_ms: float | None = None  # from the question to the answer request sent to Ollama


@dataclass(frozen=True, slots=True)
class Span:
    """The sentence of source n that best supports an answer sentence."""

    n: int
    text: str
    page: int
    score: float
    supported: bool
    # On its PDF page, PDF points from the top-left: core/span_rects.py fills them on demand
    # (for `folio ask --json`, and when the window shows the span); () elsewhere.
    rects: tuple[Rect, ...] = ()


@dataclass(frozen=True, slots=True)
class SentenceSupport:
    sentence: str  # the answer's sentence, as written (with its marks)
    spans: tuple[Span, ...]  # one per source it cites
    unsupported_numbers: tuple[str, ...] = ()  # numbers in it that no cited source holds

    @property
    def not_found_in(self) -> tuple[int, ...]:
        return tuple(s.n for s in self.spans if not s.supported)


@dataclass(frozen=True, slots=True)
class Answer:
    """The final answer of one turn."""

    question: str
    standalone_question: str  # what retrieval searched for (a follow-up rewritten)
    text: str
    mode: AnswerMode
    model: str | None
    citations: tuple[Citation, ...]  # one per distinct cited source, in order of first citation
    sources: tuple[Source, ...]  # every source the model was given
    unknown_citations: tuple[int, ...] = ()  # numbers cited that match no source (dropped)
    notice: str | None = None  # one sentence for the user, e.g. how to get written answers
    error_kind: LlmErrorKind | None = None  # set when the model failed (notice says how)
    complete: bool = True  # False when the stream was cut off or cancelled
    conversation_id: int | None = None
    timings: Timings = field(default_factory=lambda: Timings(0.0))
    prompt_tokens: int = 0
    num_ctx: int = 0
    # Per sentence that cites: the source sentence that supports it best (core/support.py).
    support: tuple[SentenceSupport, ...] = ()

    @property
    def uncited(self) -> bool:
        """A generated answer that cites nothing: its claims cannot be checked."""
        return self.mode is AnswerMode.GENERATED and not self.citations


@dataclass(frozen=True, slots=True)
class SourcesFound:
    """First event: what retrieval found (shown before the answer is written)."""

    standalone_question: str
    sources: tuple[Source, ...]
    retrieval_ms: float


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of the answer as the model writes it."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerDone:
    """Last event: the answer, generated or extractive, complete or cut off (see its fields)."""

    answer: Answer


@dataclass(frozen=True, slots=True)
class AskFailed:
    """Last event when nothing could be answered at all (for example an empty question)."""

    message: str


@dataclass(frozen=True, slots=True)
class Progress:
    """While a long answer is made (a whole-document summary, core/overview.py): steps done of
    total, and a line to show ("Summarising: section 4 of 12")."""

    done: int
    total: int
    message: str


AnswerEvent = SourcesFound | Token | Progress | AnswerDone | AskFailed


@dataclass(frozen=True, slots=True)
class Turn:
    """One question and its answer in a kept conversation."""

    question: str
    answer: str
    mode: AnswerMode = AnswerMode.GENERATED
    citations: tuple[Citation, ...] = ()
    standalone_question: str = ""
    created_at: str = ""
    sources: tuple[int, ...] = ()  # the passage ids sent to the model, in source order
    support: tuple[SentenceSupport, ...] = ()  # as Answer.support when the answer was made


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str  # the first question
    created_at: str
    updated_at: str
    turns: int


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """An installed Ollama model."""

    name: str
    size_bytes: int
    family: str
    parameter_size: str
    chat: bool  # False for embedding-only models


@dataclass(frozen=True, slots=True)
class OllamaStatus:
    """What the question panel shows about Ollama."""

    host: str
    reachable: bool
    version: str | None
    models: tuple[ModelInfo, ...]
    model: str | None  # the model answers will use, None when there is none
    message: str  # one sentence: "Connected to Ollama 0.12 with llama3.2:3b." or how to fix
    error_kind: LlmErrorKind | None = None


@dataclass(frozen=True, slots=True)
class PullProgress:
    status: str
    completed: int = 0
    total: int = 0
