"""The `folio` command: add, list, remove, search, eval, config; asking is in cli_ask.py."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from core import __version__, cli_ask, cli_checks, cli_folders
from core.errors import FolioError
from core.expansion import expand, unsupported_reason
from core.library import SETTINGS, Library, default_library_dir
from core.search import SearchMode
from core.titles import shown_titles
from core.types import AddOutcome, AddProgress, AddStage, AddStatus, DocStatus, Hit

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class ProgressBar:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self._last = ""

    def update(self, p: AddProgress) -> None:
        if not self.enabled or p.files_total == 0:
            return
        width = 24
        fraction = (p.files_done + (p.passages_done / p.passages_total if p.passages_total
                                    else 0)) / p.files_total
        filled = int(width * min(1.0, fraction))
        name = Path(p.current_path).name if p.current_path else ""
        line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {p.files_done}/{p.files_total} "
                f"files, {p.total_passages_done + p.passages_done} passages  {name[:30]}"
                f"{_stage_text(p)}")
        if line != self._last:
            self.stream.write(line.ljust(len(self._last)))
            self.stream.flush()
            self._last = line

    def clear(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\r" + " " * len(self._last) + "\r")
            self.stream.flush()
            self._last = ""


def _stage_text(p: AddProgress) -> str:
    """ ": OCR page 3 of 40" while a file is read page by page, else what is being done."""
    if p.stage in (AddStage.READING, AddStage.OCR) and p.pages_total:
        what = "OCR" if p.stage is AddStage.OCR else "reading"
        return f": {what} page {p.pages_done} of {p.pages_total}"
    if p.stage is AddStage.CHUNKING:
        return ": splitting into passages"
    return ""


def outcome_json(o: AddOutcome) -> dict[str, object]:
    """One line of `folio add --json`: what happened to one file."""
    return {"path": o.path, "status": o.status.value, "document_id": o.document_id,
            "title": o.title, "pages": o.pages, "passages": o.passages, "tables": o.tables,
            "ocr_pages": o.ocr_pages, "read_s": round(o.read_s, 3),
            "chunk_s": round(o.chunk_s, 3), "embed_s": round(o.embed_s, 3),
            "reason": o.reason if o.status is AddStatus.FAILED else None,
            "notes": list(o.notes)}


def _outcome_line(o: AddOutcome) -> str:
    if o.status is AddStatus.FAILED:
        return f"failed: {o.path}: {o.reason}"
    if o.status is AddStatus.CANCELLED:
        return f"cancelled: {o.path}"
    detail = f" ({o.passages} passages)" if o.status is not AddStatus.PRESENT else ""
    notes = f" [{'; '.join(o.notes)}]" if o.notes else ""
    return f"{o.status.value}: {o.path} — {o.title}{detail}{notes}"


def _open_library(args: argparse.Namespace, first_run_sample: bool = True,
                  writes: bool = False) -> Library:
    """The library of --library (else the default), with an Engine of its own for this
    command; writes: the command changes documents, so the writer's housekeeping runs."""
    root = Path(args.library).expanduser() if args.library else default_library_dir()
    library = Library.open(root)
    if writes:
        library.prepare()
    if first_run_sample:
        bar = ProgressBar(sys.stderr)
        outcomes = library.ensure_sample(progress=bar.update)
        bar.clear()
        if outcomes:
            print(f"Indexed the built-in user guide into {root} (first run).", file=sys.stderr)
    return library


def cmd_add(args: argparse.Namespace) -> int:
    """Each file's outcome on stdout as it is done; what was passed over and the totals on
    stderr (stdout stays one line per file for scripts; with --json, a skipped file is a line
    of its own and there is no totals line: counting the lines gives them)."""
    expansion = expand(Path(p) for p in args.paths)
    for folder, unsupported in expansion.empty:
        why = ("the folder is empty" if not unsupported else
               f"none of its {unsupported} files is of a type Folio reads (PDF, EPUB, XPS, FB2, "
               "Markdown, text, HTML)")
        print(f"folio: nothing to add from {folder}: {why}.", file=sys.stderr)
    if args.json:
        for path in expansion.unsupported:
            print(json.dumps(skipped_json(path), ensure_ascii=False), flush=True)
    outcomes: list[AddOutcome] = []
    if expansion.files:
        added = _add_files(args, expansion.files)
        if added is None:
            return EXIT_FAILED
        outcomes = added
    if not args.json:
        print(add_totals(outcomes, expansion.unsupported), file=sys.stderr)
    failed = sum(1 for o in outcomes if o.status in (AddStatus.FAILED, AddStatus.CANCELLED))
    # A folder that gave nothing fails like a file that is not there: the user named it to add
    # documents, and a script must be able to tell that nothing came of it.
    return EXIT_FAILED if failed or expansion.empty else EXIT_OK


