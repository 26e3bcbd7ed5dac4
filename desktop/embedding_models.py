"""The embedding models the library's Ollama serves, for the settings dialog (issue 15).

What is listed (the host's installed embedding models, as `ollama:NAME`), the models worth
pulling, and whether a picked one can embed now: each read on a reader (a Task), never on the
GUI thread, because each is a request to Ollama that may wait for a timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.answer_types import ModelInfo
from desktop.tasks import Task

if TYPE_CHECKING:
    from core.llm import OllamaService

PREFIX = "ollama:"  # core.ollama_embedding.PREFIX (not imported here: it loads the tokenizer)

# Good embedding models Ollama's library has, the first a multilingual one; offered for pulling.
KNOWN_MODELS = ("bge-m3", "nomic-embed-text", "mxbai-embed-large", "snowflake-arctic-embed2",
                "embeddinggemma", "qwen3-embedding", "granite-embedding")
# The languages of known models (their model cards), by the start of the name without its tag;
# the longest matching start wins.
_LANGUAGES = {
    "bge-m3": "multilingual",
    "nomic-embed-text-v2": "multilingual",
    "nomic-embed-text": "English",
    "mxbai-embed-large": "English",
    "snowflake-arctic-embed2": "multilingual",
    "snowflake-arctic-embed": "English",
    "embeddinggemma": "multilingual",
    "qwen3-embedding": "multilingual",
    "granite-embedding": "English",
    "granite-embedding:278m": "multilingual",
    "all-minilm": "English",
    "paraphrase-multilingual": "multilingual",
    "multilingual-e5": "multilingual",
    "bge-large": "English",
}


def is_ollama_model(name: str) -> bool:
    return name.startswith(PREFIX)


def short_name(model: str) -> str:
    """An Ollama model name as the library keeps it: no namespace change, no ':latest'."""
    model = model.strip()
    if model.startswith(PREFIX):
        model = model[len(PREFIX):].strip()
    return model[:-len(":latest")] if model.endswith(":latest") else model


def languages_of(model: str) -> str | None:
    name = short_name(model).rsplit("/", 1)[-1].lower()
    found = [start for start in _LANGUAGES if name.startswith(start)]
    return _LANGUAGES[max(found, key=len)] if found else None


def label_of(model: str) -> str:
    """How an Ollama embedding model is shown: "bge-m3 (Ollama, multilingual)"."""
    name = short_name(model)
    languages = languages_of(name)
    return f"{name} (Ollama, {languages})" if languages else f"{name} (Ollama)"


def ollama_options(models: Sequence[ModelInfo]) -> list[tuple[str, str]]:
    """(value, label) of the installed embedding models: value `ollama:NAME`."""
    seen: dict[str, str] = {}
    for model in models:
        if not model.chat:
            seen.setdefault(PREFIX + short_name(model.name), label_of(model.name))
    return list(seen.items())


def pullable(models: Sequence[ModelInfo]) -> list[str]:
    """The known good models not installed yet, in KNOWN_MODELS' order."""
    installed = {short_name(m.name).split(":", 1)[0] for m in models}
    return [name for name in KNOWN_MODELS if name not in installed]


@dataclass(frozen=True)
class OllamaChoices:
    """What the dialog offers from one Ollama host."""

    host: str
    options: tuple[tuple[str, str], ...]  # (value, label) of the installed embedding models
    pullable: tuple[str, ...]  # known good models not installed
    message: str  # one sentence: how many there are, or why none can be listed


def _service(host: str) -> OllamaService:
    """A client of the Ollama at host ("": $OLLAMA_HOST, else Ollama's default, as the library
    setting means). Its own, not the engine's: it must not answer from a cached list or a
    learned dimension. Raises LlmError for an address that cannot be one."""
    from core.llm import OllamaService

    return OllamaService(host or None)


def ollama_choices(host: str) -> Task[OllamaChoices]:
    """The embedding models installed in the Ollama at host (the dialog's host field). Needs
    no library, so it never waits for a reader to open one."""
    def work(_lib: object, _task: Task[OllamaChoices]) -> OllamaChoices:
        from core.answer_types import LlmErrorKind
        from core.llm import LlmError

        try:
            service = _service(host)
            models = service.models()
        except LlmError as exc:
            where = host or "Ollama's usual address"
            why = (f"nothing answers at {where}" if exc.kind is LlmErrorKind.UNREACHABLE
                   else exc.message.rstrip(".")[:1].lower() + exc.message.rstrip(".")[1:])
            return OllamaChoices(host, (), KNOWN_MODELS,
                                 f"Ollama's embedding models cannot be listed: {why}.")
        options = ollama_options(models)
        if options:
            count = "1 embedding model is" if len(options) == 1 else \
                f"{len(options)} embedding models are"
            message = f"{count} installed in Ollama at {service.host}."
        else:
            message = (f"No embedding model is installed in Ollama at {service.host}; "
                       "pull one below (bge-m3 reads many languages).")
        return OllamaChoices(service.host, tuple(options), tuple(pullable(models)), message)
    return Task(work, "ollama-embedding-models", needs_library=False)


def ollama_check(name: str, host: str) -> Task[str]:
    """Can Ollama embed with name now? "" if it can, else one sentence why not (one vector is
    asked for, as the switch itself does first; nothing in the library changes)."""
    def work(_lib: object, _task: Task[str]) -> str:
        from core.answer_types import LlmErrorKind
        from core.errors import EmbeddingModelError
        from core.llm import LlmError
        from core.ollama_embedding import OllamaEmbedder

        keeps = "; the library keeps its current model."
        try:
            service = _service(host)
            OllamaEmbedder(name, service).load()
        except EmbeddingModelError as exc:
            cause = exc.__cause__
            if isinstance(cause, LlmError) and cause.kind is LlmErrorKind.UNREACHABLE:
                # Not core's sentence: it ends in advice about chat models, not this.
                return (f"Nothing answers at {service.host}, so Ollama cannot embed with "
                        f"{short_name(name)}: start Ollama (or correct the host){keeps}")
            return str(exc).rstrip(".") + keeps
        except LlmError as exc:  # a host that cannot be an address
            return exc.message.rstrip(".") + keeps
        return ""
    return Task(work, "ollama-embedding-check", needs_library=False)
