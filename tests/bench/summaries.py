"""Whole-document summaries (core/overview.py): the sections walked, the model requests and the
time of a first, a kept (second) and a model-less run, through the Ollama-compatible test server.

Run: .venv/bin/python tests/bench/summaries.py [--pages 40 400] [--filing PDF ...]

--pages makes survey PDFs of that many pages (a chapter of four pages each, as the tests'); each
--filing is a real PDF (../shared/data/filings). The test server answers at once, so the times
are Folio's own side of the walk (reading the passages, prompts, token counts, keeping the
summaries, aligning the answer's support) plus a local round trip per request; with a real
model each request costs its generation time on top.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pymupdf

from core import outline
from core.answer_types import AnswerDone
from core.engine import Engine
from core.library import Library
from core.store import queries, summaries
from tests.core.test_overview import COMBINE_MARK, SECTION_MARK, Recorder
from tests.ollama_server import FakeOllama, refused_host

PLACES = ("Reed beds", "Old weir", "North meadow", "Alder carr", "Salt marsh", "Chalk down",
          "Beech hanger", "Shingle spit", "Heather moor", "Water meadow")
SEASONS = ("in spring", "in summer", "in autumn", "in winter", "at dawn", "at dusk", "by night",
           "after rain", "in frost", "at noon")


def survey(path: Path, pages: int) -> Path:
    """pages // 4 chapters of four pages, a heading and bookmark each, distinct sentences."""
    doc = pymupdf.open()
    toc = []
    for s in range(pages // 4):
        for p in range(4):
            page = doc.new_page()
            y = 90.0
            if p == 0:
                # Places and seasons vary the headings' words as well as their numbers, as a
                # real document's chapters do.
                heading = f"Chapter {s + 1}: {PLACES[s % 10]} {SEASONS[s // 10 % 10]}"
                page.insert_text((72, 72), heading, fontsize=20)
                toc.append([1, heading, page.number + 1])
                y = 120.0
            for k in range(8):
                page.insert_text((72, y), f"At site {s + 1}, page {p + 1}, observation {k + 1} "
                                 f"counted {(s * 31 + p * 7 + k) % 97 + 3} birds near marker "
                                 f"{s}-{p}-{k}.", fontsize=10)
                y += 18
    doc.set_toc(toc)
    doc.save(path)
    doc.close()
    return path


def run(library: Library, doc_id: int, host: str) -> tuple[AnswerDone, float]:
    start = time.perf_counter()
    events = list(library.ask("Summarise this document", scope=[doc_id], host=host, save=False))
    done = events[-1]
    assert isinstance(done, AnswerDone), done
    return done, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, nargs="*", default=[40, 400])
    parser.add_argument("--filing", type=Path, action="append", default=[])
    args = parser.parse_args()
    print("| document | pages | passages | sections | median section tokens | section requests "
          "| combine requests | max num_ctx | first run ms | kept run ms | no model ms "
          "| citations |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp, Engine() as engine, FakeOllama() as server:
        library = Library.open(Path(tmp) / "lib", engine)
        with library.db:
            queries.set_meta(library.db, "sample_added", "bench")
        files = [survey(Path(tmp) / f"survey-{n}.pdf", n) for n in args.pages] + args.filing
        for path in files:
            outcome, = library.add([path])
            assert outcome.document_id is not None, outcome.reason
            doc_id = outcome.document_id
            recorder = Recorder([])
            server.responder = recorder
            before = len(server.chat_requests)
            first, first_ms = run(library, doc_id, server.host)
            requests = server.chat_requests[before:]
            sections = sum(1 for r in requests
                           if r["messages"][-1]["content"].startswith(SECTION_MARK))
            combines = sum(1 for r in requests
                           if r["messages"][-1]["content"].startswith(COMBINE_MARK))
            kept_before = len(server.chat_requests)
            _, kept_ms = run(library, doc_id, server.host)
            assert len(server.chat_requests) == kept_before  # nothing asked the second time
            _, bare_ms = run(library, doc_id, refused_host())
            passages = summaries.document_passages(library.db, doc_id)
            walked = outline.sections_of(passages, 1800)
            tokens = statistics.median(s.tokens for s in walked)
            print(f"| {path.name} | {outcome.pages} | {len(passages)} | {len(walked)} | "
                  f"{tokens:.0f} | {sections} | {combines} | "
                  f"{max(r['options']['num_ctx'] for r in requests)} | {first_ms:.0f} | "
                  f"{kept_ms:.0f} | {bare_ms:.0f} | {len(first.answer.citations)} |", flush=True)
        library.close()
    print(f"\nload average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
