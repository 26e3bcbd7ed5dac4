"""The `folio` entry point: the window for `folio` and `folio gui`, the command line otherwise."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GuiOptions:
    library: Path | None = None
    ask: str | None = None
    cite: int | None = None
    screenshot: Path | None = None


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
    return parser


def parse_gui(argv: Sequence[str]) -> GuiOptions:
    args = gui_parser().parse_args(list(argv))
    if args.cite is not None and args.ask is None:
        gui_parser().error("--cite needs --ask")
    return GuiOptions(
        library=Path(args.library).expanduser() if args.library else None,
        ask=args.ask, cite=args.cite,
        screenshot=Path(args.screenshot).expanduser() if args.screenshot else None)


def main(argv: Sequence[str] | None = None) -> int:
    # core reads documents in a spawned subprocess; a frozen (PyInstaller) build needs this.
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] == "gui":
        options = parse_gui(args[1:])
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
