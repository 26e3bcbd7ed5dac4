"""A stand-in for Ollama's HTTP API, for tests: stdlib only, on 127.0.0.1 and a free port.

    with FakeOllama() as server:
        client = ollama.Client(host=server.host)
        ...
        assert server.chat_requests[-1]["options"]["num_ctx"] == 4096

It speaks the JSON shapes of a real Ollama (GET /api/version, GET /api/tags, POST /api/show,
POST /api/chat, POST /api/pull, POST /api/embed) and streams NDJSON with chunked transfer
encoding, as Ollama's Go server does, so a stream closed early looks to the client exactly as
when Ollama dies mid-answer.

Answers are built from the prompt, so a test can tell which passages reached the model and in what
order: with `<source id="1" ...>text</source>` blocks in the last user message (or a system
message) the answer restates the first sentence of the first source followed by " [1]", then the
first sentence of the second source followed by " [2]" if there is one; without sources it is
NO_SOURCES_ANSWER. A last user message ending in "Standalone question:" is a follow-up rewrite:
the answer is `rewrite_reply`, or by default the text after "Follow-up question:" plus
REWRITE_SUFFIX. `reply` overrides every answer.

Embeddings (/api/embed) are made from the text, deterministically: each word (lowercased,
letters and digits) and each pair of neighbouring words is hashed to a few dimensions of the
model's embedding length, and the sum is scaled to length 1, so texts sharing words get similar
vectors and a paraphrase with other words does not. `embed_requests` lists the requests.

Faults are set with `server.fault = Fault.X` (until changed) or `server.set_fault(Fault.X, times=n)`
(the next n requests it applies to). What the real `ollama` client raises for each is recorded in
tests/test_ollama_server.py.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import itertools
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

DEFAULT_MODELS = ("llama3.2:3b",)
NO_SOURCES_ANSWER = "The sources do not contain the answer."
REWRITE_MARKER = "Standalone question:"
FOLLOW_UP_LABEL = "Follow-up question:"
REWRITE_SUFFIX = " (rewritten)"
GARBAGE_LINE = "<html><body>502 Bad Gateway</body></html>"
# What Ollama streams when its runner process dies mid-answer.
RUNNER_CRASH = "llama runner process has terminated: exit status 2"
# Ollama's wording for a model that is not installed. /api/chat has said MISSING_CHAT for a long
# time (the scheduler's message); recent servers answer a chat with MISSING_SHOW's wording too.
# Both are 404: key on the status, not the text.
MISSING_CHAT = 'model "{model}" not found, try pulling it first'
MISSING_SHOW = "model '{model}' not found"

# Embedding-only families, as real Ollama reports them in details.family.
_EMBEDDING_PREFIXES = {
    "nomic-embed": ("nomic-bert", "137M", "F16", 274_302_450, 2048, 768),
    "all-minilm": ("bert", "23M", "F16", 45_960_996, 512, 384),
    "mxbai-embed": ("bert", "334M", "F16", 669_615_493, 512, 1024),
    "snowflake-arctic-embed": ("bert", "334M", "F16", 669_603_712, 512, 1024),
    "bge-m3": ("bert", "567M", "F16", 1_157_672_605, 8192, 1024),
}


class Fault(enum.Enum):
    """What goes wrong on the requests a fault applies to (see FakeOllama.set_fault): /api/chat
    (every fault but WRONG_DIMENSION), /api/show (MODEL_MISSING only), /api/pull (all but
    MODEL_MISSING and WRONG_DIMENSION), /api/embed (MODEL_MISSING, SERVER_ERROR, CUT_STREAM,
    GARBAGE_LINE, WRONG_DIMENSION). Each such
    request uses up one of `fault_times`. Not streamed (stream: false), a fault looks as the real
    server shows it: CUT_STREAM/NO_DONE half a body then a closed connection, GARBAGE_LINE a body
    that is not JSON, ERROR_LINE an HTTP 500, SLOW_TOKENS the whole delay before the reply."""

    NONE = "none"
    MODEL_MISSING = "model_missing"  # chat and show answer 404 as if the model were not installed
    CUT_STREAM = "cut_stream"  # `cut_after` lines, then the connection closes without the end
    NO_DONE = "no_done"  # `cut_after` lines, then the stream ends cleanly but without a done line
    GARBAGE_LINE = "garbage_line"  # a line that is not JSON after `garbage_after` lines
    ERROR_LINE = "error_line"  # {"error": error_message} after `error_after` lines, then the end
    SLOW_TOKENS = "slow_tokens"  # `token_delay` seconds before every streamed line
    SERVER_ERROR = "server_error"  # HTTP 500 {"error": error_message} before anything is sent
    WRONG_DIMENSION = "wrong_dimension"  # /api/embed: vectors one dimension short


@dataclass(frozen=True)
class FakeSource:
    """One <source ...>text</source> block found in a prompt."""

    id: str
    title: str
    page: str
    text: str


_SOURCE_RE = re.compile(r"<source\b([^>]*)>(.*?)</source\s*>", re.DOTALL | re.IGNORECASE)
_ATTR_RE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_FIRST_SENTENCE_RE = re.compile(r"""^(.+?[.!?]["'”’)\]]*)(?=\s|$)""")
_TOKEN_RE = re.compile(r"\s*\S+\s*")


def parse_sources(text: str) -> list[FakeSource]:
    """The source blocks in text, in the order they appear."""
    found: list[FakeSource] = []
    for match in _SOURCE_RE.finditer(text):
        attrs = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                 for m in _ATTR_RE.finditer(match.group(1))}
        found.append(FakeSource(id=attrs.get("id", str(len(found) + 1)).strip(),
                                title=attrs.get("title", ""), page=attrs.get("page", ""),
                                text=match.group(2).strip()))
    return found