def _add_files(args: argparse.Namespace, files: list[Path]) -> list[AddOutcome] | None:
    """Add files, printing each outcome as it is done; None when interrupted."""
    with _open_library(args, writes=True) as library:
        bar = ProgressBar(sys.stderr)

        def on_outcome(outcome: AddOutcome) -> None:
            bar.clear()
            line = (json.dumps(outcome_json(outcome), ensure_ascii=False) if args.json
                    else _outcome_line(outcome))
            print(line, flush=True)

        def password_for(path: str) -> str | None:
            bar.clear()
            try:
                return getpass.getpass(f"Password for {path} (empty to skip): ") or None
            except EOFError:
                return None

        cancel = threading.Event()
        try:
            outcomes = library.add(files, progress=bar.update, cancel=cancel,
                                   on_outcome=on_outcome,
                                   password_for=password_for if args.password else None)
        except KeyboardInterrupt:
            cancel.set()
            bar.clear()
            print("Interrupted: the document being indexed was left out.", file=sys.stderr)
            return None
        bar.clear()
    return outcomes


def skipped_json(path: Path) -> dict[str, object]:
    """The `folio add --json` line of a file inside a folder passed over for its type."""
    line = outcome_json(AddOutcome(os.path.abspath(path), AddStatus.FAILED,
                                   reason=unsupported_reason(path)))
    line["status"] = "skipped"
    return line


def add_totals(outcomes: Sequence[AddOutcome], unsupported: Sequence[Path]) -> str:
    """ "12 added, 3 already present, 2 failed, 40 skipped: unsupported type (30 .docx, ...)" """
    counts = Counter(o.status for o in outcomes)
    parts = [f"{counts[AddStatus.ADDED]} added"]
    parts += [f"{counts[status]} {status.value}" for status in (
        AddStatus.REPLACED, AddStatus.PRESENT, AddStatus.FAILED, AddStatus.CANCELLED)
        if counts[status]]
    if unsupported:
        kinds = Counter(p.suffix.lower() or "without extension" for p in unsupported)
        common = sorted(kinds.items(), key=lambda item: (-item[1], item[0]))[:4]
        shown = [f"{n} {kind}" for kind, n in common]
        others = len(unsupported) - sum(n for _, n in common)
        if others:
            shown.append(f"{others} other")
        parts.append(f"{len(unsupported)} skipped: unsupported type ({', '.join(shown)})")
    return ", ".join(parts)


