"""Ingestion benchmark: end-to-end passages/s and pages/s against the pure embedding rate.

Run: .venv/bin/python tests/bench/ingest.py [--pages 200] [--files 200] [--filings N]
Each scenario runs in its own process so that its peak RSS is its own. The documents are
made from SciFact abstracts (../shared/data/scifact, real scientific prose): a 200-page PDF
with a heading per abstract, and a folder of small Markdown files of one abstract each.

--filings N adds the real SEC filings of ../shared/data/filings (24 files, 3,421 pages; all
of them take about an hour here): N of them, spread over the corpus by page count (0: all;
--filing NAME picks one by name, repeatable; --only-filings skips the generated scenarios).
Per file it reports pages, tables, passages, and the seconds spent reading (in the reader
child), chunking and embedding (a wave's embedding time is shared over its files by passage
count), then end-to-end passages/s against embedding the same passages alone (target >= 85%)
and the share of reading in each PDF's ingest time (target < 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
FILINGS = ROOT.parent / "shared" / "data" / "filings"


def abstracts(count: int, offset: int = 0) -> list[tuple[str, str]]:
    out = []
    with CORPUS.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index < offset:
                continue
            row = json.loads(line)
            if len(row["text"]) > 400:
                out.append((row["title"], row["text"]))
            if len(out) == count:
                break
    return out


def make_pdf(path: Path, pages: int) -> None:
    import pymupdf

    doc = pymupdf.open()
    items = iter(abstracts(pages * 3))
    for number in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 40), "SciFact abstracts — benchmark volume", fontsize=8)
        page.insert_text((290, 815), str(number + 1), fontsize=8)
        y = 72.0
        while y < 700:
            title, text = next(items)
            page.insert_textbox(pymupdf.Rect(72, y, 523, y + 40), title, fontsize=12,
                                fontname="hebo")
            rect = pymupdf.Rect(72, y + 40, 523, 770)
            spare = page.insert_textbox(rect, text, fontsize=10, fontname="helv")
            if spare < 0:  # did not fit: the abstract is left for the next page
                break
            y = 770 - spare + 24
    doc.save(path)


def make_folder(path: Path, files: int) -> None:
    path.mkdir()
    for index, (title, text) in enumerate(abstracts(files, offset=2000)):
        (path / f"note-{index:04d}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")


def run_scenario(kind: str, size: int) -> dict[str, float]:
    from core.library import Library

    work = Path(tempfile.mkdtemp(prefix="folio-bench-"))
    if kind == "pdf":
        target = work / "volume.pdf"
        make_pdf(target, size)
    else:
        target = work / "notes"
        make_folder(target, size)
    library = Library.open(work / "library")
    library.embedder.embed_passages(["warm up the model"])  # load time is not ingestion time
    start = time.perf_counter()
    outcomes = library.add([target])
    elapsed = time.perf_counter() - start
    assert all(o.status.value == "added" for o in outcomes), outcomes
    rows = library.db.execute("SELECT context, text, token_count FROM passages").fetchall()
    pages = sum(d.pages for d in library.documents())
    texts = [f"{c}\n{t}" for c, t, _ in rows]
    tokens = [n for _, _, n in rows if isinstance(n, int)]
    start = time.perf_counter()
    library.embedder.embed_passages(texts)
    embed_only = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "documents": len(outcomes), "pages": pages, "passages": len(rows),
        "mean_tokens": sum(tokens) / len(rows),
        "seconds": elapsed, "passages_per_s": len(rows) / elapsed, "pages_per_s": pages / elapsed,
        "embed_only_passages_per_s": len(rows) / embed_only,
        "ratio": (len(rows) / elapsed) / (len(rows) / embed_only), "peak_rss_mb": rss_mb,
    }


def pick_filings(count: int, names: list[str]) -> list[Path]:
    """The named filings, else count of them spread evenly over the corpus sorted by pages."""
    import pymupdf

    if names:
        return [FILINGS / name for name in names]
    by_pages = []
    for path in sorted(FILINGS.glob("*.pdf")):
        with pymupdf.open(path) as doc:
            by_pages.append((doc.page_count, path))
    by_pages.sort()
    if count <= 0 or count >= len(by_pages):
        return [path for _, path in by_pages]
    step = len(by_pages) / count
    return [by_pages[int(step * i + step / 2)][1] for i in range(count)]


def run_filings(paths: list[Path]) -> dict[str, Any]:
    from core.library import Library
    from core.types import AddOutcome

    work = Path(tempfile.mkdtemp(prefix="folio-bench-filings-"))
    library = Library.open(work / "library")
    library.set_setting("reader-timeout-s", "3600")  # measured, not refused
    library.embedder.embed_passages(["warm up the model"])  # load time is not ingestion time
    # The reader child starts and imports PyMuPDF before the clock starts (a second or two).
    import pymupdf

    warm = work / "warm.pdf"
    with pymupdf.open() as doc:
        doc.new_page().insert_text((72, 72), "This starts the reader child.")
        doc.save(warm)
    library.add([warm])
    done: list[AddOutcome] = []

    def on_outcome(outcome: AddOutcome) -> None:
        done.append(outcome)
        print(f"{Path(outcome.path).name}: {outcome.status.value} {outcome.pages} pages "
              f"{outcome.passages} passages read {outcome.read_s:.1f} s "
              f"embed {outcome.embed_s:.1f} s {outcome.reason or ''}", file=sys.stderr,
              flush=True)

    start = time.perf_counter()
    library.add(paths, on_outcome=on_outcome)
    elapsed = time.perf_counter() - start
    ids = [o.document_id for o in done if o.status.value == "added"]
    rows = library.db.execute(
        "SELECT context, text FROM passages WHERE document_id IN "
        f"({','.join('?' * len(ids))})", ids).fetchall() if ids else []
    texts = [f"{c}\n{t}" for c, t in rows]
    start = time.perf_counter()
    if texts:
        library.embedder.embed_passages(texts)
    embed_only = time.perf_counter() - start
    return {
        "files": [{"name": Path(o.path).name, "status": o.status.value, "pages": o.pages,
                   "tables": o.tables, "passages": o.passages, "read_s": o.read_s,
                   "chunk_s": o.chunk_s, "embed_s": o.embed_s, "reason": o.reason}
                  for o in done],
        "seconds": elapsed, "passages": len(texts), "embed_only_s": embed_only,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def print_filings(result: dict[str, Any]) -> None:
    print("| filing | status | pages | tables | passages | read s | pages/s | chunk s | embed s "
          "| reading share |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in result["files"]:
        total = f["read_s"] + f["chunk_s"] + f["embed_s"]
        share = f"{f['read_s'] / total:.0%}" if total else "-"
        speed = f"{f['pages'] / f['read_s']:.0f}" if f["read_s"] and f["pages"] else "-"
        print(f"| {f['name']} | {f['status']} | {f['pages']} | {f['tables']} | {f['passages']} "
              f"| {f['read_s']:.1f} | {speed} | {f['chunk_s']:.1f} | {f['embed_s']:.1f} "
              f"| {share} |")
    added = [f for f in result["files"] if f["status"] == "added"]
    read = sum(f["read_s"] for f in added)
    chunked = sum(f["chunk_s"] for f in added)
    embedded = sum(f["embed_s"] for f in added)
    pages = sum(f["pages"] for f in added)
    passages, seconds, alone = result["passages"], result["seconds"], result["embed_only_s"]
    print(f"| **total** ({len(added)} of {len(result['files'])} added) | | {pages} "
          f"| {sum(f['tables'] for f in added)} | {passages} | {read:.1f} "
          f"| {pages / read if read else 0:.0f} | {chunked:.1f} | {embedded:.1f} "
          f"| {read / (read + chunked + embedded) if added else 0:.0%} |")
    if passages:
        print(f"\nEnd to end: {passages / seconds:.1f} passages/s, {pages / seconds:.2f} pages/s "
              f"({seconds:.0f} s); embedding the same passages alone: "
              f"{passages / alone:.1f} passages/s; end-to-end / embedding: "
              f"{alone / seconds:.0%} (target >= 85%). Peak RSS {result['peak_rss_mb']:.0f} MB.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--filings", type=int, metavar="N",
                        help="also the real filings: N of them spread by size (0: all 24)")
    parser.add_argument("--filing", action="append", default=[], metavar="NAME",
                        help="this filing (repeatable), instead of --filings N")
    parser.add_argument("--only-filings", action="store_true")
    parser.add_argument("--scenario", choices=["pdf", "folder", "filings"])
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    if args.scenario == "filings":
        print(json.dumps(run_filings([Path(p) for p in args.filing])))
        return
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.size)))
        return
    print(f"# {' '.join(sys.argv)}\n# load average at start: {_load()}")
    if args.filings is not None or args.filing:
        paths = pick_filings(args.filings or 0, args.filing)
        proc = subprocess.run([sys.executable, __file__, "--scenario", "filings",
                               *[a for p in paths for a in ("--filing", str(p))]],
                              stdout=subprocess.PIPE, text=True, check=True)
        print_filings(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"# load average at the end: {_load()}")
        if args.only_filings:
            return
    results = {}
    for kind, size, label in (("pdf", args.pages, f"{args.pages}-page text PDF"),
                              ("folder", args.files, f"folder of {args.files} Markdown files")):
        proc = subprocess.run([sys.executable, __file__, "--scenario", kind, "--size", str(size)],
                              capture_output=True, text=True, check=True)
        results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    print("| scenario | docs | pages | passages | mean tokens | seconds | passages/s | pages/s "
          "| embedding only, passages/s | end-to-end / embedding | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, r in results.items():
        print(f"| {label} | {r['documents']} | {r['pages']} | {r['passages']} "
              f"| {r['mean_tokens']:.0f} | {r['seconds']:.1f} | {r['passages_per_s']:.1f} "
              f"| {r['pages_per_s']:.2f} | {r['embed_only_passages_per_s']:.1f} "
              f"| {r['ratio']:.0%} | {r['peak_rss_mb']:.0f} |")
    print(f"# load average at the end: {_load()}")


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
