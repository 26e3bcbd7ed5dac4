"""What finding a supporting sentence's rectangles costs (core/span_rects.py).

Run: .venv/bin/python tests/bench/span_rects.py [--pages 40]

A PDF of --pages pages made here (each page a paragraph of eight sentences, two of them running
across a line break) is added to a fresh library. Then, for one sentence of every page, the
span's rectangles are found through a SpanPlacer: the first page with a reader child that is
not running yet (what `folio ask --json` pays once), the others with the child warm (one words
request per page), and a second sentence of a page already read (no request at all).
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

from core.answer_types import Span
from core.engine import Engine
from core.library import Library
from core.span_rects import SpanPlacer

WORDS = ["harbour", "lantern", "ledger", "quarterly", "pallet", "brass", "fitting", "clerk",
         "tide", "mooring", "buoy", "committee", "winter", "glazing", "survey", "keeper"]


def sentence(page: int, i: int) -> str:
    words = [WORDS[(page * 7 + i * 3 + k) % len(WORDS)] for k in range(14)]
    return f"Page {page} sentence {i} says the " + " ".join(words) + "."


def make_pdf(path: Path, pages: int) -> None:
    doc = pymupdf.open()
    for p in range(1, pages + 1):
        page = doc.new_page()
        text = " ".join(sentence(p, i) for i in range(8))
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 770), text, fontsize=11)
    doc.save(path)
    doc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Engine() as engine:
        pdf = Path(tmp) / "bench.pdf"
        make_pdf(pdf, args.pages)
        with Library.open(Path(tmp) / "library", engine) as library:
            library.add([pdf])
            engine.close()  # the reader child is stopped: the first page pays for its start
            doc = library.documents()[0]
            placer = SpanPlacer(library)
            timings: list[float] = []
            found = 0
            for p in range(1, args.pages + 1):
                start = time.perf_counter()
                rects = placer.rects(doc.id, Span(1, sentence(p, 3), p, 1.0, True))
                timings.append((time.perf_counter() - start) * 1000)
                found += bool(rects)
            again = []
            for p in range(1, args.pages + 1):
                start = time.perf_counter()
                placer.rects(doc.id, Span(1, sentence(p, 5), p, 1.0, True))
                again.append((time.perf_counter() - start) * 1000)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print("| pages | spans found | first page, reader cold ms | other pages median ms "
          "| page already read median ms | load average |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.pages} | {found} | {timings[0]:.0f} | {statistics.median(timings[1:]):.1f} "
          f"| {statistics.median(again):.2f} | {load} |")


if __name__ == "__main__":
    main()
