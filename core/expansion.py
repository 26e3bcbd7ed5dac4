"""What the paths given to `add` hold: their files once each, and what their folders passed over."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.readers import SUPPORTED_SUFFIXES


@dataclass(frozen=True)
class Expansion:
    """The files that paths name, and what their folders held besides (for the totals)."""

    files: list[Path]
    unsupported: list[Path]  # files inside folders, of a type Folio does not read
    empty: list[tuple[Path, int]]  # folders that hold no file Folio reads: (folder, unsupported)


def expand(paths: Iterable[Path]) -> Expansion:
    """Every file of paths, once; folders are walked for supported, non-hidden files.

    A file named directly is always tried (an unsupported one then fails with its reason);
    inside a folder, other files are passed over and listed as unsupported (hidden files and
    folders are not: a .git folder is not the user's documents). Symlinked folders are not
    followed.
    """
    seen: set[str] = set()
    files: list[Path] = []
    unsupported: list[Path] = []
    empty: list[tuple[Path, int]] = []
    for path in paths:
        if path.is_dir():
            found = skipped = 0
            for folder, dirs, names in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    candidate = Path(folder) / name
                    supported = candidate.suffix.lower() in SUPPORTED_SUFFIXES
                    found += supported
                    skipped += not supported
                    key = os.path.abspath(candidate)
                    if key not in seen:
                        seen.add(key)
                        (files if supported else unsupported).append(candidate)
            if not found:
                empty.append((path, skipped))
        else:
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                files.append(path)
    return Expansion(files, unsupported, empty)


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """The files of expand(paths)."""
    return iter(expand(paths).files)


def unsupported_reason(path: Path) -> str:
    return (f"Unsupported file type '{path.suffix or path.name}': Folio reads PDF, EPUB, XPS, "
            "FB2, Markdown, text and HTML.")
