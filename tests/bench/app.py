"""Asking through the app's own path: question -> first token, at 10k to 1M passages.

Run: .venv/bin/python tests/bench/app.py ../shared/data/scifact
         [--sizes 10000,100000,300000,1000000 | --passages N] [--questions 30]
         [--cache ~/.cache/Folio/bench-search] [--source-library DIR]
         [--prompt-sources passages|brief]

What the window does, without the widgets: one Engine for the process and the desktop Workers
(desktop/workers.py: the writer, the fixed pool of reader threads that keep their Library open,
the watcher), and each question a StreamTask on a reader (desktop/tasks.py) whose work is
Library.ask, as desktop/asking.py runs it; its events reach the main thread by Qt signal (a
QCoreApplication's event loop, as the window's). Ollama is the test server
(tests/ollama_server.py), answering at once. Timed on the main thread: from handing the task to
the Workers to the first answer Token delivered there (retrieval, the prompt, the /api/chat
request and the first streamed line included; "core" is core's own count of its part, from its
Timings: retrieval, the question to the /api/chat request (Folio's own part) and to the first
token inside Library.ask: the rest is the test server). The answer is then streamed to its end
before the next question ("answer end": that includes core's support alignment of the cited
sentences, after the last token). Two differences from the window: the host is passed to ask()
(the library's ollama-host setting is not written) and the turn is not saved (save=False), so
the cached library stays as it was built; the window saves the turn after the answer, after
what is timed. --prompt-sources sets the library's `prompt-sources` for the run (its default
without it) and puts the library's own value back after.

Each size runs in a fresh child process: the Engine and the Workers are made, the reads the
window makes on start (the document list, the conversations, the settings) come back, and
"first" is the first question then (it loads the embedding model and the vector and keyword
indexes: the keyword index from its saved copy beside library.db when there is one); then
`--questions` more (SciFact test claims) give p50/p95. RSS: ru_maxrss (the peak, what rss_mb=
reports) and VmRSS at the end.

The libraries are tests/bench/search.py's synthetic ones (--cache, built there if missing from
the SciFact library core/evaluation.library_for builds, or --source-library). Besides its table
it prints one line per size: `passages=N p50_ms=X p95_ms=Y first_ms=Z rss_mb=W`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy, as core/__init__.py says
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from core import evaluation
from tests.bench.search import built, cached_build, load_average, rss_mb

DEFAULT_CACHE = Path("~/.cache/Folio/bench-search").expanduser()
TIMEOUT_S = 120.0  # one question, before the bench gives up


def ask_once(workers: Any, question: str,
             host: str) -> tuple[float, float, float, float, float]:
    """(ms to the first Token on this thread, ms to the end of the answer, and core's own
    retrieval, to-request and first-token ms, from its Timings) of one question asked as
    desktop/asking.py asks it."""
    from PySide6.QtCore import QEventLoop, QTimer

    from core.answer_types import AnswerDone, AnswerEvent, AskFailed, SourcesFound, Token
    from desktop.tasks import StreamTask

    def work(lib: Any, task: StreamTask[AnswerEvent]) -> Any:
        return lib.ask(question, host=host, save=False, cancel=task.cancel)

    first: list[float] = []
    retrieval: list[float] = []
    core_first: list[float] = []
    core_request: list[float] = []
    problems: list[str] = []
    loop = QEventLoop()

    def on_event(event: AnswerEvent) -> None:
        if isinstance(event, Token) and not first:
            first.append(time.perf_counter())
        elif isinstance(event, SourcesFound):
            retrieval.append(event.retrieval_ms)
        elif isinstance(event, AskFailed):
            problems.append(event.message)
        elif isinstance(event, AnswerDone):
            timings = event.answer.timings
            core_first.append(timings.first_token_ms or 0.0)
            core_request.append(timings.request_ms or 0.0)
            if event.answer.notice:
                problems.append(event.answer.notice)

    task: StreamTask[AnswerEvent] = StreamTask(work, "ask")
    task.on_yielded(on_event)
    task.on_failure(problems.append)
    task.on_finished(loop.quit)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(TIMEOUT_S * 1000))
    start = time.perf_counter()
    workers.read(task)
    loop.exec()
    end = time.perf_counter()
    if not first:
        raise SystemExit(f"no token for {question!r}: {problems or 'timed out'}")
    return ((first[0] - start) * 1000, (end - start) * 1000, retrieval[0] if retrieval else 0.0,
            core_request[0] if core_request else 0.0, core_first[0] if core_first else 0.0)


def start_reads(workers: Any) -> float:
    """What the window reads on start (MainWindow._start: the document list, the conversations,
    the settings), on the readers; ms until all three are back on this thread."""
    from PySide6.QtCore import QEventLoop

    from desktop.tasks import Task

    loop = QEventLoop()
    pending = {"documents", "conversations", "settings"}

    def done(name: str) -> None:
        pending.discard(name)
        if not pending:
            loop.quit()

    start = time.perf_counter()
    for name in list(pending):
        task: Task[object] = Task(lambda lib, _t, n=name: getattr(lib, n)(), name)
        task.on_finished(lambda n=name: done(n))
        workers.read(task)
    loop.exec()
    return (time.perf_counter() - start) * 1000


@contextlib.contextmanager
def prompt_sources(library_dir: Path, kind: str | None) -> Iterator[str]:
    """The library's prompt-sources set to kind (None: as it is) while inside; its own value
    (or none, the default) put back after. Yields the kind in force."""
    from core.settings import setting
    from core.store import queries
    from core.store.connection import connect

    key = setting("prompt-sources").key
    db = connect(library_dir / "library.db")
    try:
        before = queries.get_meta(db, key)
        if kind is not None:
            queries.set_meta(db, key, setting("prompt-sources").validate(kind))
        yield queries.get_meta(db, key) or setting("prompt-sources").default
    finally:
        if kind is not None:
            if before is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                queries.set_meta(db, key, before)
        db.close()


def measure(root: Path, questions: list[str], kind: str | None = None) -> dict[str, Any]:
    """In a fresh process: start the app's engine and workers, ask, and time."""
    with prompt_sources(root / "lib", kind) as in_force:
        result = _measure(root, questions)
    return {**result, "prompt_sources": in_force}


