"""`folio diagnose` and `folio checks add|list|remove|run|import|propose`: why an answer missed
(core/diagnosis.py), and checks proposed from the documents (core/check_proposals.py)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from core import check_proposals, diagnosing, evaluation
from core.check_proposals import Proposals
from core.diagnosis import HITS_AT, CheckRun, Diagnosis
from core.errors import FolioError
from core.library import Library
from core.search import SearchMode

OpenLibrary = Callable[..., Library]
EXIT_OK, EXIT_FAILED = 0, 1


def diagnosis_json(found: Diagnosis) -> dict[str, object]:
    data = asdict(found)
    data["place"]["described"] = found.place.described
    return data


def diagnosis_lines(found: Diagnosis) -> list[str]:
    r = found.ranks
    lines = [f"question: {found.question}"]
    if found.searched != found.question:
        lines.append(f"searched as: {found.searched}")
    lines.append(f"expected: {found.place.described}")
    lines.append(f"ranks: keyword {r.keyword or '-'}, meaning {r.semantic or '-'}, "
                 f"fused {r.fused or '-'} (sources per answer: {found.sources})")
    if found.asked_ranks is not None:
        a = found.asked_ranks
        lines.append(f"ranks as typed: keyword {a.keyword or '-'}, meaning {a.semantic or '-'}, "
                     f"fused {a.fused or '-'}")
    sent = f"as [{found.source_number}]" if found.source_number else "no"
    cited = "" if found.cited is None else f"; cited: {'yes' if found.cited else 'no'}"
    lines.append(f"sent to the model: {sent}{cited}")
    for trial in found.trials:
        note = f" ({trial.note})" if trial.note else ""
        lines.append(f"tried {trial.setting}: rank {trial.rank or '-'} — "
                     f"{'would have been sent' if trial.finds_it else 'still not sent'}{note}")
    lines.append(f"verdict ({found.verdict}): {found.sentence}")
    return lines


def cmd_diagnose(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args, first_run_sample=False) as library:
        try_models = not args.no_other_models
        if args.conversation is not None:
            found = diagnosing.diagnose_turn(library, args.conversation, args.turn, args.expect,
                                             args.k, try_models)
        elif args.question:
            found = diagnosing.diagnose_question(library, args.question, args.expect, args.k,
                                                 try_models)
        else:
            print("folio: give --conversation ID --turn N, or --question TEXT", file=sys.stderr)
            return EXIT_FAILED
    if args.json:
        print(json.dumps(diagnosis_json(found), ensure_ascii=False, indent=2))
    else:
        print("\n".join(diagnosis_lines(found)))
    return EXIT_OK


def run_json(run: CheckRun) -> dict[str, object]:
    total = len(run.results)
    return {
        "mode": run.mode.value, "sources": run.sources, "model": run.model,
        "checks": [{"id": r.check.id, "question": r.check.question,
                    "expected": r.place.described, "generated": r.check.generated,
                    "rank": r.rank, **{f"hit@{k}": r.hit_at(k) for k in HITS_AT},
                    "cited": r.diagnosis.cited, "verdict": r.diagnosis.verdict,
                    "sentence": r.diagnosis.sentence} for r in run.results],
        "totals": {"checks": total, **{f"hit@{k}": run.hits(k) for k in HITS_AT},
                   "cited": run.cited()},
    }


def run_table(run: CheckRun) -> list[str]:
    head = "| id | question | expected | rank | " + " | ".join(f"@{k}" for k in HITS_AT)
    head += " | cited | verdict |" if run.model else " | verdict |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in run.results:
        marks = " | ".join("yes" if r.hit_at(k) else "" for k in HITS_AT)
        cited = f" | {'yes' if r.diagnosis.cited else 'no'}" if run.model else ""
        question = r.check.question + (" (generated)" if r.check.generated else "")
        lines.append(f"| {r.check.id} | {question} | {r.place.described} | {r.rank or '-'} "
                     f"| {marks}{cited} | {r.diagnosis.verdict} |")
    total = max(1, len(run.results))
    totals = " | ".join(f"{run.hits(k)}/{len(run.results)} ({run.hits(k) / total:.0%})"
                        for k in HITS_AT)
    cited_total = f" | {run.cited()}/{len(run.results)}" if run.model else ""
    lines.append(f"| | total ({run.mode.value}, {run.sources} sources) | | | {totals}"
                 f"{cited_total} | |")
    return lines


def import_beir(library: Library, directory: Path, split: str) -> tuple[int, int]:
    """A check for every judged (query, relevant document) pair of a BEIR-layout set whose
    document is in the library (named by its corpus id, as `folio eval` adds them); (added,
    pairs whose document is not in the library)."""
    dataset = evaluation.load(directory, split)
    by_corpus_id = {corpus_id: doc_id
                    for doc_id, corpus_id in evaluation.corpus_ids_of(library).items()}
    added = missing = 0
    for query_id, text in dataset.queries.items():
        for corpus_id, grade in dataset.qrels[query_id].items():
            if grade <= 0:
                continue
            if corpus_id not in by_corpus_id:
                missing += 1
                continue
            library.add_check(text, str(by_corpus_id[corpus_id]))
            added += 1
    return added, missing


def cmd_checks(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args, first_run_sample=False) as library:
        if args.action == "import":
            added, missing = import_beir(library, Path(args.dataset), args.split)
            print(f"{added} check(s) from {args.dataset} ({args.split})"
                  + (f"; {missing} judged document(s) are not in the library" if missing else ""))
            return EXIT_OK
        if args.action == "add":
            check_id = library.add_check(args.question, args.expect, generated=args.generated)
            print(f"check {check_id}: {args.question}"
                  + (" (generated)" if args.generated else ""))
            return EXIT_OK
        if args.action == "propose":
            return cmd_propose(args, library)
        if args.action == "remove":
            library.remove_check(args.id)
            print(f"removed check {args.id}")
            return EXIT_OK
        if args.action == "list":
            saved = library.checks()
            if args.json:
                print(json.dumps([{"id": c.id, "question": c.question, "document_id": c.document_id,
                                   "page": c.page, "expected": p.described,
                                   "generated": c.generated} for c, p in saved],
                                 ensure_ascii=False, indent=2))
            for check, place in saved if not args.json else []:
                print(f"{check.id}  {check.question}  -> {place.described}"
                      + ("  (generated)" if check.generated else ""))
            if not saved and not args.json:
                print("No checks: `folio checks add QUESTION --expect DOC[:PAGE]` adds one.",
                      file=sys.stderr)
            return EXIT_OK
        cancel = threading.Event()
        try:
            run = library.run_checks(args.k, SearchMode(args.mode), args.model, cancel=cancel)
        except KeyboardInterrupt:
            cancel.set()
            return EXIT_FAILED
    if args.json:
        print(json.dumps(run_json(run), ensure_ascii=False, indent=2))
    else:
        print("\n".join(run_table(run)))
    return EXIT_OK


def proposals_json(found: Proposals, kept: dict[int, int]) -> dict[str, object]:
    """kept: the check id each kept proposal (by its index in found.proposals) was saved as."""
    return {"document_id": found.document_id, "title": found.title, "model": found.model,
            "notice": found.notice, "eligible_passages": found.eligible,
            "proposals": [{"number": n, "question": p.question, "expect": p.expect,
                           "expected": p.described, "document_id": p.document_id,
                           "page": p.page, "passage_id": p.passage_id, "source": p.source,
                           "excerpt": p.excerpt, "kept_as": kept.get(n)}
                          for n, p in enumerate(found.proposals, start=1)],
            "refused": [{"passage_id": r.passage_id, "page": r.page, "reply": r.reply,
                         "reason": r.reason} for r in found.refused]}


def proposals_lines(found: Proposals, kept: dict[int, int]) -> list[str]:
    how = f"written by {found.model}" if found.model else "from the passages' terms"
    lines = [f"Proposed checks for '{found.title}' ({how}; {found.eligible} passage(s) to ask "
             "about):"]
    if found.notice:
        lines.append(f"  note: {found.notice}")
    for n, p in enumerate(found.proposals, start=1):
        saved = f"  [kept as check {kept[n]}]" if n in kept else ""
        lines.append(f"  {n}. {p.question}  -> {p.described} ({p.source}){saved}")
    if not found.proposals:
        lines.append("  none: no passage of it is long enough or distinctive enough to ask about")
    for r in found.refused:
        reply = " ".join(r.reply.split())[:80]
        lines.append(f"  refused (page {r.page}, {r.reason}): {reply!r}")
    return lines


def chosen_numbers(keep: str, found: Proposals) -> list[int]:
    """The numbers of found's proposals that --keep names ('all', or '1,3')."""
    count = len(found.proposals)
    if keep == "all":
        return list(range(1, count + 1))
    try:
        numbers = [int(part) for part in keep.split(",") if part.strip()]
    except ValueError:
        raise FolioError(f"--keep takes proposal numbers such as 1,3 (not '{keep}').") from None
    wrong = [n for n in numbers if not 1 <= n <= count]
    if wrong:
        had = (f"{count} were shown for '{found.title}' (1 to {count})" if count > 1
               else f"1 was shown for '{found.title}'" if count
               else f"none were shown for '{found.title}'")
        raise FolioError(f"There is no proposal {wrong[0]}: {had}.")
    return numbers


