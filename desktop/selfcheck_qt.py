"""The Qt part of `folio self-check`: a display for the window, QtPdf rendering a page, and the
binding's signals keeping their references (desktop/qt_workarounds.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QCoreApplication, QSize, qVersion
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
from PySide6.QtPdf import QPdfDocument

from core.resources import resource_path
from core.selfcheck import SAMPLE_PDF, Check, CheckFailed, print_report, run_self_check
from desktop.display import check_display
from desktop.qt_workarounds import emit_drops_a_reference, keep_booleans_alive

RENDER_SIZE = QSize(400, 518)
# The sample's first page is text on white: some pixels are dark, most are not.
MIN_INK, MAX_INK = 0.002, 0.5


def _ensure_gui_app() -> None:
    """QtPdf rasterises with fonts from QtGui, which needs a QGuiApplication (offscreen is enough)."""
    if QCoreApplication.instance() is None:
        # Kept for the life of the process: Qt wants exactly one application object.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        QGuiApplication.setApplicationName("folio-self-check")
        _keep.append(QGuiApplication([sys.argv[0] if sys.argv else "folio"]))


_keep: list[QCoreApplication] = []


def check_qtpdf() -> str:
    _ensure_gui_app()
    path = resource_path(*SAMPLE_PDF)
    doc = QPdfDocument()
    error = doc.load(str(path))
    if error != QPdfDocument.Error.None_:
        raise CheckFailed(f"QPdfDocument could not load {path.name}: {error.name}")
    page = doc.render(0, RENDER_SIZE)
    if page.isNull():
        raise CheckFailed("QPdfDocument.render gave a null image")
    image = _on_white(page)
    ink = _ink_fraction(image)
    if not MIN_INK <= ink <= MAX_INK:
        raise CheckFailed(f"page 1 rendered blank ({ink:.2%} dark pixels)")
    return (f"Qt {qVersion()}, PySide6 {pyside_version}: rendered page 1 of {path.name} "
            f"({doc.pageCount()} pages) at {image.width()}x{image.height()}, {ink:.1%} ink")


def _on_white(page: QImage) -> QImage:
    """The rendered page (transparent where the PDF paints nothing) on white, in grey levels."""
    image = QImage(page.size(), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.drawImage(0, 0, page)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_Grayscale8)


def _ink_fraction(image: QImage) -> float:
    """The share of pixels darker than mid-grey in a Grayscale8 image."""
    stride, height, width = image.bytesPerLine(), image.height(), image.width()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    gray = pixels.reshape(height, stride)[:, :width]
    return float((gray < 128).mean())


def check_signal_references() -> str:
    """Whether a long session can abort on the binding's dropped references, after what the
    app's make_app does about them."""
    if not emit_drops_a_reference():
        return f"PySide6 {pyside_version}: emitting a signal keeps its references"
    if sys.version_info >= (3, 12):
        return (f"PySide6 {pyside_version} drops a reference to True at each emit; Python "
                f"{sys.version_info.major}.{sys.version_info.minor} keeps True immortal")
    if not keep_booleans_alive():
        raise CheckFailed(f"PySide6 {pyside_version} drops a reference to True at each emit and "
                          "this Python cannot be given a reserve: a long session would abort")
    return (f"PySide6 {pyside_version} drops a reference to True at each emit; the window "
            "gives True and False a reserve")


def qt_checks() -> list[Check]:
    return [Check("qtpdf", check_qtpdf), Check("qt-signals", check_signal_references)]


def display_check(env: Mapping[str, str] | None = None) -> Check:
    """Whether the window can open here (a display, the platform plugin's libraries).

    Required where there is a display to open it on; information only where there is none (a
    server used through the command line).
    """
    result = check_display(dict(os.environ if env is None else env))

    def run() -> str:
        if not result.ok:
            raise CheckFailed(result.message)
        return result.message

    return Check("display", run, required=result.has_display)


def main(argv: Sequence[str] = ()) -> int:
    """`folio self-check`: the core checks, the display, QtPdf; prints the report and returns
    the exit code."""
    del argv  # no options yet; taken so that the launcher can pass the rest of the command line
    # Before the QtPdf check, which sets QT_QPA_PLATFORM=offscreen for its own rendering.
    display = display_check()
    results, exit_code = run_self_check([display, *qt_checks()])
    print_report(results, exit_code)
    return exit_code