def _measure(root: Path, questions: list[str]) -> dict[str, Any]:
    from PySide6.QtCore import QCoreApplication

    from core.engine import Engine
    from desktop.app_events import AppEvents
    from desktop.workers import Workers
    from tests.ollama_server import FakeOllama

    app = QCoreApplication.instance() or QCoreApplication([])
    with FakeOllama() as server:
        start = time.perf_counter()
        engine = Engine()
        workers = Workers(root / "lib", AppEvents(), engine)
        started_ms = (time.perf_counter() - start) * 1000
        reads_ms = start_reads(workers)
        first_ms, first_end_ms, first_retrieval_ms, _, _ = ask_once(workers, questions[0],
                                                                    server.host)
        firsts, ends, retrievals, requests, core_firsts = [], [], [], [], []
        for question in questions[1:]:
            token_ms, end_ms, retrieval_ms, request_ms, core_ms = ask_once(workers, question,
                                                                           server.host)
            firsts.append(token_ms)
            ends.append(end_ms)
            retrievals.append(retrieval_ms)
            requests.append(request_ms)
            core_firsts.append(core_ms)
        peak, now = rss_mb()
        indexes = engine.indexes(root / "lib" / "library.db")
        result = {
            "passages": _count(root),
            "start_ms": started_ms, "start_reads_ms": reads_ms, "first_ms": first_ms,
            "first_end_ms": first_end_ms, "first_retrieval_ms": first_retrieval_ms,
            "retrieval_p50_ms": statistics.median(retrievals),
            "core_first_p50_ms": statistics.median(core_firsts),
            "request_p50_ms": statistics.median(requests),
            "request_p95_ms": sorted(requests)[min(len(requests) - 1, int(0.95 * len(requests)))],
            "p50_ms": statistics.median(firsts),
            "p95_ms": sorted(firsts)[min(len(firsts) - 1, int(0.95 * len(firsts)))],
            "answer_p50_ms": statistics.median(ends), "questions": len(firsts),
            "peak_rss_mb": peak, "rss_mb": now, "vector_loads": indexes.vector_loads,
            "keyword_loads": indexes.keyword_loads,
            "show_requests": len(server.requests_to("/api/show")), "load": load_average()}
        workers.shutdown()
    del app
    return result