def first_sentence(text: str) -> str:
    """The first sentence of text, whitespace collapsed, its final punctuation kept."""
    flat = " ".join(text.split())
    match = _FIRST_SENTENCE_RE.match(flat)
    return match.group(1) if match else flat


def tokenize(text: str) -> list[str]:
    """Word-ish stream pieces, each word with the spaces after it; joined they give text back."""
    return _TOKEN_RE.findall(text) or ([text] if text else [])


def refused_host() -> str:
    """The URL of a local port where nothing listens (a connection there is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _normalize(model: str) -> str:
    model = model.strip()
    return model if ":" in model.rsplit("/", 1)[-1] else model + ":latest"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(name: str, salt: str = "") -> str:
    return hashlib.sha256((salt + name).encode()).hexdigest()


def _content(message: Any) -> str:
    if isinstance(message, dict):
        content = message.get("content")
        return content if isinstance(content, str) else ""
    return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeOllama) -> None:
        self.fake = fake
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def close_connections(self) -> None:
        """Drop every open (kept-alive or streaming) connection, as a dying server does."""
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-stream is not a test failure


class _NoSignalWriter:
    """The handler's wfile: sends with MSG_NOSIGNAL where there is one, so a write to a client
    that hung up raises BrokenPipeError even if SIGPIPE's default action (kill) is in force."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._flags = getattr(socket, "MSG_NOSIGNAL", 0)

    def write(self, data: bytes) -> int:
        self._connection.sendall(data, self._flags)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def writable(self) -> bool:
        return True


def _ignore_sigpipe() -> None:
    """Python ignores SIGPIPE; code run earlier in the test process (core.cli.main sets SIG_DFL so
    `folio list | head` ends quietly) may have restored the default, under which a client socket
    written after the server hung up would kill the whole test run. Only the main thread can."""
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


class _Cut(Exception):
    """Close the connection now, without finishing the response."""


