"""Fixture documents the desktop tests and the GUI benchmark make on the fly."""

from __future__ import annotations

from pathlib import Path

import pymupdf

SENTENCES = [
    "The keeper logged the weather at dawn and again at dusk, noting wind, sea and sky.",
    "Supplies came by boat every second week when the sea allowed a landing at the jetty.",
    "The lamp was trimmed each evening and its lens polished until no smear remained.",
    "Visitors were rare in winter, but summer brought walkers along the cliff path.",
    "The fog signal sounded every thirty seconds while the horizon could not be seen.",
]


def make_long_pdf(directory: Path, pages: int, name: str = "long.pdf") -> Path:
    """A PDF of `pages` pages of plain prose, a few passages a page, each page a bit different."""
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=595, height=842)
        y = 72.0
        for paragraph in range(4):
            text = " ".join(SENTENCES[(number + paragraph + i) % len(SENTENCES)]
                            for i in range(4))
            text = f"Page {number}, entry {paragraph + 1}. {text}"
            rect = pymupdf.Rect(72, y, 523, y + 170)
            page.insert_textbox(rect, text, fontsize=11, fontname="helv")
            y += 180
    path = directory / name
    doc.save(path)
    doc.close()
    return path


def make_titled_pdf(directory: Path, name: str, title: str, pages: int,
                    paragraphs: list[str]) -> Path:
    """A PDF whose metadata title is title, `pages` pages long, the paragraphs on its first page."""
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=595, height=842)
        text = "\n\n".join(paragraphs) if number == 1 else f"Page {number} of {title}."
        page.insert_textbox(pymupdf.Rect(72, 72, 523, 770), text, fontsize=11, fontname="helv")
    doc.set_metadata({"title": title})
    path = directory / name
    doc.save(path)
    doc.close()
    return path
