"""The `folio` entry point: the window for `folio` and `folio gui`, the command line otherwise."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.display import check_display

EXIT_NO_WINDOW = 1
EXIT_REFUSED = 2  # a link or file the window is not given (said in a sentence)
LINK_PREFIX = "folio://"  # a deep link (core/export.py): `folio 'folio://open?doc=SHA&page=N'`
FILE_PREFIX = "file://"  # what a file manager passes for %u


def is_link(arg: str) -> bool:
    return arg.lower().startswith(LINK_PREFIX)


def is_document(arg: str) -> bool:
    """A file to open in the window (`folio report.pdf`, as a file manager runs `folio %u` for
    the desktop entry's MIME types): a file:// URL, or a name with a document suffix."""
    from core.readers import SUPPORTED_SUFFIXES

    return arg.lower().startswith(FILE_PREFIX) or (
        not arg.startswith("-") and Path(arg).suffix.lower() in SUPPORTED_SUFFIXES)


LOCAL_HOSTS = ("", "localhost")  # a file URL's host that names this machine


def file_url_path(url: str, windows: bool = sys.platform == "win32") -> str:
    """The local path a file:// URL names, as urllib's url2pathname reads it on Windows
    (windows) or elsewhere: file:///C:/My%20Files/a.pdf is C:\\My Files\\a.pdf on Windows and
    /C:/My Files/a.pdf on Unix, where file:///home/me/a.pdf is /home/me/a.pdf. ValueError,
    with a sentence, for a URL that names a file on another machine (file://host/...: on
    Windows that path would be a network share, which Folio does not reach out to for a link),
    one whose decoded path starts with // or /\\ (file:////host/share/... and
    file:///%5C%5Chost/...: a share again, on Windows \\\\host\\share), one with a backslash
    in its path on Windows (where it is a folder's separator, and a file URL's is /), or one
    that is not a plain path."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.netloc.lower() not in LOCAL_HOSTS:
        raise ValueError(f"{url!r} names a file on another machine ({parts.netloc}): Folio "
                         "opens files on this one (file:///path or file://localhost/path).")
    if "?" in url or "#" in url:
        raise ValueError(f"{url!r} is not a plain file URL: a '?' or '#' in a file's name is "
                         "written %3F or %23.")
    if not parts.path.startswith("/") or "%00" in parts.path:
        raise ValueError(f"{url!r} does not name a file: give file:///path/to/file.")
    if not windows:
        # The bytes of the name, as Unix keeps them (a name that is not UTF-8 as well).
        path = os.fsdecode(urllib.parse.unquote_to_bytes(parts.path))
        _refuse_share(url, path)
        return path
    try:
        path = urllib.parse.unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"{url!r} does not name a file: its name is not UTF-8.") from None
    _refuse_share(url, path)
    if "\\" in path:
        raise ValueError(f"{url!r} has a backslash in its path: a file URL separates folders "
                         "with '/' (file:///C:/folder/file.pdf).")
    # url2pathname on Windows: "/C:/x" or "/C|/x" is the drive's path, the rest backslashed.
    if len(path) >= 3 and path[0] == "/" and path[1].isalpha() and path[2] in ":|" and (
            len(path) == 3 or path[3] == "/"):
        path = path[1] + ":" + path[3:]
    return path.replace("/", "\\")


def _refuse_share(url: str, path: str) -> None:
    """ValueError for a decoded path that starts with two slashes or a slash and a backslash:
    a network share's form (//host/share, \\\\host\\share), which Folio does not reach out to."""
    if path[1:2] in ("/", "\\"):
        raise ValueError(f"{url!r} names a network share (its path starts with // or /\\): "
                         "Folio opens files on this machine (file:///path/to/file).")


def document_path(arg: str) -> Path:
    """The absolute path a document argument names (a file:// URL decoded: file_url_path)."""
    if arg.lower().startswith(FILE_PREFIX):
        return Path(file_url_path(arg))
    return Path(arg).expanduser().absolute()


@dataclass(frozen=True)
class GuiOptions:
    library: Path | None = None
    ask: str | None = None
    cite: int | None = None
    screenshot: Path | None = None
    link: str | None = None  # a folio:// link to open once the library is loaded
    file: Path | None = None  # a document to add to the library (if new) and open


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
    parser.add_argument("target", nargs="?", metavar="folio://open?doc=SHA256&page=N | FILE",
                        help="open this page of a document in the library (a link from an "
                             "answer copied as Markdown), or add this file and open it; given "
                             "to the Folio window already open on the library, if there is one")
    return parser


def parse_gui(argv: Sequence[str]) -> GuiOptions:
    args = gui_parser().parse_args(list(argv))
    if args.cite is not None and args.ask is None:
        gui_parser().error("--cite needs --ask")
    target = args.target
    if target is not None and not is_link(target) and not is_document(target):
        gui_parser().error(f"{target!r} is neither a folio:// link nor a document")
    if target is not None and list(argv)[-1] != target:
        # A link comes from anywhere: on Windows one with a quote in it could add words to the
        # registered `folio.exe "%1"` (`--library \\host\share`). The window's options go
        # before the link or file; nothing is taken after it.
        gui_parser().error(f"nothing may follow {target!r}: give the window's options before it")
    try:
        file = document_path(target) if target is not None and not is_link(target) else None
    except ValueError as exc:  # a file URL Folio does not open, said in a sentence
        gui_parser().error(str(exc))
    return GuiOptions(
        library=Path(args.library).expanduser() if args.library else None,
        ask=args.ask, cite=args.cite,
        screenshot=Path(args.screenshot).expanduser() if args.screenshot else None,
        link=target if target is not None and is_link(target) else None,
        file=file)


GUI_OPTIONS = ("--library", "--ask", "--cite", "--screenshot")  # each takes a value


def _gui_arguments(args: list[str]) -> list[str] | None:
    """The window's options when args ask for the window, else None (a command line command).

    `folio`, `folio gui ...`, the window's options alone (`folio --library DIR`), a folio://
    link (`folio 'folio://open?doc=SHA&page=N'`, as a desktop's URL handler runs it) and a
    single document (`folio report.pdf`, as a file manager runs it) open it.
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
    if is_link(rest[0]) or (len(rest) == 1 and is_document(rest[0])):
        return lead + rest
    return None


def hand_over(options: GuiOptions) -> int | None:
    """Give the link or file (or, with neither, just the window's attention) to the Folio window
    already running on the library: an exit code, or None when this process is to start the
    window. A link of any other shape or a file that is not one is refused with a sentence
    before anything is handed over; a scripted run (--ask, --screenshot) has its own window."""
    if options.ask is not None or options.screenshot is not None:
        return None
    from core.export import LinkError, link_form

    if options.link is not None:
        try:
            link_form(options.link)
        except LinkError as exc:
            print(f"folio: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    if options.file is not None and not options.file.is_file():
        what = "a folder" if options.file.is_dir() else "not there"
        print(f"folio: {options.file} is {what}: Folio opens a document file.", file=sys.stderr)
        return EXIT_REFUSED
    from desktop import single_instance as instance

    request = (instance.Request("link", options.link) if options.link is not None
               else instance.Request("file", str(options.file)) if options.file is not None
               else instance.Request("show"))
    handed = instance.hand_over(instance.server_name(instance.library_root(options.library)),
                                request)
    if handed is instance.Handed.NONE_RUNNING:
        return None
    if handed is instance.Handed.NO_ANSWER:
        print("folio: the Folio window open on this library did not answer; close it and "
              "try again.", file=sys.stderr)
        return EXIT_NO_WINDOW
    return 0


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
        handed = hand_over(options)
        if handed is not None:
            return handed
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
