"""How many answer sentences the support check flags on the development sets (a sanity check).

Run: .venv/bin/python tests/bench/support.py --library scifact=DIR --library cranfield=DIR
         [--queries 100]

Each set's test questions are asked of its library (built by `folio eval` / tests/bench/
quality.py; give its folder) through the Ollama-compatible test server, whose answer restates
the first sentence of sources [1] and [2], each cited. Every such sentence is supported by
construction, so the share flagged "not found in [n]" is the check's false-alarm rate on real
passages; a second pass asks the server to cite each sentence to the other source (a wrong
citation), whose share flagged is the check's catch rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from core import evaluation
from core.answer_types import AnswerDone
from core.engine import Engine
from core.library import Library
from tests.ollama_server import FakeOllama, first_sentence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3]
                        / "shared" / "data")
    args = parser.parse_args()
    print("| set | citations | questions | sentences | flagged | share | ms per answer "
          "| load average |")
    print("|---|---|---|---|---|---|---|---|")
    with Engine() as engine, FakeOllama(["llama3.2:3b"]) as server:
        for item in args.library:
            name, folder = item.split("=", 1)
            dataset = evaluation.load(args.data / name, "test")
            questions = list(dataset.queries.values())[:args.queries]
            with Library.open(Path(folder).expanduser(), engine) as library:
                library.set_setting("ollama-host", server.host)
                for swapped in (False, True):
                    sentences = flagged = 0
                    start = time.perf_counter()
                    for question in questions:
                        server.reply = None
                        if swapped:  # each source's first sentence cited to the other one
                            found = library.search(question, k=2).hits
                            if len(found) < 2:
                                continue
                            server.reply = (f"{first_sentence(found[0].text)} [2] "
                                            f"{first_sentence(found[1].text)} [1]")
                        for event in library.ask(question, k=2, save=False):
                            if isinstance(event, AnswerDone):
                                for s in event.answer.support:
                                    sentences += 1
                                    flagged += bool(s.not_found_in)
                                break
                    per = (time.perf_counter() - start) * 1000 / max(1, len(questions))
                    load = os.getloadavg()
                    kind = "wrong source" if swapped else "right source"
                    print(f"| {name} | {kind} | {len(questions)} | {sentences} | {flagged} "
                          f"| {flagged / max(1, sentences):.1%} | {per:.0f} "
                          f"| {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
