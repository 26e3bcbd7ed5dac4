"""Renders resources/icons/folio.svg to folio.png (512 px) with PyMuPDF; run after editing the SVG."""

from __future__ import annotations

from pathlib import Path

import pymupdf

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZE = 512


def main() -> None:
    # PyMuPDF ships no annotations for these calls.
    with pymupdf.open(ICONS / "folio.svg") as svg:  # type: ignore[no-untyped-call]
        page = svg[0]
        zoom = SIZE / page.rect.width
        matrix = pymupdf.Matrix(zoom, zoom)  # type: ignore[no-untyped-call]
        pixmap = page.get_pixmap(matrix=matrix, alpha=True)
    pixmap.save(ICONS / "folio.png")
    print(f"wrote {ICONS / 'folio.png'} ({pixmap.width}x{pixmap.height})")


if __name__ == "__main__":
    main()
