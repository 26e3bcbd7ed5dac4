"""Embedding models served by the user's Ollama (`ollama:NAME`, through /api/embed).

Stronger and multilingual models than the bundled MiniLM (bge-m3, nomic-embed-text,
snowflake-arctic-embed2, qwen3-embedding, ...) run where the user's hardware is. Passages are
cut as for the bundled model (its tokenizer counts their tokens, at most 256 a passage), which
every Ollama embedding model takes whole (their contexts are 512 tokens and more), so a change
of model never re-cuts passages. The dimension is learned from the first vector.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from tokenizers import Tokenizer

from core.answer_types import LlmErrorKind
from core.embedding import (
    BUNDLED_MAX_TOKENS,
    Embedder,
    Vectors,
    bundled_tokenizer_dir,
    plain_tokenizer,
)
from core.errors import EmbeddingModelError, EmbeddingUnavailable
from core.llm import LlmError, OllamaService

PREFIX = "ollama:"
BATCH = 32  # texts per /api/embed request
PROBE = "Folio asks for one vector to learn the model's dimension."
QWEN_QUERY = ("Instruct: Given a web search query, retrieve relevant passages that answer the "
              "query\nQuery: ")
# What known models want before a query and before a document (their model cards); the key is
# the start of the model's name without its namespace or tag. Unknown models get none.
PREFIXES: dict[str, tuple[str, str]] = {
    "nomic-embed-text": ("search_query: ", "search_document: "),
    "multilingual-e5": ("query: ", "passage: "),
    "e5-": ("query: ", "passage: "),
    "mxbai-embed-large": ("Represent this sentence for searching relevant passages: ", ""),
    "snowflake-arctic-embed": ("query: ", ""),
    "qwen3-embedding": (QWEN_QUERY, ""),
    "embeddinggemma": ("task: search result | query: ", "title: none | text: "),
    "bge-m3": ("", ""),
    "granite-embedding": ("", ""),
}


def is_ollama_model(name: str) -> bool:
    return name.startswith(PREFIX)


def prefixes_for(model: str) -> tuple[str, str]:
    """(query prefix, document prefix) of an Ollama model name such as 'nomic-embed-text:v1.5'."""
    base = model.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    for start, pair in sorted(PREFIXES.items(), key=lambda item: -len(item[0])):
        if base.startswith(start):
            return pair
    return ("", "")


class OllamaEmbedder(Embedder):
    """An Embedder whose vectors come from Ollama; token counts from the bundled tokenizer."""

    def __init__(self, name: str, service: OllamaService) -> None:
        if not is_ollama_model(name) or not name[len(PREFIX):].strip():
            raise EmbeddingModelError(f"'{name}' is not an Ollama model name (ollama:NAME).")
        self.name = name
        self.model = name[len(PREFIX):].strip()
        self.service = service
        self.dim = 0  # learned from the first vector (load())
        self.max_tokens = BUNDLED_MAX_TOKENS
        self.query_prefix, self.document_prefix = prefixes_for(self.model)
        self._tokenizer = plain_tokenizer(bundled_tokenizer_dir())
        self._load_lock = threading.Lock()

    @property
    def is_bundled(self) -> bool:
        return False

    @property
    def tokenizer(self) -> Tokenizer:
        """The bundled model's: passages are cut as for it (see the module's docstring)."""
        assert self._tokenizer is not None
        return self._tokenizer

    def load(self) -> None:
        """Ask Ollama for one vector: it says whether the model can embed, and its dimension."""
        with self._load_lock:
            if not self.dim:
                self.dim = len(self._embed([self.document_prefix + PROBE])[0])

    def embed_passages(self, texts: Sequence[str], batch_tokens: int = 0,
                       on_batch: Callable[[int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> Vectors | None:
        self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            if should_stop is not None and should_stop():
                return None
            batch = [self.document_prefix + t for t in texts[start:start + BATCH]]
            out[start:start + len(batch)] = self._embed(batch)
            if on_batch is not None:
                on_batch(len(batch))
        return out

    def embed_query(self, text: str, single_thread: bool = False) -> Vectors:
        self.load()
        vector: Vectors = self._embed([self.query_prefix + text])[0]
        return vector

    def _embed(self, texts: list[str]) -> Vectors:
        try:
            vectors = np.asarray(self.service.embed(self.model, texts), dtype=np.float32)
        except LlmError as exc:
            raise self._unavailable(exc) from exc
        if vectors.ndim != 2 or (self.dim and vectors.shape[1] != self.dim):
            # Not Ollama being away: the model changed under the library (re-embed to fix).
            raise EmbeddingModelError(
                f"Ollama's {self.model} returned vectors of {vectors.shape[-1]} dimensions "
                f"where it gave {self.dim} before (was the model replaced?); the library is "
                "unchanged.")
        return vectors

    def _unavailable(self, exc: LlmError) -> EmbeddingUnavailable:
        host = self.service.host
        if exc.kind is LlmErrorKind.MODEL_MISSING:
            return EmbeddingUnavailable(f"The embedding model {self.model} is not installed in "
                                        f"Ollama at {host} (`ollama pull {self.model}`).")
        if exc.kind is LlmErrorKind.UNREACHABLE:
            return EmbeddingUnavailable(f"Nothing answers at {host}, where the embedding model "
                                        f"{self.model} is served.")
        if exc.kind is LlmErrorKind.CUT_OFF:
            return EmbeddingUnavailable(f"Ollama at {host} closed the connection before the "
                                        "vectors were sent.")
        return EmbeddingUnavailable(f"Ollama cannot embed with {self.model} now: {exc.message}")