class FakeOllama:
    """An Ollama-compatible server on 127.0.0.1 and a free port, serving from construction.

    Attributes a test reads or sets (all may be changed while it runs):
      host           "http://127.0.0.1:PORT", for ollama.Client(host=...)
      port           the port
      requests       every request, in order: {"method", "path", "body"} (body: parsed JSON or None)
      models         installed model names; embedding models ("nomic-embed-text", "all-minilm",
                     ...) are reported with an embedding family and the "embedding" capability
      fault          a Fault; fault_times: how many more requests it applies to (None: all)
      reply          answer text used instead of the one built from the prompt
      responder      a function of the chat's messages giving the answer text, or None to let
                     `reply` or the prompt decide (for prompts a test shapes answers to)
      rewrite_reply  answer to a follow-up rewrite prompt instead of the default
      token_delay    seconds before each streamed line under Fault.SLOW_TOKENS
      cut_after, garbage_after, error_after   lines sent before the fault shows
      error_message  the text of Fault.ERROR_LINE and Fault.SERVER_ERROR
      context_length the "<family>.context_length" /api/show reports for chat models
      version        what /api/version reports
      pull_error     if set, /api/pull fails with HTTP 500 and this error (e.g. unknown model)
      pull_delay     seconds between pull progress lines
      embed_delay    seconds before each /api/embed reply
    """

    def __init__(self, models: Iterable[str] = DEFAULT_MODELS) -> None:
        self.models: list[str] = list(models)
        self.requests: list[dict[str, Any]] = []
        self.fault = Fault.NONE
        self.fault_times: int | None = None
        self.reply: str | None = None
        self.responder: Callable[[Sequence[Any]], str | None] | None = None
        self.rewrite_reply: str | None = None
        self.token_delay = 0.05
        self.cut_after = 3
        self.garbage_after = 2
        self.error_after = 2
        self.error_message = RUNNER_CRASH
        self.context_length = 131072
        self.version = "0.9.6"
        self.pull_error: str | None = None
        self.pull_delay = 0.0
        self.embed_delay = 0.0
        self._lock = threading.Lock()
        _ignore_sigpipe()
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self.host = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01},
                                        name=f"fake-ollama-{self.port}", daemon=True)
        self._thread.start()
        self._stopped = False

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeOllama:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening: from now on a connection to `host` is refused. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"FakeOllama({self.host}, models={self.models}, fault={self.fault.name})"

    # -- test helpers -----------------------------------------------------------------------

    def set_fault(self, fault: Fault, times: int | None = None) -> None:
        """Apply fault to the next `times` requests it concerns (None: until changed)."""
        with self._lock:
            self.fault = fault
            self.fault_times = times

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        """The bodies of the requests to path, in order."""
        with self._lock:
            return [r["body"] or {} for r in self.requests if r["path"] == path]

    @property
    def embed_requests(self) -> list[dict[str, Any]]:
        """The bodies of the /api/embed requests (model, input, truncate, ...)."""
        return self.requests_to("/api/embed")

    def embedding_of(self, model: str, text: str, short: bool = False) -> list[float]:
        """The vector /api/embed gives text under model (see the module's docstring)."""
        dim = self._facts(model)[5] - (1 if short else 0)
        vector = [0.0] * dim
        words = re.findall(r"\w+", text.lower())
        for feature in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
            digest = hashlib.blake2b(feature.encode(), digest_size=16).digest()
            for k in range(4):
                index = int.from_bytes(digest[4 * k:4 * k + 3], "little") % dim
                vector[index] += 1.0 if digest[4 * k + 3] & 1 else -1.0
        norm = sum(v * v for v in vector) ** 0.5 or 1.0
        return [v / norm for v in vector]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of the /api/chat requests (model, messages, options, stream, ...)."""
        return self.requests_to("/api/chat")

    @property
    def last_chat(self) -> dict[str, Any]:
        chats = self.chat_requests
        if not chats:
            raise AssertionError("no /api/chat request was made")
        return chats[-1]

    def installed(self, model: str) -> bool:
        return _normalize(model) in {_normalize(m) for m in self.models}

    def answer_for(self, messages: Sequence[Any]) -> str:
        """The answer this server gives to messages (before `reply` overrides it)."""
        users = [_content(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        last_user = users[-1] if users else ""
        if last_user.rstrip().endswith(REWRITE_MARKER):
            if self.rewrite_reply is not None:
                return self.rewrite_reply
            follow_ups = re.findall(rf"^\s*{re.escape(FOLLOW_UP_LABEL)}[ \t]*(.*)$", last_user,
                                    re.MULTILINE)
            question = follow_ups[-1].strip() if follow_ups else last_user.strip()
            return question + REWRITE_SUFFIX
        sources = parse_sources(last_user)
        if not sources:
            systems = [_content(m) for m in messages
                       if isinstance(m, dict) and m.get("role") == "system"]
            sources = parse_sources("\n".join(systems))
        if not sources:
            return NO_SOURCES_ANSWER
        return " ".join(f"{first_sentence(s.text)} [{s.id}]" for s in sources[:2])

    # -- internals used by the handler --------------------------------------------------------

    def _record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body})

    def _take_fault(self, applies: Iterable[Fault]) -> Fault:
        """The current fault if it concerns this request (consuming one of fault_times)."""
        with self._lock:
            if self.fault is Fault.NONE or self.fault not in set(applies):
                return Fault.NONE
            fault = self.fault
            if self.fault_times is not None:
                self.fault_times -= 1
                if self.fault_times <= 0:
                    self.fault, self.fault_times = Fault.NONE, None
            return fault

    def _model_entry(self, name: str) -> dict[str, Any]:
        family, params, quant, size, _, _ = self._facts(name)
        return {
            "name": name, "model": name, "modified_at": _now(), "size": size,
            "digest": _digest(name),
            "details": {"parent_model": "", "format": "gguf", "family": family,
                        "families": [family], "parameter_size": params,
                        "quantization_level": quant},
        }

    def _facts(self, name: str) -> tuple[str, str, str, int, int, int]:
        base = name.rsplit("/", 1)[-1]
        for prefix, facts in _EMBEDDING_PREFIXES.items():
            if base.startswith(prefix):
                return facts
        return ("llama", "3.2B", "Q4_K_M", 2_019_393_189, self.context_length, 3072)

    def _is_embedding(self, name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return any(base.startswith(p) for p in _EMBEDDING_PREFIXES)

    def _show(self, name: str) -> dict[str, Any]:
        entry = self._model_entry(name)
        family, _, _, _, ctx, embed = self._facts(name)
        embedding = self._is_embedding(name)
        return {
            "license": "",
            "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {name}\n",
            "parameters": "" if embedding else 'stop                           "<|eot_id|>"',
            "template": "{{ .Prompt }}" if embedding else "{{ .System }}{{ .Prompt }}",
            "details": entry["details"],
            "model_info": {"general.architecture": family, "general.parameter_count": 3_212_749_888,
                           f"{family}.context_length": ctx, f"{family}.embedding_length": embed},
            "capabilities": ["embedding"] if embedding else ["completion", "tools"],
            "modified_at": entry["modified_at"],
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"
    sys_version = ""
    disable_nagle_algorithm = True  # else every small write waits ~40 ms for a delayed ACK

    def setup(self) -> None:
        super().setup()
        self.wfile = _NoSignalWriter(self.connection)  # type: ignore[assignment]
        server = cast(_Server, self.server)
        with server.connections_lock:
            server.open_connections.add(self.connection)

    def finish(self) -> None:
        server = cast(_Server, self.server)
        with server.connections_lock:
            server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    @property
    def fake(self) -> FakeOllama:
        return cast(_Server, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, status: int, text: str,
                   content_type: str = "text/plain; charset=utf-8") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, line: str) -> None:
        data = (line + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, lines: Sequence[dict[str, Any]], fault: Fault, delay: float = 0.0,
                before_last: Callable[[], None] | None = None) -> None:
        """NDJSON with chunked encoding, as Ollama streams; faults shown part-way.
        before_last runs just before the last line is sent, if the stream gets that far."""
        fake = self.fake
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for i, line in enumerate(lines):
                if fault is Fault.CUT_STREAM and i == min(fake.cut_after, len(lines) - 1):
                    raise _Cut
                if fault is Fault.NO_DONE and i == min(fake.cut_after, len(lines) - 1):
                    break
                if fault is Fault.GARBAGE_LINE and i == min(fake.garbage_after, len(lines) - 1):
                    self._chunk(GARBAGE_LINE)
                if fault is Fault.ERROR_LINE and i == min(fake.error_after, len(lines) - 1):
                    self._chunk(json.dumps({"error": fake.error_message}))
                    break
                if fault is Fault.SLOW_TOKENS:
                    time.sleep(fake.token_delay)
                elif delay:
                    time.sleep(delay)
                if before_last is not None and i == len(lines) - 1:
                    before_last()
                self._chunk(json.dumps(line))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except _Cut:
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- routes -----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.fake._record("HEAD", self.path, None)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.fake._record("GET", self.path, None)
        if self.path == "/":
            self._send_text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send_json(200, {"version": self.fake.version})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [self.fake._model_entry(m) for m in list(self.fake.models)]})
        else:
            self._send_text(404, "404 page not found")

    def do_DELETE(self) -> None:
        body = self._body()
        self.fake._record("DELETE", self.path, body)
        name = str((body.get("model") or body.get("name") or "") if isinstance(body, dict) else "")
        if self.path != "/api/delete":
            self._send_text(404, "404 page not found")
        elif not self.fake.installed(name):
            self._send_json(404, {"error": MISSING_SHOW.format(model=name)})
        else:
            with self.fake._lock:
                self.fake.models = [m for m in self.fake.models if _normalize(m) != _normalize(name)]
            self._send_text(200, "", "application/json; charset=utf-8")

    def do_POST(self) -> None:
        body = self._body()
        self.fake._record("POST", self.path, body)
        if not isinstance(body, dict):
            self._send_json(400, {"error": "missing request body"})
            return
        routes = {"/api/chat": self._chat, "/api/show": self._show, "/api/pull": self._pull,
                  "/api/embed": self._embed}
        route = routes.get(self.path)
        if route is None:
            self._send_text(404, "404 page not found")
        else:
            route(body)

    def _show(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            self._send_json(400, {"error": "model is required"})
        elif self.fake._take_fault([Fault.MODEL_MISSING]) is Fault.MODEL_MISSING or \
                not self.fake.installed(name):
            self._send_json(404, {"error": MISSING_SHOW.format(model=name)})
        else:
            self._send_json(200, self.fake._show(name))

    def _embed(self, body: dict[str, Any]) -> None:
        fake = self.fake
        model = str(body.get("model") or "")
        given = body.get("input")
        texts = [given] if isinstance(given, str) else list(given or [])
        fault = fake._take_fault([Fault.MODEL_MISSING, Fault.SERVER_ERROR, Fault.CUT_STREAM,
                                  Fault.GARBAGE_LINE, Fault.WRONG_DIMENSION])
        if not model:
            self._send_json(400, {"error": "model is required"})
        elif fault is Fault.MODEL_MISSING or not fake.installed(model):
            self._send_json(404, {"error": MISSING_SHOW.format(model=model)})
        elif not fake._is_embedding(model):
            self._send_json(400, {"error": f'"{model}" does not support embeddings'})
        elif fault is Fault.SERVER_ERROR:
            self._send_json(500, {"error": fake.error_message})
        elif fault is Fault.GARBAGE_LINE:
            self._send_text(200, GARBAGE_LINE, "application/json; charset=utf-8")
        else:
            time.sleep(fake.embed_delay)
            vectors = [fake.embedding_of(model, t, fault is Fault.WRONG_DIMENSION) for t in texts]
            payload = json.dumps({"model": model, "embeddings": vectors,
                                  "total_duration": 1_000_000 * len(texts), "load_duration": 0,
                                  "prompt_eval_count": sum(len(t.split()) for t in texts)})
            data = payload.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault is Fault.CUT_STREAM:  # half the body, then the connection closes
                self.wfile.write(data[:len(data) // 2])
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(data)

    def _chat(self, body: dict[str, Any]) -> None:
        fake = self.fake
        model = str(body.get("model") or "")
        if not model:
            self._send_json(400, {"error": "model is required"})
            return
        fault = fake._take_fault([f for f in Fault if f is not Fault.WRONG_DIMENSION])
        if fault is Fault.MODEL_MISSING or not fake.installed(model):
            self._send_json(404, {"error": MISSING_CHAT.format(model=model)})
            return
        if fake._is_embedding(model):
            self._send_json(400, {"error": f'"{model}" does not support chat'})
            return
        if fault is Fault.SERVER_ERROR:
            self._send_json(500, {"error": fake.error_message})
            return
        messages = body.get("messages") or []
        answer = fake.responder(messages) if fake.responder is not None else None
        if answer is None:
            answer = fake.reply if fake.reply is not None else fake.answer_for(messages)
        tokens = tokenize(answer)
        prompt_words = sum(len(_content(m).split()) for m in messages)
        created = _now()
        final = {
            "model": model, "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done_reason": "stop", "done": True,
            "total_duration": 1_200_000_000 + 20_000_000 * len(tokens),
            "load_duration": 150_000_000,
            "prompt_eval_count": max(1, round(prompt_words * 1.3)),
            "prompt_eval_duration": 300_000_000,
            "eval_count": len(tokens), "eval_duration": 20_000_000 * len(tokens),
        }
        if body.get("stream", True) is False:
            self._chat_whole(final, answer, fault)
            return
        lines = [{"model": model, "created_at": created,
                  "message": {"role": "assistant", "content": tok}, "done": False} for tok in tokens]
        self._stream([*lines, final], fault)

    def _chat_whole(self, final: dict[str, Any], answer: str, fault: Fault) -> None:
        """stream: false: one JSON object; faults as the real server shows them."""
        fake = self.fake
        if fault is Fault.ERROR_LINE:  # Ollama turns a mid-answer error into an HTTP error
            self._send_json(500, {"error": fake.error_message})
            return
        if fault is Fault.SLOW_TOKENS:
            time.sleep(fake.token_delay * len(tokenize(answer)))
        final = {**final, "message": {"role": "assistant", "content": answer}}
        data = json.dumps(final).encode()
        if fault is Fault.GARBAGE_LINE:
            data = GARBAGE_LINE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault is Fault.CUT_STREAM or fault is Fault.NO_DONE:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def _pull(self, body: dict[str, Any]) -> None:
        fake = self.fake
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            self._send_json(400, {"error": "invalid model name"})
            return
        if fake.pull_error is not None:
            self._send_json(500, {"error": fake.pull_error})
            return
        fault = fake._take_fault([Fault.CUT_STREAM, Fault.NO_DONE, Fault.GARBAGE_LINE,
                                  Fault.ERROR_LINE, Fault.SLOW_TOKENS, Fault.SERVER_ERROR])
        if fault is Fault.SERVER_ERROR:
            self._send_json(500, {"error": fake.error_message})
            return
        size = fake._facts(name)[3]
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        for layer, total in (("model", size), ("template", 1_429)):
            digest = "sha256:" + _digest(name, layer)
            for completed in (0, total // 3, 2 * total // 3, total):
                lines.append({"status": f"pulling {digest[7:19]}", "digest": digest,
                              "total": total, "completed": completed})
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                  {"status": "success"}]
        if body.get("stream", True) is False:
            if fault is Fault.NONE or fault is Fault.SLOW_TOKENS:
                self._install(name)
                self._send_json(200, {"status": "success"})
            else:
                self._send_json(500, {"error": fake.error_message})
            return
        self._stream(lines, fault, delay=fake.pull_delay, before_last=lambda: self._install(name))

    def _install(self, name: str) -> None:
        with self.fake._lock:
            if _normalize(name) not in {_normalize(m) for m in self.fake.models}:
                self.fake.models.append(name if ":" in name.rsplit("/", 1)[-1] else name + ":latest")
