"""Asking: Folio's own time from a question to the answer request sent to Ollama, at scale.

Run: .venv/bin/python tests/bench/ask.py ../shared/data/scifact [--sizes 10000,100000]
     [--cache DIR] [--source-library DIR]

The libraries are the synthetic ones of tests/bench/search.py (SciFact passages copied, vectors
with noise). Ollama is the test server of tests/ollama_server.py on this machine, answering at
once, so what is timed is Folio's part: choosing the model (/api/tags), embedding the question,
hybrid search, fitting the sources into the context and counting the prompt's tokens, up to the
moment the /api/chat request is made (Timings.request_ms). Also printed: the prompt's estimated
tokens and the num_ctx sent. One Engine for the run, one warm Library per size: what the app's
path costs (a fresh process, reader threads, Qt signals) is tests/bench/app.py's.

The source library (core/evaluation.library_for, or --source-library) is opened only when a size
is not in the cache yet.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core import evaluation
from core.answer_types import AnswerDone
from core.engine import Engine
from core.library import Library
from tests.bench.search import built, cached_build
from tests.ollama_server import FakeOllama


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--source-library", type=Path, default=None)
    args = parser.parse_args()
    dataset = evaluation.load(args.dataset, "test")
    engine = Engine()
    sources: list[Library] = []

    def source() -> Library:
        if not sources:
            sources.append(Library.open(args.source_library, engine) if args.source_library
                           else evaluation.library_for(dataset, engine=engine))
        return sources[0]

    texts = list(dataset.queries.values())[:args.queries]
    print("| passages | to request p50 ms | p95 ms | prompt tokens (mean) | num_ctx (mean) | "
          "sources (mean) |")
    print("|---|---|---|---|---|---|")
    with FakeOllama() as server, engine:
        for size in (int(s) for s in args.sizes.split(",")):
            with contextlib.ExitStack() as stack:
                work = args.cache or Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="folio-ask-bench-")))
                root = work / f"passages-{size}"
                library = stack.enter_context(
                    Library.open(root / "lib", engine) if built(root)
                    else cached_build(source(), root, size, engine))
                list(library.ask(texts[0], host=server.host, save=False))  # warm up
                to_request, tokens, contexts, counts = [], [], [], []
                for text in texts:
                    for event in library.ask(text, host=server.host, save=False):
                        if isinstance(event, AnswerDone):
                            answer = event.answer
                    assert answer.timings.request_ms is not None, answer.notice
                    to_request.append(answer.timings.request_ms)
                    tokens.append(answer.prompt_tokens)
                    contexts.append(answer.num_ctx)
                    counts.append(len(answer.sources))
                print(f"| {size:,} | {statistics.median(to_request):.1f} | "
                      f"{percentile(to_request, 0.95):.1f} | {statistics.fmean(tokens):.0f} | "
                      f"{statistics.fmean(contexts):.0f} | {statistics.fmean(counts):.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
