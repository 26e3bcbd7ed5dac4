"""The Ollama embedding client's own cost per passage (issue 15): is Folio's side of
`ollama:NAME` embedding ever the bottleneck?

Run: .venv/bin/python tests/bench/embed_client.py [--passages 2000] [--model nomic-embed-text]

SciFact abstracts (../shared/data/scifact/corpus.jsonl, cut to 1,200 characters, about a
passage each) are embedded through core.ollama_embedding.OllamaEmbedder against the
Ollama-compatible test server running in this process. The server's own time (making the
vectors, writing the JSON) is measured inside its handler and subtracted: what is left is
Folio's side (building the request, the ollama client and httpx, decoding the JSON, numpy),
as passages/s and microseconds a passage. Target: the client alone does at least 1,000
passages/s, so a GPU host that embeds hundreds a second is never waiting for Folio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.llm import OllamaService
from core.ollama_embedding import OllamaEmbedder
from tests import ollama_server
from tests.ollama_server import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def texts(count: int) -> list[str]:
    out = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            out.append(f"{row.get('title', '')}\n{row.get('text', '')}"[:1200])
            if len(out) == count:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--model", default="nomic-embed-text")
    args = parser.parse_args()
    server_s = 0.0
    lock = threading.Lock()
    original = ollama_server._Handler._embed

    def timed(handler: ollama_server._Handler, body: dict[str, object]) -> None:
        nonlocal server_s
        start = time.perf_counter()
        original(handler, body)
        with lock:
            server_s += time.perf_counter() - start

    ollama_server._Handler._embed = timed  # type: ignore[method-assign]
    passages = texts(args.passages)
    with FakeOllama([args.model]) as server:
        embedder = OllamaEmbedder(f"ollama:{args.model}", OllamaService(server.host))
        embedder.load()  # the probe: the dimension, a warm connection
        server_s = 0.0
        start = time.perf_counter()
        vectors = embedder.embed_passages(passages)
        wall = time.perf_counter() - start
    assert vectors is not None and len(vectors) == len(passages)
    client = max(1e-9, wall - server_s)
    load = os.getloadavg()
    print("| passages | dimensions | wall s | test server s | Folio's side s | Folio's side "
          "passages/s | µs a passage | load average |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {len(passages):,} | {vectors.shape[1]} | {wall:.2f} | {server_s:.2f} | "
          f"{client:.2f} | {len(passages) / client:,.0f} | {1e6 * client / len(passages):.0f} "
          f"| {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |")


if __name__ == "__main__":
    main()
