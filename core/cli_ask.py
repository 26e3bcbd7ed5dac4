"""The `folio` commands of asking: ask, conversations, models and pull."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable

from core import citations, overview, span_rects
from core.answer_types import (
    Answer,
    AnswerDone,
    AskFailed,
    Citation,
    Progress,
    PullProgress,
    SourcesFound,
    Span,
    Token,
)
from core.errors import FolioError
from core.library import Library

EXIT_OK, EXIT_FAILED = 0, 1
OpenLibrary = Callable[[argparse.Namespace], Library]


def citation_json(c: Citation) -> dict[str, object]:
    return {"n": c.n, "document_id": c.document_id, "title": c.title, "page": c.page,
            "page_label": c.page_label, "text": c.text, "found_by": c.found_by,
            "rects": [{"page": r.page, "x0": r.x0, "y0": r.y0, "x1": r.x1, "y1": r.y1}
                      for r in c.rects]}


def span_json(span: Span) -> dict[str, object]:
    return {"text": span.text, "page": span.page, "score": span.score,
            "supported": span.supported,
            "rects": [{"page": r.page, "x0": r.x0, "y0": r.y0, "x1": r.x1, "y1": r.y1}
                      for r in span.rects]}


def best_spans(a: Answer) -> dict[int, Span]:
    """Per cited source, the best-supported sentence span among the sentences citing it."""
    best: dict[int, Span] = {}
    for sentence in a.support:
        for span in sentence.spans:
            if span.n not in best or span.score > best[span.n].score:
                best[span.n] = span
    return best


def answer_json(a: Answer) -> dict[str, object]:
    t = a.timings
    spans = best_spans(a)
    return {
        "answer": a.text, "mode": a.mode.value, "model": a.model, "complete": a.complete,
        "notice": a.notice, "error_kind": a.error_kind.value if a.error_kind else None,
        "question": a.question, "standalone_question": a.standalone_question,
        "conversation_id": a.conversation_id, "uncited": a.uncited,
        "unknown_citations": list(a.unknown_citations),
        "citations": [{**citation_json(c),
                       "span": span_json(spans[c.n]) if c.n in spans else None}
                      for c in a.citations],
        "support": [{"sentence": s.sentence, "spans": [span_json(x) | {"n": x.n} for x in s.spans],
                     "not_found_in": list(s.not_found_in),
                     "unsupported_numbers": list(s.unsupported_numbers)} for s in a.support],
        "timings": {"retrieval_ms": round(t.retrieval_ms, 1),
                    "request_ms": None if t.request_ms is None else round(t.request_ms, 1),
                    "first_token_ms": None if t.first_token_ms is None else round(t.first_token_ms, 1),
                    "tokens_per_s": None if t.tokens_per_s is None else round(t.tokens_per_s, 1),
                    "total_ms": round(t.total_ms, 1)},
        "prompt_tokens": a.prompt_tokens, "num_ctx": a.num_ctx,
    }


def _sources_footer(answer: Answer) -> str:
    lines = [f"[{c.n}] {c.title}, p. {c.page_display}" for c in answer.citations]
    for s in answer.support:
        for n in s.not_found_in:
            lines.append(f"not found in [{n}]: {citations.strip_markers(s.sentence)}")
        if s.unsupported_numbers:
            lines.append(f"in no cited source: {', '.join(s.unsupported_numbers)} "
                         f"({citations.strip_markers(s.sentence)})")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args) as library:
        conversation = args.conversation
        if args.follow_up and conversation is None:
            kept = library.conversations()
            if not kept:
                raise FolioError("There is no earlier conversation to continue.")
            conversation = kept[0].id
        cancel = threading.Event()
        answer: Answer | None = None
        streamed = False
        try:
            for event in library.ask(args.question, conversation=conversation, model=args.model,
                                     host=args.host, k=args.k, scope=args.doc, cancel=cancel,
                                     whole_document=getattr(args, "whole_document", None)):
                if isinstance(event, Progress) and not args.json:
                    print(event.message, file=sys.stderr, flush=True)
                elif isinstance(event, SourcesFound) and not args.json:
                    if event.standalone_question != args.question.strip():
                        print(f"(searching for: {event.standalone_question})", file=sys.stderr)
                elif isinstance(event, Token) and not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                    streamed = True
                elif isinstance(event, AskFailed):
                    print(f"folio: {event.message}", file=sys.stderr)
                    return EXIT_FAILED
                elif isinstance(event, AnswerDone):
                    answer = event.answer
                    if args.json:  # the supporting sentences' rectangles (core/span_rects.py)
                        answer = span_rects.with_rects(library, answer)
        except KeyboardInterrupt:
            cancel.set()
            print("\nStopped.", file=sys.stderr)
            return EXIT_FAILED
    if answer is None:
        return EXIT_FAILED
    if args.json:
        print(json.dumps(answer_json(answer), indent=2, ensure_ascii=False))
    else:
        if not streamed:
            print(answer.text, end="")
        print()
        if answer.notice:
            print(f"\n{answer.notice}", file=sys.stderr)
        if answer.uncited:
            print("\n(The answer cites no source: check it against the passages.)", file=sys.stderr)
        footer = _sources_footer(answer)
        if footer:
            print("\n" + footer)
    return EXIT_OK if answer.complete else EXIT_FAILED


def cmd_summarise(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    """`folio summarise DOC`: the document section by section (core/overview.py), as `ask`."""
    with open_library(args) as library:
        doc = library.resolve(args.document)
        if args.fresh:
            library.forget_summaries(doc.id)
    question = args.question or overview.SUMMARY_QUESTION.format(title=doc.title)
    return cmd_ask(argparse.Namespace(**{**vars(args), "question": question, "doc": [doc.id],
                                         "k": None, "follow_up": False, "conversation": None,
                                         "whole_document": True}), open_library)


def cmd_conversations(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args) as library:
        if args.show is not None:
            if args.markdown:
                print(library.conversation_markdown(args.show), end="")
                return EXIT_OK
            for turn in library.turns(args.show):
                print(f"Q: {turn.question}\nA: {turn.answer}\n")
            return EXIT_OK
        kept = library.conversations()
    if not kept:
        print("No conversations yet. Ask with: folio ask QUESTION")
    for c in kept:
        print(f"{c.id:>4}  {c.updated_at[:16].replace('T', ' ')}  {c.turns:>2} turns  {c.title}")
    return EXIT_OK


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def cmd_models(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    with open_library(args) as library:
        status = library.ollama_status(args.host)
    if not status.reachable:
        print(status.message, file=sys.stderr)
        return EXIT_FAILED
    if not status.models:
        print(status.message)
        return EXIT_OK
    for m in status.models:
        mark = "*" if m.name == status.model else " "
        kind = "" if m.chat else "  (embedding only: cannot answer)"
        print(f"{mark} {m.name:<32} {m.parameter_size:>6} {_size(m.size_bytes):>8}{kind}")
    print(f"(* answers use {status.model})" if status.model else status.message, file=sys.stderr)
    return EXIT_OK


def cmd_pull(args: argparse.Namespace, open_library: OpenLibrary) -> int:
    last = ""

    def progress(p: PullProgress) -> None:
        nonlocal last
        line = p.status
        if p.total:
            line += f" {100 * p.completed // p.total:>3}% of {_size(p.total)}"
        if line != last:
            end = "\r" if sys.stderr.isatty() else "\n"
            print(line.ljust(len(last)), end=end, file=sys.stderr, flush=True)
            last = line

    cancel = threading.Event()
    with open_library(args) as library:
        try:
            done = library.pull_model(args.model, host=args.host, progress=progress, cancel=cancel)
        except KeyboardInterrupt:
            cancel.set()
            print("\nStopped.", file=sys.stderr)
            return EXIT_FAILED
    print(f"\n{args.model} is installed." if done else "Stopped.", file=sys.stderr)
    return EXIT_OK if done else EXIT_FAILED


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser, open_library: OpenLibrary) -> None:
    host = argparse.ArgumentParser(add_help=False)
    host.add_argument("--host", help="Ollama's address (default: the ollama-host setting, "
                                     "else $OLLAMA_HOST, else http://127.0.0.1:11434)")

    ask = sub.add_parser("ask", parents=[common, host],
                         help="answer a question from the library with a local Ollama model")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--model", help="Ollama model (default: the setting, else the first installed)")
    ask.add_argument("-k", type=int, default=None, help="passages to answer from (default 6)")
    ask.add_argument("--doc", type=int, action="append", metavar="ID",
                     help="answer only from this document (repeatable)")
    ask.add_argument("--json", action="store_true", help="machine-readable output, not streamed")
    follow = ask.add_mutually_exclusive_group()
    follow.add_argument("--continue", dest="follow_up", action="store_true",
                        help="a follow-up to the most recent conversation")
    follow.add_argument("--conversation", type=int, metavar="ID", help="a follow-up in this one")
    ask.set_defaults(func=lambda a: cmd_ask(a, open_library))

    summary = sub.add_parser("summarise", aliases=["summarize"], parents=[common, host],
                             help="summarise a document section by section (summaries are kept)")
    summary.add_argument("document", metavar="DOC", help="a document id or sha256 prefix")
    summary.add_argument("question", metavar="QUESTION", nargs="?",
                         help='what to ask of the whole document (default: a summary), e.g. '
                              '"list every date"')
    summary.add_argument("--model", help="Ollama model (default: the setting, else the first "
                                         "installed)")
    summary.add_argument("--json", action="store_true", help="machine-readable output, not streamed")
    summary.add_argument("--fresh", action="store_true",
                         help="drop the summaries kept for the document and make them again")
    summary.set_defaults(func=lambda a: cmd_summarise(a, open_library))

    conv = sub.add_parser("conversations", parents=[common], help="list kept conversations")
    conv.add_argument("--show", type=int, metavar="ID", help="print one conversation")
    conv.add_argument("--markdown", action="store_true",
                      help="with --show: as Markdown, sources as footnotes with folio:// links")
    conv.set_defaults(func=lambda a: cmd_conversations(a, open_library))

    models = sub.add_parser("models", parents=[common, host], help="list installed Ollama models")
    models.set_defaults(func=lambda a: cmd_models(a, open_library))

    pull = sub.add_parser("pull", parents=[common, host], help="download an Ollama model")
    pull.add_argument("model", metavar="MODEL")
    pull.set_defaults(func=lambda a: cmd_pull(a, open_library))
