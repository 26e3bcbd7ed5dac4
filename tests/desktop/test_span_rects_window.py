"""The window's strong highlight of a supporting sentence is core's rectangles (core/span_rects.py),
the same `folio ask --json` gives: shown at once from pdfium's text, replaced by core's when the
reader has read the page's words, and core's at once on the next click."""

from __future__ import annotations

from pathlib import Path

from core import span_rects
from core.library import Library
from core.paths import default_library_dir
from tests.desktop.test_span_citations import ask_report, click
from tests.ollama_server import FakeOllama


def test_the_strong_highlight_is_cores_rectangles(qtbot, open_window, docs_dir: Path,
                                                  fake_ollama: FakeOllama, engine) -> None:
    window = open_window(fake_ollama.host)
    answer = ask_report(qtbot, window, docs_dir, fake_ollama)
    span, citation = answer.support[0].spans[0], answer.citations[0]
    with qtbot.waitSignal(window.opening.span_placed, timeout=30_000) as placed:
        click(qtbot, window, "cite:0-1-0")
    rects = placed.args[0]
    with Library.open(default_library_dir(), engine) as library:
        expected = span_rects.SpanPlacer(library).rects(citation.document_id, span,
                                                        citation.rects)
    assert rects == expected and len(rects) == 3  # the sentence's three lines
    view = window.viewer.pdf_view
    assert view.strong == list(rects)
    assert {r.page for r in rects} == {span.page}

    click(qtbot, window, "cite:0-1-1")  # another span: pdfium's, then core's
    click(qtbot, window, "cite:0-1-0")  # the first again: core's at once
    assert view.strong == list(rects)
