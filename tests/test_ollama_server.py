"""The fake Ollama in tests/ollama_server.py, driven through the real `ollama` client.

These tests also pin down what the client (ollama-python, on httpx) really raises, which is what
core.llm has to translate:

  connection refused, plain call        builtin ConnectionError (the client wraps httpx.ConnectError)
  connection refused, streaming         httpx.ConnectError, raised when the stream is first iterated
  model missing                         ollama.ResponseError, status_code 404; when streaming, only
                                        once the stream is iterated (chat() itself returns a generator)
  HTTP 500 before the stream            ollama.ResponseError, status_code 500
  {"error": ...} line mid-stream        ollama.ResponseError, status_code -1 (the client knows no status)
  line that is not JSON                 json.JSONDecodeError (a ValueError), both streaming and not
  connection closed mid-stream          httpx.RemoteProtocolError ("incomplete chunked read"), after
                                        the pieces already received were yielded; plain call likewise
  stream ended cleanly without `done`   nothing: the iteration just ends, no chunk has done=True
  no byte within the read timeout       httpx.ReadTimeout
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest

from tests.ollama_server import (
    GARBAGE_LINE,
    NO_SOURCES_ANSWER,
    RUNNER_CRASH,
    FakeOllama,
    Fault,
    first_sentence,
    parse_sources,
    refused_host,
    tokenize,
)

MODEL = "llama3.2:3b"
SOURCES_PROMPT = """Sources:

<source id="1" title="Tide Tables" page="12">
The tide turns at noon on the first of May.   It falls again by dusk.
</source>

<source id="2" title="Gulls" page="iv">
Gulls nest on the northern cliffs!
Their eggs hatch in June.
</source>

Question: When does the tide turn?

