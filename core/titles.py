"""The titles a list shows: never two documents alike without something that tells them apart.

A title comes from the document (its metadata, its file name, a first heading), so two reports
may both be "Chapter 1: Battery Storage". Where titles collide, the list adds the file name, then
the folder it was added from, and as a last resort the document's id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import PurePath

from core.types import Document


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _file_name(doc: Document) -> str:
    return PurePath(doc.original_path).name if doc.original_path else ""


def _folder(doc: Document) -> str:
    return PurePath(doc.original_path).parent.name if doc.original_path else ""


def shown_titles(documents: Sequence[Document]) -> dict[int, str]:
    """Each document's id -> the title to show: its own, with what tells it apart added when
    another document in documents has the same one."""
    shown = {d.id: d.title for d in documents}
    refinements: list[Callable[[Document, str], str]] = [
        lambda d, t: f"{t} ({_file_name(d)})" if _file_name(d) else t,
        lambda d, t: f"{t[:-1]}, {_folder(d)})" if _folder(d) and t.endswith(")") else t,
        lambda d, t: f"{t} #{d.id}",
    ]
    by_id = {d.id: d for d in documents}
    for refine in refinements:
        groups: dict[str, list[int]] = defaultdict(list)
        for doc_id, title in shown.items():
            groups[_key(title)].append(doc_id)
        clashes = [ids for ids in groups.values() if len(ids) > 1]
        if not clashes:
            break
        for ids in clashes:
            for doc_id in ids:
                shown[doc_id] = refine(by_id[doc_id], shown[doc_id])
    return shown
