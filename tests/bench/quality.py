"""Search quality on both development sets: nDCG@10, Recall@100 and MRR@10 of the three modes,
one table, each from a library built by the current code.

Run: .venv/bin/python tests/bench/quality.py ../shared/data/scifact ../shared/data/cranfield
     [--fresh]  (build each library in a temporary folder, ignoring every cache)
     [--library NAME=DIR]  (score an existing library folder for set NAME; the table says so)
     [--model ollama:NAME [--ollama-host URL]]  (a copy of each library re-embedded with it)

Without --fresh the libraries come from evaluation.library_for, whose cache key hashes the
corpus, Folio's version, the model and the source of the readers, chunking, ingestion,
embedding and schema: a change to any of them builds anew, so no figure is taken on passages
or vectors an older Folio made. Each set is scored on its test split (SciFact test: 300 claims;
Cranfield: its 225 questions). nDCG@10 uses gain 2^grade - 1 as `folio eval` always has; the
"trec" column is the linear gain of trec_eval (BEIR's published figures), which differs only on
Cranfield's graded judgements.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core import evaluation
from core.library import Library
from core.search import SearchMode


def reembedded(library: Library, folder: Path, model: str, host: str | None) -> Library:
    """A copy of library in folder, re-embedded with model (the cached library is kept as
    built, with the bundled model its cache key names)."""
    library.close()
    shutil.copytree(library.root, folder)
    copy = Library.open(folder)
    if host:
        copy.set_setting("ollama-host", host)
    copy.set_embedding_model(model, progress=lambda done, total: print(
        f"\r  re-embedding {done}/{total}", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--fresh", action="store_true", help="build in a temporary folder")
    parser.add_argument("--library", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--model", default=None, metavar="ollama:NAME",
                        help="re-embed a copy of each library with this model first (an "
                             "Ollama model needs --ollama-host or $OLLAMA_HOST)")
    parser.add_argument("--ollama-host", default=None)
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.library)
    rows = []
    with tempfile.TemporaryDirectory(prefix="folio-quality-") as work:
        for directory in args.datasets:
            dataset = evaluation.load(directory, "test")
            start = time.perf_counter()
            if dataset.name in given:
                library = Library.open(Path(given[dataset.name]))
                print(f"{dataset.name}: the given library {library.root}, not one built here",
                      file=sys.stderr)
            else:
                library = evaluation.library_for(dataset, Path(work) if args.fresh else None)
            if args.model:
                library = reembedded(library, Path(work) / dataset.name, args.model,
                                     args.ollama_host)
            built = time.perf_counter() - start
            print(f"{dataset.name}: library {library.root.parent.name} ready in {built:.0f} s "
                  f"({len(library.documents())} documents, {library.embedding_model})",
                  file=sys.stderr, flush=True)
            with library:
                for score in evaluation.evaluate(library, dataset, list(SearchMode)):
                    rows.append((dataset.name + (" (given library)" if dataset.name in given
                                                 else ""), score))
    load = os.getloadavg()
    print("| set | mode | nDCG@10 | nDCG@10 (trec) | Recall@100 | MRR@10 | queries |")
    print("|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s.mode} | {s.ndcg_at_10:.4f} | {s.ndcg_at_10_linear:.4f} | "
              f"{s.recall_at_100:.4f} | {s.mrr_at_10:.4f} | {s.queries} |")
    print(f"\n(load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")


if __name__ == "__main__":
    main()
