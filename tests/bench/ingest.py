"""Ingestion benchmark: end-to-end passages/s and pages/s against the pure embedding rate.

Run: .venv/bin/python tests/bench/ingest.py [--pages 200] [--files 200]
Each scenario runs in its own process so that its peak RSS is its own. The documents are
made from SciFact abstracts (../shared/data/scifact, real scientific prose): a 200-page PDF
with a heading per abstract, and a folder of small Markdown files of one abstract each.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


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
    pages = library.db.execute("SELECT sum(pages) FROM documents").fetchone()[0]
    texts = [f"{c}\n{t}" for c, t, _ in rows]
    start = time.perf_counter()
    library.embedder.embed_passages(texts)
    embed_only = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "documents": len(outcomes), "pages": pages, "passages": len(rows),
        "mean_tokens": sum(r[2] for r in rows) / len(rows),
        "seconds": elapsed, "passages_per_s": len(rows) / elapsed, "pages_per_s": pages / elapsed,
        "embed_only_passages_per_s": len(rows) / embed_only,
        "ratio": (len(rows) / elapsed) / (len(rows) / embed_only), "peak_rss_mb": rss_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--scenario", choices=["pdf", "folder"])
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.size)))
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


if __name__ == "__main__":
    main()