def cmd_check(args: argparse.Namespace) -> int:
    with _open_library(args, first_run_sample=False, writes=True) as library:
        report = library.check(repair=args.repair)
    if args.json:
        print(json.dumps({"ok": report.ok, "documents": report.documents,
                          "passages": report.passages, "repaired": report.repaired,
                          "problems": [p.__dict__ for p in report.problems]}, indent=2))
    else:
        for line in report.repaired:
            print(f"repaired: {line}")
        for problem in report.problems:
            hint = " (`folio check --repair` fixes this)" if problem.repairable else ""
            print(f"problem: {problem.message}{hint}")
        if report.ok:
            print(f"The library is consistent: {report.documents} documents, "
                  f"{report.passages} passages.")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_list(args: argparse.Namespace) -> int:
    with _open_library(args) as library:
        docs = library.documents()
    shown = shown_titles(docs)  # two documents with one title get their file names added
    if args.json:
        print(json.dumps([
            {"id": d.id, "title": d.title, "shown_title": shown[d.id], "type": d.doc_type,
             "pages": d.pages,
             "passages": d.passages, "status": d.status.value, "error": d.error,
             "original_path": d.original_path, "sha256": d.sha256, "notes": d.notes,
             "added_at": d.added_at}
            for d in docs], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not docs:
        print("The library is empty. Add documents with: folio add PATH...")
        return EXIT_OK
    print(f"{'ID':>4}  {'TYPE':<8} {'PAGES':>5} {'PASSAGES':>8}  {'STATUS':<8} TITLE")
    for d in docs:
        print(f"{d.id:>4}  {d.doc_type:<8} {d.pages:>5} {d.passages:>8}  {d.status.value:<8} "
              f"{shown[d.id]}")
        if d.status is DocStatus.FAILED:
            print(f"{'':>6}{d.error}  ({d.original_path})")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    with _open_library(args, first_run_sample=False, writes=True) as library:
        doc = library.remove(args.document)
    print(f"removed: {doc.id} {doc.title} (your file {doc.original_path} was not touched)")
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    with _open_library(args, first_run_sample=False) as library:
        if args.list_models:
            from core.embedding import BUNDLED_MODEL, catalog_models

            print(f"{BUNDLED_MODEL}  (bundled, offline, 384 dimensions)")
            for m in catalog_models():
                print(f"{m['model']}  ({m['dim']} dimensions, {m['size_in_GB']} GB download)")
            _print_ollama_embedding_models(library)
            return EXIT_OK
        if args.key is None:
            for key, value in library.settings().items():
                print(f"{key} = {value}")
            return EXIT_OK
        if args.value is None:
            settings = library.settings()
            if args.key not in settings:
                raise FolioError(f"Unknown setting '{args.key}'. Settings: {', '.join(settings)}.")
            print(settings[args.key])
            return EXIT_OK
        if args.key == "embedding-model":
            return _change_model(library, args.value)
        library.set_setting(args.key, args.value)
        print(f"{args.key} = {args.value}")
    return EXIT_OK


def _print_ollama_embedding_models(library: Library) -> None:
    """The embedding models installed in the library's Ollama, as ollama:NAME."""
    from core.llm import LlmError

    try:
        service = library.ollama()
        embedding = [m.name for m in service.models() if not m.chat]
    except LlmError as exc:
        print(f"(Ollama's embedding models are not listed: {exc.message})", file=sys.stderr)
        return
    for name in embedding:
        print(f"ollama:{name}  (installed in Ollama at {service.host})")
    if not embedding:
        print(f"(No embedding model is installed in Ollama at {service.host}; "
              "`ollama pull bge-m3` installs a multilingual one.)", file=sys.stderr)


def _change_model(library: Library, name: str) -> int:
    print(f"Asking Ollama for {name}..." if name.startswith("ollama:") else
          f"Loading {name} (downloaded on first use)...", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rRe-embedding {done}/{total} passages")
            sys.stderr.flush()

    cancel = threading.Event()
    try:
        changed = library.set_embedding_model(name, progress=progress, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        print("\nInterrupted: the library still uses " + library.embedding_model, file=sys.stderr)
        return EXIT_FAILED
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if changed:
        print(f"embedding-model = {library.embedding_model}")
    return EXIT_OK if changed else EXIT_FAILED


def cmd_search(args: argparse.Namespace) -> int:
    with _open_library(args) as library:
        unknown = [str(i) for i in dict.fromkeys(args.doc or []) if library.document(i) is None]
        if unknown:  # else "Nothing found", as if the document had been searched
            raise FolioError(f"no document {', '.join(unknown)} in the library at "
                             f"{library.root} (`folio list` shows the ids).")
        result = library.search(args.query, mode=args.mode, k=args.k, scope=args.doc)
    if result.notice:
        print(result.notice, file=sys.stderr)
    if args.json:
        print(json.dumps([hit_json(h) for h in result.hits], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not result.hits:
        print("Nothing found.")
    for rank, hit in enumerate(result.hits, start=1):
        page = f"p. {hit.page_label}" if hit.page_label else "text"
        ranks = ", ".join(part for part in (
            f"keywords #{hit.keyword_rank}" if hit.keyword_rank else "",
            f"meaning #{hit.semantic_rank}" if hit.semantic_rank else "") if part)
        section = f" — {hit.heading_path}" if hit.heading_path else ""
        print(f"{rank}. {hit.title}, {page}{section}  [{ranks}]")
        print(textwrap.indent(textwrap.shorten(hit.text, 400, placeholder=" …"), "   "))
    print(f"({result.mode.value}, {result.elapsed_ms:.0f} ms)", file=sys.stderr)
    return EXIT_OK


def hit_json(hit: Hit) -> dict[str, object]:
    return {
        "document_id": hit.document_id, "title": hit.title, "page": hit.page,
        "page_label": hit.page_label, "heading_path": hit.heading_path, "text": hit.text,
        "score": hit.score, "keyword_rank": hit.keyword_rank,
        "semantic_rank": hit.semantic_rank,
        "rects": [{"page": r.page, "x0": r.x0, "y0": r.y0, "x1": r.x1, "y1": r.y1}
                  for r in hit.rects],
    }


def cmd_eval(args: argparse.Namespace) -> int:
    from core import evaluation

    dataset = evaluation.load(Path(args.dataset), args.split)
    bar = ProgressBar(sys.stderr)
    library = evaluation.library_for(dataset, progress=bar.update)
    bar.clear()
    modes = [SearchMode(m) for m in (args.mode or [m.value for m in SearchMode])]
    with library:
        scores = evaluation.evaluate(library, dataset, modes)
        documents = len(library.documents())
    if args.json:
        print(json.dumps([s.__dict__ for s in scores], indent=2))
        return EXIT_OK
    print(f"{dataset.name}, split {args.split}: {len(dataset.queries)} queries, "
          f"{documents} documents")
    print(f"{'mode':<10} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7} "
          f"{'p50 ms':>7} {'p95 ms':>7}")
    for s in scores:
        print(f"{s.mode:<10} {s.ndcg_at_10:>8.4f} {s.recall_at_10:>7.4f} {s.recall_at_100:>7.4f} "
              f"{s.mrr_at_10:>7.4f} {s.p50_ms:>7.1f} {s.p95_ms:>7.1f}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    # --library may come before or after the command; SUPPRESS keeps a subcommand's absent
    # option from overwriting the value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--library", metavar="DIR", default=argparse.SUPPRESS,
                        help="library folder (default: $FOLIO_HOME, else the user data folder)")
    parser = argparse.ArgumentParser(
        prog="folio",
        description="Ask questions of your own documents; every answer cites its page. "
                    "Everything stays on this machine.",
        epilog="`folio` alone (or `folio gui`) opens the window; `folio self-check` checks this "
               "installation.")
    parser.add_argument("--library", metavar="DIR",
                        help="library folder (default: $FOLIO_HOME, else the user data folder)")
    parser.add_argument("--version", action="version", version=f"folio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    add = sub.add_parser("add", parents=[common], help="add files and folders to the library")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--password", action="store_true",
                     help="ask for the password of each protected PDF (it is never stored)")
    add.add_argument("--json", action="store_true",
                     help="one JSON object per file, as each is done (JSON Lines): path, status, "
                          "document_id, title, pages, passages, tables, ocr_pages, read_s, "
                          "chunk_s, embed_s (its share of its wave's, by passages), reason, notes; "
                          "a file of a folder passed over for its type has status 'skipped'")
    add.set_defaults(func=cmd_add)

    lst = sub.add_parser("list", parents=[common], help="list the documents in the library")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=cmd_list)

    rm = sub.add_parser("remove", parents=[common],
                        help="remove a document (only Folio's copy; your file stays)")
    rm.add_argument("document", metavar="ID_OR_SHA256_PREFIX")
    rm.set_defaults(func=cmd_remove)

    srch = sub.add_parser("search", parents=[common], help="find the passages that match a query")
    srch.add_argument("query", metavar="QUERY")
    srch.add_argument("--mode", choices=[m.value for m in SearchMode], default="hybrid")
    srch.add_argument("-k", type=int, default=10, help="how many passages (default 10)")
    srch.add_argument("--doc", type=int, action="append", metavar="ID",
                      help="search only this document (repeatable)")
    srch.add_argument("--json", action="store_true", help="machine-readable output")
    srch.set_defaults(func=cmd_search)

    ev = sub.add_parser("eval", help="measure search quality on a BEIR-layout dataset")
    ev.add_argument("dataset", metavar="DATASET_DIR")
    ev.add_argument("--mode", action="append", choices=[m.value for m in SearchMode],
                    help="only this mode (repeatable; default: all three)")
    ev.add_argument("--split", default="test")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_eval, library=None)

    cli_ask.add_commands(sub, common, _open_library)
    cli_folders.add_commands(sub, common, _open_library)
    cli_checks.add_commands(sub, common, _open_library)

    chk = sub.add_parser("check", parents=[common],
                         help="check that the library is consistent (exit 1 with the problems)")
    chk.add_argument("--repair", action="store_true", help="rebuild what can be rebuilt")
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    chk.set_defaults(func=cmd_check)

    cfg = sub.add_parser("config", parents=[common], help="show or change library settings")
    cfg.add_argument("key", nargs="?", help=", ".join(SETTINGS))
    cfg.add_argument("value", nargs="?")
    cfg.add_argument("--list-models", action="store_true",
                     help="list the embedding models that can be chosen")
    cfg.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and hasattr(signal, "SIGPIPE"):
        # `folio list | head` ends quietly. Only for a real command line: a process that calls
        # main() (the tests, the app) keeps Python's handling of broken pipes.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.func(args))
    except FolioError as exc:
        print(f"folio: {exc}", file=sys.stderr)
        return EXIT_FAILED



if __name__ == "__main__":
    sys.exit(main())