Answer from the sources above, citing each claim like [1]."""
EXPECTED = "The tide turns at noon on the first of May. [1] Gulls nest on the northern cliffs! [2]"


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()  # built once: loading the CA bundle costs ~0.1 s a client


def make_client(host: str, **kwargs: Any) -> ollama.Client:
    return ollama.Client(host=host, verify=_tls(), **kwargs)


def ask(content: str, system: str = "You answer from the sources.") -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama([MODEL, "nomic-embed-text"]) as fake:
        yield fake


@pytest.fixture
def client(server: FakeOllama) -> Iterator[ollama.Client]:
    with make_client(server.host, timeout=5) as c:
        yield c


# -- the happy paths --------------------------------------------------------------------------


def test_version_and_root(server: FakeOllama) -> None:
    assert httpx.get(server.host + "/", verify=_tls()).text == "Ollama is running"
    assert httpx.get(server.host + "/api/version", verify=_tls()).json() == {"version": server.version}
    assert server.host.startswith("http://127.0.0.1:") and server.port > 0


def test_list_tells_chat_models_from_embedding_models(server: FakeOllama,
                                                      client: ollama.Client) -> None:
    listed = client.list().models
    assert [m.model for m in listed] == [MODEL, "nomic-embed-text"]
    families = {m.model: m.details.family for m in listed if m.details}
    assert families == {MODEL: "llama", "nomic-embed-text": "nomic-bert"}
    assert all((m.size or 0) > 0 and len(m.digest or "") == 64 for m in listed)
    assert server.requests[-1] == {"method": "GET", "path": "/api/tags", "body": None}


def test_show_reports_capabilities_and_context_length(server: FakeOllama,
                                                      client: ollama.Client) -> None:
    server.context_length = 8192
    chat = client.show(MODEL)
    assert chat.capabilities == ["completion", "tools"]
    assert chat.modelinfo is not None and chat.modelinfo["llama.context_length"] == 8192
    embed = client.show("nomic-embed-text")
    assert embed.capabilities == ["embedding"]
    assert embed.details is not None and embed.details.family == "nomic-bert"
    assert server.requests_to("/api/show") == [{"model": MODEL}, {"model": "nomic-embed-text"}]


def test_chat_not_streamed_restates_source_1_and_cites_it(server: FakeOllama,
                                                          client: ollama.Client) -> None:
    reply = client.chat(MODEL, ask(SOURCES_PROMPT), options={"num_ctx": 4096, "temperature": 0})
    assert reply.message.content == EXPECTED
    assert reply.done and reply.done_reason == "stop"
    assert reply.eval_count == len(tokenize(EXPECTED)) and (reply.prompt_eval_count or 0) > 0
    sent = server.last_chat
    assert sent["options"] == {"num_ctx": 4096, "temperature": 0}
    assert sent["stream"] is False and sent["messages"][-1]["content"] == SOURCES_PROMPT


def test_chat_streamed_yields_word_tokens_in_order_then_done(server: FakeOllama,
                                                             client: ollama.Client) -> None:
    parts = list(client.chat(MODEL, ask(SOURCES_PROMPT), stream=True, options={"num_ctx": 2048}))
    pieces = [p.message.content or "" for p in parts if not p.done]
    assert len(pieces) > 5 and "".join(pieces) == EXPECTED
    assert pieces[:3] == ["The ", "tide ", "turns "] and "[1] " in pieces
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done
    final = parts[-1]
    assert final.message.content == "" and final.done_reason == "stop"
    assert final.eval_count == len(pieces) and final.eval_duration and final.total_duration
    assert final.load_duration and final.prompt_eval_count and final.prompt_eval_duration
    assert server.last_chat["options"]["num_ctx"] == 2048 and server.last_chat["stream"] is True


def test_answer_order_follows_the_prompt_and_sources_may_sit_in_the_system_message(
        server: FakeOllama, client: ollama.Client) -> None:
    swapped = ('<source page="2" id="1" title="B">Beta comes first here. More.</source>\n'
               "<source id='2' title='A'>\n  Alpha   second?  Yes.\n</source>")
    assert client.chat(MODEL, ask("Question: q")).message.content == NO_SOURCES_ANSWER
    reply = client.chat(MODEL, ask("Question: q", system="Rules.\n" + swapped))
    assert reply.message.content == "Beta comes first here. [1] Alpha second? [2]"
    only_one = '<source id="1" title="T" page="1">No full stop at all</source>'
    assert client.chat(MODEL, ask(only_one)).message.content == "No full stop at all [1]"


def test_reply_override_and_follow_up_rewrite(server: FakeOllama, client: ollama.Client) -> None:
    rewrite = ("Rewrite the follow-up question as one standalone question.\n\nConversation:\n"
               "User: What is the tide table?\nAssistant: A list [1].\n\n"
               "Follow-up question: when does it turn?\n\nStandalone question:")
    messages = [{"role": "user", "content": rewrite}]
    assert client.chat(MODEL, messages).message.content == "when does it turn? (rewritten)"
    server.rewrite_reply = "When does the tide turn?"
    assert client.chat(MODEL, messages).message.content == "When does the tide turn?"
    server.reply = "Scripted answer [3]."
    streamed = [p.message.content for p in client.chat(MODEL, ask(SOURCES_PROMPT), stream=True)]
    assert streamed == ["Scripted ", "answer ", "[3].", ""]


def test_responder_answers_the_prompts_it_knows_and_passes_on_the_rest(
        server: FakeOllama, client: ollama.Client) -> None:
    server.responder = lambda messages: ("Question one?" if "Write a question" in
                                         messages[-1]["content"] else None)
    assert client.chat(MODEL, ask("Write a question about tides.")).message.content == (
        "Question one?")
    assert client.chat(MODEL, ask(SOURCES_PROMPT)).message.content == EXPECTED


def test_answers_built_from_folio_prompts(server: FakeOllama, client: ollama.Client) -> None:
    """The real prompt builders' output is parsed: sources in rank order, the rewrite's follow-up."""
    from core import prompt
    from core.answer_types import Source, Turn
    from core.types import Hit

    def hit(pid: int, text: str) -> Hit:
        return Hit(passage_id=pid, document_id=pid, title=f'Doc "{pid}"', page=pid, page_end=pid,
                   page_label=None, heading_path="", text=text, score=1.0, keyword_rank=pid,
                   semantic_rank=None)

    built = prompt.build_answer_prompt("Which comes first?", [
        Source(1, hit(7, "Lanterns are lit at dusk. Then the bell rings.")),
        Source(2, hit(3, "The keeper sleeps by day.")),
        Source(3, hit(5, "Never reaches the answer."))], [])
    reply = client.chat(MODEL, built.messages, options={"num_ctx": built.num_ctx})
    assert reply.message.content == "Lanterns are lit at dusk. [1] The keeper sleeps by day. [2]"
    assert server.last_chat["options"]["num_ctx"] == built.num_ctx
    assert [s.title for s in parse_sources(built.messages[-1]["content"])] == \
        ["Doc '7'", "Doc '3'", "Doc '5'"]
    rewrite = prompt.build_rewrite_prompt("and the second one?", [Turn("Which lamps?", "Two [1].")])
    assert client.chat(MODEL, rewrite).message.content == "and the second one? (rewritten)"


def test_pull_streams_progress_then_installs(server: FakeOllama, client: ollama.Client) -> None:
    parts = list(client.pull("qwen2.5:0.5b", stream=True))
    statuses = [p.status for p in parts]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert statuses[-3:-1] == ["verifying sha256 digest", "writing manifest"]
    layer = [p for p in parts if p.total]
    assert len(layer) >= 4 and all((p.status or "").startswith("pulling ") for p in layer)
    assert all(p.digest and p.digest.startswith("sha256:") for p in layer)
    first = [p.completed or 0 for p in layer if p.digest == layer[0].digest]
    assert first == sorted(first) and first[-1] == layer[0].total
    assert "qwen2.5:0.5b" in [m.model for m in client.list().models]
    assert client.pull("gemma3").status == "success"  # not streamed: one object
    assert "gemma3:latest" in server.models


def test_pull_error_and_unknown_paths(server: FakeOllama, client: ollama.Client) -> None:
    server.pull_error = "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError) as err:
        list(client.pull("no-such-model", stream=True))
    assert err.value.status_code == 500 and err.value.error == server.pull_error
    assert "no-such-model:latest" not in server.models
    assert httpx.get(server.host + "/api/nothing", verify=_tls()).status_code == 404


# -- what the real client raises ----------------------------------------------------------------


def test_missing_model_is_a_404_raised_only_when_the_stream_is_iterated(
        server: FakeOllama, client: ollama.Client) -> None:
    stream = client.chat("mistral:7b", ask("q"), stream=True)  # no request made yet
    with pytest.raises(ollama.ResponseError) as err:
        next(iter(stream))
    assert err.value.status_code == 404
    assert err.value.error == 'model "mistral:7b" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as err:
        client.chat("mistral:7b", ask("q"))
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as err:
        client.show("mistral:7b")
    assert err.value.status_code == 404 and err.value.error == "model 'mistral:7b' not found"


def test_fault_model_missing_applies_to_the_next_requests_only(server: FakeOllama,
                                                               client: ollama.Client) -> None:
    server.set_fault(Fault.MODEL_MISSING, times=2)
    with pytest.raises(ollama.ResponseError) as err:
        client.show(MODEL)
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as err:
        list(client.chat(MODEL, ask("q"), stream=True))
    assert err.value.status_code == 404 and server.fault is Fault.NONE
    assert client.chat(MODEL, ask("q")).message.content == NO_SOURCES_ANSWER


def test_embedding_model_cannot_chat(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client.chat("nomic-embed-text", ask("q"))
    assert err.value.status_code == 400 and "does not support chat" in err.value.error


def test_refused_connection() -> None:
    """ConnectionError from a plain call; a raw httpx.ConnectError once a stream is iterated."""
    client = make_client(refused_host())
    with pytest.raises(ConnectionError, match="Failed to connect to Ollama"):
        client.list()
    with pytest.raises(ConnectionError):
        client.chat(MODEL, ask("q"))
    stream = client.chat(MODEL, ask("q"), stream=True)  # does not raise yet
    with pytest.raises(httpx.ConnectError):
        next(iter(stream))
    with pytest.raises(httpx.ConnectError):
        list(client.pull(MODEL, stream=True))
    assert not issubclass(httpx.ConnectError, ConnectionError)


def test_stopped_server_refuses_even_a_kept_alive_client(server: FakeOllama,
                                                         client: ollama.Client) -> None:
    assert client.list().models  # the client now holds a kept-alive connection
    server.stop()
    with pytest.raises(ConnectionError):
        client.list()
    with pytest.raises(httpx.ConnectError):
        list(client.chat(MODEL, ask("q"), stream=True))
    server.stop()  # idempotent


def test_cut_stream_raises_remote_protocol_error_after_the_first_pieces(
        server: FakeOllama, client: ollama.Client) -> None:
    server.fault = Fault.CUT_STREAM
    got: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        for part in client.chat(MODEL, ask(SOURCES_PROMPT), stream=True):
            got.append(part.message.content or "")
    assert got == ["The ", "tide ", "turns "]  # cut_after = 3
    with pytest.raises(httpx.RemoteProtocolError):
        client.chat(MODEL, ask(SOURCES_PROMPT))
    assert not issubclass(httpx.RemoteProtocolError, ConnectionError | OSError)


def test_stream_ended_without_done_line_just_stops(server: FakeOllama,
                                                   client: ollama.Client) -> None:
    """No exception at all: the caller must notice that no chunk had done=True."""
    server.fault = Fault.NO_DONE
    server.cut_after = 2
    parts = list(client.chat(MODEL, ask(SOURCES_PROMPT), stream=True))
    assert [p.message.content for p in parts] == ["The ", "tide "]
    assert not any(p.done for p in parts)


def test_server_killed_mid_stream_raises_remote_protocol_error(server: FakeOllama,
                                                               client: ollama.Client) -> None:
    server.fault = Fault.SLOW_TOKENS
    server.token_delay = 0.05
    got: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        for part in client.chat(MODEL, ask(SOURCES_PROMPT), stream=True):
            got.append(part.message.content or "")
            if len(got) == 2:
                server.stop()
    assert got == ["The ", "tide "]


def test_garbage_line_raises_json_decode_error(server: FakeOllama, client: ollama.Client) -> None:
    server.fault = Fault.GARBAGE_LINE
    got: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        for part in client.chat(MODEL, ask(SOURCES_PROMPT), stream=True):
            got.append(part.message.content or "")
    assert got == ["The ", "tide "]  # garbage_after = 2
    with pytest.raises(json.JSONDecodeError):
        client.chat(MODEL, ask(SOURCES_PROMPT))
    assert GARBAGE_LINE.startswith("<html>")


def test_error_line_raises_response_error_without_status(server: FakeOllama,
                                                          client: ollama.Client) -> None:
    server.fault = Fault.ERROR_LINE
    got: list[str] = []
    with pytest.raises(ollama.ResponseError) as err:
        for part in client.chat(MODEL, ask(SOURCES_PROMPT), stream=True):
            got.append(part.message.content or "")
    assert got == ["The ", "tide "] and err.value.error == RUNNER_CRASH
    assert err.value.status_code == -1
    with pytest.raises(ollama.ResponseError) as err:  # not streamed: Ollama answers HTTP 500
        client.chat(MODEL, ask(SOURCES_PROMPT))
    assert err.value.status_code == 500 and err.value.error == RUNNER_CRASH


def test_server_error_before_the_stream(server: FakeOllama, client: ollama.Client) -> None:
    server.set_fault(Fault.SERVER_ERROR, times=1)
    server.error_message = "unable to allocate CUDA0 buffer"
    with pytest.raises(ollama.ResponseError) as err:
        list(client.chat(MODEL, ask("q"), stream=True))
    assert err.value.status_code == 500 and err.value.error == "unable to allocate CUDA0 buffer"
    assert client.chat(MODEL, ask("q")).done


def test_slow_tokens_delay_each_piece_and_can_time_out(server: FakeOllama) -> None:
    server.set_fault(Fault.SLOW_TOKENS)
    server.token_delay = 0.02
    server.reply = "one two three four five"
    start = time.perf_counter()
    with make_client(server.host, timeout=5) as patient:
        assert "".join(p.message.content or "" for p in patient.chat(MODEL, ask("q"), stream=True)) \
            == server.reply
    assert time.perf_counter() - start >= 6 * 0.02  # five words and the done line
    server.token_delay = 0.5
    with make_client(server.host, timeout=httpx.Timeout(0.1)) as hasty:
        with pytest.raises(httpx.ReadTimeout):
            list(hasty.chat(MODEL, ask("q"), stream=True))
        with pytest.raises(httpx.ReadTimeout):
            hasty.chat(MODEL, ask("q"))


# -- the helpers --------------------------------------------------------------------------------


def test_helpers() -> None:
    assert first_sentence("  A  first\nline. And more.") == "A first line."
    assert first_sentence('He said "stop." Then left.') == 'He said "stop."'
    assert tokenize("Hello  world [1].") == ["Hello  ", "world ", "[1]."]
    assert "".join(tokenize(EXPECTED)) == EXPECTED
    found = parse_sources(SOURCES_PROMPT)
    assert [(s.id, s.title, s.page) for s in found] == [("1", "Tide Tables", "12"), ("2", "Gulls", "iv")]
    assert found[1].text == "Gulls nest on the northern cliffs!\nTheir eggs hatch in June."
