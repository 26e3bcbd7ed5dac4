"""Talking to Ollama: which models are installed, streaming a chat, pulling; errors a person reads.

Everything goes through the official `ollama` client. What it really raises (checked against the
test server in tests/ollama_server.py): a refused connection is the builtin ConnectionError from a
plain call but a raw httpx.ConnectError while a stream is iterated; a missing model is a
ResponseError (404) raised only once the stream is iterated; an error line in the stream is a
ResponseError; a line that is not JSON is a JSONDecodeError; a stream closed early either raises an
httpx transport error or just ends without its `done` line.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import ollama
import pydantic

from core.answer_types import LlmErrorKind, ModelInfo, OllamaStatus, PullProgress
from core.errors import FolioError

DEFAULT_HOST = "http://127.0.0.1:11434"
SUGGESTED_MODEL = "llama3.2:3b"
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 300.0  # a large model on a CPU can think for minutes before its first token
MODELS_MAX_AGE_S = 10.0
CANCEL_POLL_S = 0.05
EMBEDDING_FAMILIES = {"bert", "nomic-bert", "bert-large", "xlm-roberta"}


class LlmError(FolioError):
    """Ollama could not give an answer, for one clear reason."""

    def __init__(self, kind: LlmErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# A DNS name or IPv4 address (labels of letters, digits, hyphens; underscores, which Docker
# service names have), or an IPv6 address.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?|[0-9A-Fa-f:.]+")


def resolve_host(setting: str | None) -> str:
    """The host from the settings, else $OLLAMA_HOST, else Ollama's default; always a URL.

    Raises LlmError (unreachable) for an address that cannot be one, such as "localhost:abc".
    """
    host = (setting or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST).strip().rstrip("/")
    if "://" not in host:
        host = "http://" + host
    scheme, rest = host.split("://", 1)
    if ":" not in rest.split("/", 1)[0].rsplit("]", 1)[-1]:
        # Ollama's own default port, but an https URL without one is a proxy on 443
        port = ":443" if scheme == "https" else ":11434"
        rest = rest.replace("/", f"{port}/", 1) if "/" in rest else rest + port
    url = f"{scheme}://{rest.replace('0.0.0.0', '127.0.0.1', 1)}"
    try:
        parts = urllib.parse.urlsplit(url)
        # urlsplit takes any characters as a host ("not a url" included): a host is a DNS name
        # or an IP address, nothing else.
        valid = (parts.scheme in ("http", "https") and bool(parts.port)
                 and _HOSTNAME.fullmatch(parts.hostname or "") is not None)
    except ValueError:
        valid = False
    if not valid:
        raise LlmError(LlmErrorKind.UNREACHABLE,
                       f"'{setting or os.environ.get('OLLAMA_HOST')}' is not an Ollama address: "
                       "use host:port or a URL such as http://127.0.0.1:11434.")
    return url


def unreachable_message(host: str) -> str:
    return (f"Ollama is not running at {host}: install it from https://ollama.com, start it, and "
            f"run `ollama pull {SUGGESTED_MODEL}` to get written answers.")


def no_model_message() -> str:
    return (f"Ollama has no chat model installed: run `ollama pull {SUGGESTED_MODEL}` (or "
            f"`folio pull {SUGGESTED_MODEL}`) to get written answers.")


def missing_model_message(model: str) -> str:
    return (f"The model '{model}' is not installed in Ollama: run `ollama pull {model}` or choose "
            "an installed model.")


@dataclass
class ChatStats:
    """Filled in as the stream runs."""

    first_token_s: float | None = None
    tokens: int = 0
    eval_count: int | None = None
    eval_duration_ns: int | None = None
    prompt_eval_count: int | None = None
    done: bool = False
    done_reason: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        if self.eval_count and self.eval_duration_ns:
            return self.eval_count / (self.eval_duration_ns / 1e9)
        return None


def _translate(exc: BaseException, host: str, model: str | None) -> LlmError:
    """One of Folio's errors for whatever the client or the transport raised."""
    if isinstance(exc, LlmError):
        return exc
    if isinstance(exc, ollama.ResponseError):
        if exc.status_code == 404 and model is not None:
            return LlmError(LlmErrorKind.MODEL_MISSING, missing_model_message(model))
        return LlmError(LlmErrorKind.SERVER_ERROR, f"Ollama reported an error: {exc.error}")
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return LlmError(LlmErrorKind.UNREACHABLE, unreachable_message(host))
    if isinstance(exc, httpx.TimeoutException):
        return LlmError(LlmErrorKind.TIMEOUT, f"Ollama at {host} did not reply in time.")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return LlmError(LlmErrorKind.CUT_OFF,
                        "The answer was cut off: Ollama closed the connection mid-answer.")
    if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError | httpx.DecodingError
                  | TypeError | AttributeError | ValueError):
        return LlmError(LlmErrorKind.BAD_RESPONSE,
                        f"The server at {host} sent a reply that is not Ollama's.")
    if isinstance(exc, httpx.HTTPError):
        return LlmError(LlmErrorKind.UNREACHABLE, f"Could not talk to Ollama at {host}: {exc}.")
    raise exc