def _progress_line(title: str) -> Callable[[int, int], None] | None:
    """On a terminal, one line on stderr that counts the questions made (a model takes
    seconds for each); None otherwise."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\r'{title}': {done} of {total} questions made", end="", file=sys.stderr,
              flush=True)

    return show


def cmd_propose(args: argparse.Namespace, library: Library) -> int:
    if args.keep is not None:
        return cmd_keep(args, library)
    documents = ([library.resolve(args.document)] if args.document
                 else check_proposals.documents_without_checks(library))
    if not documents:
        print("Every indexed document has checks already: name one (`folio checks propose DOC`).",
              file=sys.stderr)
        return EXIT_OK
    count = check_proposals.DEFAULT_COUNT if args.count is None else args.count
    cancel = threading.Event()
    results: list[Proposals] = []
    try:
        for doc in documents:
            results.append(check_proposals.propose(library, doc, count, not args.no_model,
                                                   args.model,
                                                   progress=_progress_line(doc.title),
                                                   cancel=cancel))
            if sys.stderr.isatty():
                print(file=sys.stderr)  # ends the progress line
    except KeyboardInterrupt:
        cancel.set()
        return EXIT_FAILED
    _print_proposals(args, [(found, {}) for found in results])
    for found in results:  # what --keep will name, now that it is shown
        check_proposals.remember_shown(library, found)
    if any(found.proposals for found in results) and not args.json:
        name = str(documents[0].id) if args.document else "DOC"
        every = f"{name} " if args.document else ""
        print(f"Keep them with `folio checks propose {every}--keep` (all of them) or "
              f"`folio checks propose {name} --keep 1,3` (those numbered), or one at a time with "
              "`folio checks add QUESTION --expect DOC:PAGE --generated`.", file=sys.stderr)
    return EXIT_OK


def cmd_keep(args: argparse.Namespace, library: Library) -> int:
    """--keep: save, as generated checks, proposals that an earlier `folio checks propose`
    showed (the last ones shown for each document), by their numbers there."""
    if args.count is not None or args.no_model or args.model is not None:
        raise FolioError("--keep saves proposals already shown, by their numbers; --count, "
                         "--model and --no-model are for proposing (`folio checks propose "
                         "DOC` without --keep).")
    if args.document:
        doc = library.resolve(args.document)
        found = check_proposals.shown(library, doc)
        if found is None:
            raise FolioError(f"No proposals have been shown for '{doc.title}', so there are none "
                             f"to keep: `folio checks propose {doc.id}` shows some, then "
                             f"`folio checks propose {doc.id} --keep 1,3` keeps those numbered.")
        shown = [found]
    else:
        if args.keep != "all":
            raise FolioError("--keep with numbers needs one document: name it.")
        shown = [found for doc in check_proposals.documents_without_checks(library)
                 if (found := check_proposals.shown(library, doc)) is not None]
        if not shown:
            raise FolioError("No proposals have been shown for the documents without checks, so "
                             "there are none to keep: `folio checks propose` shows some.")
    results = []
    for found in shown:
        numbers = chosen_numbers(args.keep, found)
        check_proposals.keep(library, [found.proposals[n - 1] for n in numbers])
        results.append((found, check_proposals.saved_as(library, found)))
    _print_proposals(args, results)
    return EXIT_OK


def _print_proposals(args: argparse.Namespace, results: list[tuple[Proposals, dict[int, int]]]
                     ) -> None:
    if args.json:
        data = [proposals_json(found, kept) for found, kept in results]
        print(json.dumps(data[0] if args.document else data, ensure_ascii=False, indent=2))
        return
    for found, kept in results:
        print("\n".join(proposals_lines(found, kept)))


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser, open_library: OpenLibrary) -> None:
    diag = sub.add_parser("diagnose", parents=[common],
                          help="why an answer missed the right place: retrieval or the model")
    diag.add_argument("--conversation", type=int, metavar="ID")
    diag.add_argument("--turn", type=int, default=1, metavar="N", help="1 is the first")
    diag.add_argument("--question", help="diagnose a question without an answer")
    diag.add_argument("--expect", required=True, metavar="DOC[:PAGE][#PASSAGE]",
                      help="the document (id or sha256 prefix) and page that answer it, or one "
                           "passage: DOC:PAGE#ID or passage:ID (the app's diagnosis finds passages; "
                           "`folio checks propose --json` gives theirs)")
    diag.add_argument("--no-other-models", action="store_true",
                      help="do not try the other embedding models installed (when the place "
                           "was not retrieved)")
    diag.add_argument("-k", type=int, default=None, help="sources per answer to judge by")
    diag.add_argument("--json", action="store_true")
    diag.set_defaults(func=lambda a: cmd_diagnose(a, open_library))

    checks = sub.add_parser("checks", parents=[common],
                            help="saved questions with the place that answers them")
    actions = checks.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[common], help="keep a check")
    add.add_argument("question", metavar="QUESTION")
    add.add_argument("--expect", required=True, metavar="DOC[:PAGE]")
    add.add_argument("--generated", action="store_true",
                     help="mark it as generated (a proposed check, not a person's question)")
    prop = actions.add_parser("propose", parents=[common],
                              help="questions made from a document's passages, to keep as checks")
    prop.add_argument("document", nargs="?", metavar="DOC",
                      help="id or sha256 prefix (default: every document without checks)")
    prop.add_argument("--count", type=int, default=None,
                      help=f"proposals per document (default {check_proposals.DEFAULT_COUNT})")
    prop.add_argument("--no-model", action="store_true",
                      help="questions from the passages' distinctive terms, without the LLM")
    prop.add_argument("--model", default=None, help="the Ollama model that writes questions")
    prop.add_argument("--keep", nargs="?", const="all", default=None, metavar="N,M",
                      help="save the proposals last shown for the document (all, or those "
                           "numbered) as generated checks; proposes nothing")
    prop.add_argument("--json", action="store_true")
    lst = actions.add_parser("list", parents=[common], help="the saved checks")
    lst.add_argument("--json", action="store_true")
    imp = actions.add_parser("import", parents=[common],
                             help="checks from a BEIR-layout set's judged queries")
    imp.add_argument("dataset", metavar="BEIR_DIR")
    imp.add_argument("--split", default="test")
    rm = actions.add_parser("remove", parents=[common], help="forget a check")
    rm.add_argument("id", type=int)
    run = actions.add_parser("run", parents=[common],
                             help="each check's rank, hit@1/3/5/10 and verdict, and the totals")
    run.add_argument("-k", type=int, default=None, help="sources per answer")
    run.add_argument("--mode", choices=[m.value for m in SearchMode], default="hybrid")
    run.add_argument("--model", default=None,
                     help="also answer each question with this Ollama model: was it cited?")
    run.add_argument("--json", action="store_true")
    checks.set_defaults(func=lambda a: cmd_checks(a, open_library))