def _count(root: Path) -> int:
    from core.store.connection import connect

    db = connect(root / "lib" / "library.db")
    try:
        row = db.execute("SELECT count(*) FROM passages").fetchone()
        return int(row[0]) if row else 0
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="the source of the questions and libraries")
    parser.add_argument("--sizes", default="10000,100000,300000,1000000")
    parser.add_argument("--passages", type=int, default=None, help="run this one size")
    parser.add_argument("--questions", type=int, default=30, help="timed after the first")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--source-library", type=Path, default=None,
                        help="the library to copy when a size is not in the cache")
    parser.add_argument("--prompt-sources", choices=("passages", "brief"), default=None,
                        help="what each source in the prompt carries (default: the library's "
                             "setting, else its default)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    dataset = evaluation.load(args.dataset, "test")
    questions = list(dataset.queries.values())[:args.questions + 1]
    sizes = [args.passages] if args.passages else [int(s) for s in args.sizes.split(",")]
    if args.measure:  # the child of one size
        print(json.dumps(measure(args.cache / f"passages-{sizes[0]}", questions,
                                 args.prompt_sources)))
        return
    missing = [s for s in sizes if not built(args.cache / f"passages-{s}")]
    if missing:
        from core.library import Library

        source = (Library.open(args.source_library) if args.source_library
                  else evaluation.library_for(dataset))
        for size in missing:
            cached_build(source, args.cache / f"passages-{size}", size).close()
        source.close()
    results = []
    for size in sizes:
        command = [sys.executable, __file__, str(args.dataset), "--passages", str(size),
                   "--questions", str(args.questions), "--cache", str(args.cache), "--measure"]
        if args.prompt_sources:
            command += ["--prompt-sources", args.prompt_sources]
        child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"  {r['passages']:,} passages, {r['prompt_sources']}: first {r['first_ms']:.0f} ms, "
              f"p50 {r['p50_ms']:.1f}, p95 {r['p95_ms']:.1f} (load {r['load']})", file=sys.stderr,
              flush=True)
    print("| passages | prompt sources | first token p50 ms | p95 ms | (core p50 ms: retrieval, "
          "to request, first token) | (core to request p95 ms) | "
          "first question after start ms | (its retrieval ms) | answer end p50 ms | start: "
          "engine + workers, start reads ms | peak RSS MB | RSS MB | vector loads | /api/show | "
          "load average |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['passages']:,} | {r['prompt_sources']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['retrieval_p50_ms']:.1f}, {r['request_p50_ms']:.1f}, "
              f"{r['core_first_p50_ms']:.1f} | {r['request_p95_ms']:.1f} | {r['first_ms']:.0f} | "
              f"{r['first_retrieval_ms']:.0f} | {r['answer_p50_ms']:.1f} | "
              f"{r['start_ms']:.0f}, {r['start_reads_ms']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['rss_mb']:.0f} | {r['vector_loads']} | "
              f"{r['show_requests']} | {r['load']} |")
    for r in results:
        print(f"passages={r['passages']} prompt_sources={r['prompt_sources']} "
              f"p50_ms={r['p50_ms']:.1f} p95_ms={r['p95_ms']:.1f} first_ms={r['first_ms']:.0f} "
              f"rss_mb={r['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    main()