def _pump(client: ollama.Client, request: dict[str, Any],
          parts: queue.Queue[tuple[str, Any]], should_stop: Callable[[], bool]) -> None:
    """Read the chat stream into parts: ("part", chunk)..., then ("end", None) or ("error", exc)."""
    stream: Any = None
    try:
        stream = client.chat(**request)
        for part in stream:
            parts.put(("part", part))
            if should_stop() or part.done:
                break
        parts.put(("end", None))
    except Exception as exc:  # handed to the consumer, which translates it
        parts.put(("error", exc))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # ends the HTTP response; the service's client and its pool stay


def _is_chat_model(family: str, families: Sequence[str]) -> bool:
    return not ({family, *families} & EMBEDDING_FAMILIES)


class OllamaService:
    """One Ollama host. Cheap to create; each call opens what it needs."""

    def __init__(self, host: str | None = None, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.host = resolve_host(host)
        self.timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
        self.client = ollama.Client(host=self.host, timeout=self.timeout)
        self._context_lengths: dict[str, int | None] = {}
        self._listed: tuple[float, list[ModelInfo]] | None = None

    def version(self) -> str:
        try:
            response = httpx.get(f"{self.host}/api/version", timeout=CONNECT_TIMEOUT_S)
            response.raise_for_status()
            return str(response.json().get("version", "?"))
        except (httpx.HTTPError, json.JSONDecodeError, AttributeError) as exc:
            if isinstance(exc, httpx.HTTPStatusError | json.JSONDecodeError | AttributeError):
                raise LlmError(LlmErrorKind.BAD_RESPONSE,
                               f"The server at {self.host} does not speak Ollama's API.") from exc
            raise _translate(exc, self.host, None) from exc

    def models(self, max_age_s: float = 0.0) -> list[ModelInfo]:
        """The installed models; a list fetched less than max_age_s ago is reused."""
        if self._listed is not None and time.monotonic() - self._listed[0] < max_age_s:
            return self._listed[1]
        try:
            listed = self.client.list()
        except Exception as exc:  # every failure becomes one LlmError
            raise _translate(exc, self.host, None) from exc
        found = []
        for m in listed.models:
            details = m.details
            family = (details.family if details else None) or ""
            families = (details.families if details else None) or []
            found.append(ModelInfo(name=m.model or "?", size_bytes=int(m.size or 0), family=family,
                                   parameter_size=(details.parameter_size if details else "") or "",
                                   chat=_is_chat_model(family, families)))
        self._listed = (time.monotonic(), found)
        return found

    def pick_model(self, preferred: str | None, installed: Sequence[ModelInfo] | None = None) -> str:
        """The preferred model if installed, else the first installed chat model."""
        # A question need not wait for a fresh list: one from the last few seconds will do.
        models = list(installed) if installed is not None else self.models(MODELS_MAX_AGE_S)
        names = {m.name for m in models}
        if preferred:
            if preferred in names or f"{preferred}:latest" in names:
                return preferred
            raise LlmError(LlmErrorKind.MODEL_MISSING, missing_model_message(preferred))
        chat = [m.name for m in models if m.chat]
        if not chat:
            raise LlmError(LlmErrorKind.NO_MODEL, no_model_message())
        return chat[0]

    def status(self, preferred: str | None) -> OllamaStatus:
        """Never raises: what the question panel shows."""
        try:
            version = self.version()
            models = self.models()
        except LlmError as exc:
            return OllamaStatus(self.host, False, None, (), None, exc.message, exc.kind)
        try:
            model = self.pick_model(preferred, models)
        except LlmError as exc:
            return OllamaStatus(self.host, True, version, tuple(models), None, exc.message, exc.kind)
        return OllamaStatus(self.host, True, version, tuple(models), model,
                            f"Connected to Ollama {version} at {self.host} with {model}.")

    def context_length(self, model: str) -> int | None:
        """The model's trained context length, from /api/show (cached)."""
        if model not in self._context_lengths:
            try:
                info = self.client.show(model).modelinfo or {}
            except Exception as exc:
                raise _translate(exc, self.host, model) from exc
            lengths = [int(v) for k, v in info.items()
                       if k.endswith(".context_length") and isinstance(v, int | float)]
            self._context_lengths[model] = min(lengths) if lengths else None
        return self._context_lengths[model]

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text from /api/embed (texts longer than the model's context are
        truncated by Ollama). Raises LlmError."""
        try:
            reply = self.client.embed(model=model, input=list(texts), truncate=True)
            vectors = [list(map(float, v)) for v in reply.embeddings]
        except Exception as exc:
            raise _translate(exc, self.host, model) from exc
        if len(vectors) != len(texts):
            raise LlmError(LlmErrorKind.BAD_RESPONSE, f"Ollama at {self.host} returned "
                           f"{len(vectors)} vectors for {len(texts)} texts.")
        return vectors

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], num_ctx: int,
             temperature: float = 0.0, max_tokens: int = 120) -> str:
        """A short whole reply at once (rewriting a follow-up), at most max_tokens long."""
        try:
            reply = self.client.chat(model=model, messages=list(messages), stream=False,
                                     options={"num_ctx": num_ctx, "temperature": temperature,
                                              "num_predict": max_tokens})
            return reply.message.content or ""
        except Exception as exc:
            raise _translate(exc, self.host, model) from exc

    def stream_chat(self, model: str, messages: Sequence[Mapping[str, str]], num_ctx: int,
                    stats: ChatStats, cancel: threading.Event | None = None,
                    temperature: float = 0.1) -> Iterator[str]:
        """The reply piece by piece. Raises LlmError; stops quietly when cancel is set.

        The HTTP stream is read on a thread of its own, so that Stop returns at once even while
        Ollama is still loading the model or reading the prompt (a blocked read cannot be
        interrupted); that thread closes the request when the next line arrives.
        """
        start = time.perf_counter()
        stop = cancel or threading.Event()
        finished = threading.Event()  # set when this generator ends, however it ends
        parts: queue.Queue[tuple[str, Any]] = queue.Queue()
        client = self.client  # one per service: making an ollama.Client costs 10-30 ms
        request = {"model": model, "messages": list(messages), "stream": True,
                   "options": {"num_ctx": num_ctx, "temperature": temperature}}
        reader = threading.Thread(target=_pump,
                                  args=(client, request, parts,
                                        lambda: stop.is_set() or finished.is_set()),
                                  name="folio-ollama-stream", daemon=True)
        reader.start()
        try:
            while True:
                try:
                    kind, value = parts.get(timeout=CANCEL_POLL_S)
                except queue.Empty:
                    if stop.is_set():
                        return  # Stop: the reader thread ends the request at its next line
                    continue
                if stop.is_set():
                    return
                if kind == "error":
                    raise _translate(value, self.host, model) from value
                if kind == "end":
                    break
                piece = (value.message.content or "") if value.message else ""
                if piece:
                    if stats.first_token_s is None:
                        stats.first_token_s = time.perf_counter() - start
                    stats.tokens += 1
                    yield piece
                if value.done:
                    stats.done = True
                    stats.eval_count = value.eval_count
                    stats.eval_duration_ns = value.eval_duration
                    stats.prompt_eval_count = value.prompt_eval_count
                    stats.done_reason = value.done_reason
                    return
        finally:
            finished.set()
        raise LlmError(LlmErrorKind.CUT_OFF,
                       "The answer was cut off: the stream from Ollama ended before the answer did.")

    def pull(self, model: str, progress: Callable[[PullProgress], None] | None = None,
             cancel: threading.Event | None = None) -> bool:
        """Pull a model; False if cancelled."""
        try:
            for part in self.client.pull(model, stream=True):
                if cancel is not None and cancel.is_set():
                    return False
                if progress is not None:
                    progress(PullProgress(part.status or "", int(part.completed or 0),
                                          int(part.total or 0)))
        except ollama.ResponseError as exc:
            raise LlmError(LlmErrorKind.SERVER_ERROR,
                           f"Could not pull '{model}': {exc.error}") from exc
        except Exception as exc:
            raise _translate(exc, self.host, None) from exc
        return True
