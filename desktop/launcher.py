"""The `folio` entry point: the window for `folio` and `folio gui`, the command line otherwise."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.display import check_display

EXIT_NO_WINDOW = 1
LINK_PREFIX = "folio://"  # a deep link (core/export.py): `folio 'folio://open?doc=SHA&page=N'`


def is_link(arg: str) -> bool:
    return arg.lower().startswith(LINK_PREFIX)


@dataclass(frozen=True)
class GuiOptions:
    library: Path | None = None
    ask: str | None = None
    cite: int | None = None
    screenshot: Path | None = None
    link: str | None = None  # a folio:// link to open once the library is loaded


def gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folio gui", description="Open the Folio window.")
    parser.add_argument("--library", metavar="DIR",
                        help="library folder (default: the one chosen in Settings, else "
                             "$FOLIO_HOME, else the user data folder)")
    parser.add_argument("--ask", metavar="QUESTION", help="ask this question once the window is up")
    parser.add_argument("--cite", metavar="N", type=int,
                        help="after --ask, open citation N of the answer in the viewer")
    parser.add_argument("--screenshot", metavar="FILE",
                        help="when everything asked for is done, save a PNG of the window and exit")
    parser.add_argument("link", nargs="?", metavar="folio://open?doc=SHA256&page=N",
                        help="open this page of a document in the library (a link from an "
                             "answer copied as Markdown)")
    return parser


def parse_gui(argv: Sequence[str]) -> GuiOptions:
    args = gui_parser().parse_args(list(argv))
    if args.cite is not None and args.ask is None:
        gui_parser().error("--cite needs --ask")
    if args.link is not None and not is_link(args.link):
        gui_parser().error(f"{args.link!r} is not a folio:// link")
    return GuiOptions(
        library=Path(args.library).expanduser() if args.library else None,
        ask=args.ask, cite=args.cite,
        screenshot=Path(args.screenshot).expanduser() if args.screenshot else None,
        link=args.link)


GUI_OPTIONS = ("--library", "--ask", "--cite", "--screenshot")  # each takes a value


def _gui_arguments(args: list[str]) -> list[str] | None:
    """The window's options when args ask for the window, else None (a command line command).

    `folio`, `folio gui ...`, the window's options alone (`folio --library DIR`) and a
    folio:// link (`folio 'folio://open?doc=SHA&page=N'`, as a desktop's URL handler runs it)
    open it.
    """
    lead: list[str] = []
    rest = list(args)
    while rest and rest[0].split("=", 1)[0] in GUI_OPTIONS:
        take = 1 if "=" in rest[0] else 2
        if len(rest) < take:
            return None  # `folio --library` alone: the command line says what is missing
        lead, rest = lead + rest[:take], rest[take:]
    if not rest:
        return lead
    if rest[0] == "gui":
        return lead + rest[1:]
    if is_link(rest[0]):
        return lead + rest
    return None


def main(argv: Sequence[str] | None = None) -> int:
    # core reads documents in a spawned subprocess; a frozen (PyInstaller) build needs this.
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    gui_args = _gui_arguments(args)
    if gui_args is not None:
        options = parse_gui(gui_args)
        display = check_display()
        if not display.ok:  # Qt would abort (exit 134) with a message that misleads
            print(f"folio: {display.message}", file=sys.stderr)
            return EXIT_NO_WINDOW
        # Qt is imported only here, so `folio add` and friends start without it.
        from desktop.app import run

        return run(options)
    if args[:1] == ["self-check"]:  # needs Qt for its QtPdf check, so it is not in core.cli
        from desktop.selfcheck_qt import main as self_check

        return self_check(args[1:])
    from core.cli import main as cli_main

    # None: the command line of this process (core.cli then also restores SIGPIPE's default).
    return cli_main(None if argv is None else args)


if __name__ == "__main__":
    sys.exit(main())
