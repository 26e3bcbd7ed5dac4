"""How often proposed checks find their own page (core/check_proposals.py): hit@1/3/10.

Run: .venv/bin/python tests/bench/proposals.py [--count 10]
         [--filings EBAY_2023Q1_8K.pdf,EBAY_2023Q2_EARNINGS.pdf,APPLE_2023Q3_10Q.pdf]
         [--ollama-host URL [--model NAME]]

Two libraries, each made fresh in a temporary folder: the sample guide (Library.ensure_sample)
and a few filings from ../shared/data/filings. For every document, `count` checks are proposed
two ways and each is run as a check (not saved) in hybrid and keyword mode:
  - terms: extractive questions from the passages' distinctive terms (no model);
  - model: through the Ollama-compatible test server, whose responder stands in for a model.
    It asks about the passage's section by its heading and one long word of the passage's first
    sentence ("What does the part on HEADING say about WORD?"), and every fifth reply copies
    the passage, which must be refused. This measures Folio's side (prompt, parsing, refusal,
    ranking of such a question), not any real model's questions.
A proposal's expected place is its passage's page; hit@k counts a page ranked within k.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from core import check_proposals, diagnosis
from core.diagnosis import Place
from core.engine import Engine
from core.library import Library
from core.querytext import STOPWORDS
from core.search import SearchMode
from core.store.checks import SavedCheck
from tests.ollama_server import FakeOllama

PASSAGE_RE = re.compile(r"<passage>\n(.*?)\n</passage>", re.DOTALL)
HEADING_RE = re.compile(r'page \d+ \("([^"]*)"\)')
DEFAULT_FILINGS = "EBAY_2023Q1_8K.pdf,EBAY_2023Q2_EARNINGS.pdf,APPLE_2023Q3_10Q.pdf"


def stand_in_model() -> Any:
    """The responder: a reader's question about the passage's section, every fifth a copy."""
    replies = [0]

    def respond(messages: Sequence[Any]) -> str | None:
        content = messages[-1]["content"]
        passage = PASSAGE_RE.search(content)
        if passage is None:
            return None
        replies[0] += 1
        text = passage.group(1)
        if replies[0] % 5 == 0:
            return " ".join(text.split()[:12]) + "?"  # a copy: refused
        heading = HEADING_RE.search(content)
        topic = heading.group(1).split(" › ")[-1] if heading else "this"
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]+", first)
                 if w.lower() not in STOPWORDS]
        word = max(words, key=len) if words else "it"
        return f"Question: What does the part on {topic} say about {word.lower()}?"

    return respond


def hits(library: Library, proposals: list[check_proposals.Proposal],
         mode: SearchMode) -> tuple[int, int, int]:
    saved = [(SavedCheck(n, p.question, p.document_id, p.page, True, ""),
              Place(p.document_id, p.title, p.page)) for n, p in enumerate(proposals)]
    run = diagnosis.run_checks(library.searcher(), saved, 10, mode)
    return run.hits(1), run.hits(3), run.hits(10)


def share(hit: int, total: int) -> str:
    return f"{hit / total:.2f}" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10, help="proposals per document")
    parser.add_argument("--filings", default=DEFAULT_FILINGS)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3]
                        / "shared" / "data" / "filings")
    parser.add_argument("--ollama-host", default=None,
                        help="a real Ollama to write the questions (default: the test server)")
    parser.add_argument("--model", default=None, help="its chat model (default: the first)")
    args = parser.parse_args()
    print("| library | documents | passages | made by | proposals | refused | hybrid hit@1 "
          "| hybrid hit@3 | hybrid hit@10 | keyword hit@10 | s to propose |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with (Engine() as engine, contextlib.ExitStack() as stack,
          tempfile.TemporaryDirectory() as tmp):
        host = args.ollama_host
        if host is None:
            server = stack.enter_context(FakeOllama(["llama3.2:3b"]))
            server.responder = stand_in_model()
            host = server.host
        filings = [args.data / name for name in args.filings.split(",") if name]
        missing = [str(f) for f in filings if not f.is_file()]
        if missing:
            sys.exit(f"No such filing: {', '.join(missing)} (give --data DIR)")
        for name, paths in (("sample guide", None), ("filings", filings)):
            with Library.open(Path(tmp) / name.replace(" ", "-"), engine) as library:
                library.set_setting("ollama-host", host)
                if paths is None:
                    library.ensure_sample()
                else:
                    library.add(paths)
                documents = [d for d in library.documents() if d.passages]
                passages = sum(d.passages for d in documents)
                for use_model in (False, True):
                    start = time.perf_counter()
                    made = [check_proposals.propose(library, d, args.count, use_model,
                                                    args.model) for d in documents]
                    seconds = time.perf_counter() - start
                    proposals = [p for m in made for p in m.proposals]
                    refused = sum(len(m.refused) for m in made)
                    total = len(proposals)
                    h1, h3, h10 = hits(library, proposals, SearchMode.HYBRID)
                    k10 = hits(library, proposals, SearchMode.KEYWORD)[2]
                    models = {m.model for m in made if m.model}
                    maker = "terms" if not use_model else (
                        "model (test server)" if args.ollama_host is None
                        else f"model ({', '.join(sorted(models)) or 'none'})")
                    print(f"| {name} | {len(documents)} | {passages} | {maker} | {total} "
                          f"| {refused} | {share(h1, total)} | {share(h3, total)} "
                          f"| {share(h10, total)} | {share(k10, total)} | {seconds:.1f} |")
    print(f"\nload average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
