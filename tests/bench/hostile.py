"""The hostile-input report: every file of tests/fixtures/hostile.py, its outcome, reason and time.

Run: .venv/bin/python tests/bench/hostile.py [--huge]   (--huge adds the 50 MB Markdown, 5,000
pages and the page of a million characters; a few minutes more)
Prints a Markdown table (docs/robustness.md) and ends with `folio check` of the library.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.library import Library
from core.types import AddOutcome, AddProgress, DocStatus
from tests.fixtures import hostile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--huge", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="folio-hostile-") as tmp:
        folder = Path(tmp) / "hostile"
        folder.mkdir()
        expected = {**hostile.damaged_pdfs(folder), **hostile.protected_pdfs(folder),
                    **hostile.strange_pdfs(folder), **hostile.text_files(folder),
                    **hostile.awkward_names(folder), **hostile.folder_traps(folder)}
        if args.huge:
            expected |= hostile.huge_files(folder) | hostile.million_character_page(folder)
        with Library.open(Path(tmp) / "library") as library:
            library.set_setting("reader-timeout-s", "30")
            library.set_setting("reader-memory-mb", "1024")
            outcomes: list[AddOutcome] = []
            started: dict[str, float] = {}  # when each file began to be copied and read
            order: list[str] = []

            def on_progress(p: AddProgress) -> None:
                if p.current_path and p.current_path not in started and p.passages_total == 0:
                    started[p.current_path] = time.perf_counter()
                    order.append(p.current_path)

            start = time.perf_counter()
            library.add([folder], progress=on_progress, on_outcome=outcomes.append)
            total = time.perf_counter() - start
            # Reading time: until the next file began (embedding runs later, per wave of files).
            ends = [started[p] for p in order[1:]] + [time.perf_counter()]
            read_s = {p: end - started[p] for p, end in zip(order, ends, strict=True)}
            kinds = {d.original_path: d.error_kind for d in library.documents()
                     if d.status is DocStatus.FAILED}
            print("| file | expected | outcome | passages | reason | read s |")
            print("|---|---|---|---|---|---|")
            for outcome in outcomes:
                seconds = read_s.get(outcome.path, 0.0)
                name = Path(outcome.path).relative_to(folder).as_posix()
                got = kinds.get(outcome.path) or outcome.status.value
                reason = (outcome.reason or "; ".join(outcome.notes) or "").replace("|", "/")
                print(f"| {name} | {expected.get(name, '?')} | {got} | {outcome.passages} | "
                      f"{reason} | {seconds:.1f} |")
            report = library.check()
            print(f"\n{len(outcomes)} files in {total:.0f} s; folio check: "
                  f"{'consistent' if report.ok else report.problems}")


if __name__ == "__main__":
    main()
