"""OCR of scanned pages with MuPDF's built-in Tesseract: only trained data files are needed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pymupdf

from core.errors import IngestError
from core.resources import resource_path
from core.types import FailureKind, ReadOptions

OCR_DPI = 300
IMAGE_COVER_SHARE = 0.5  # a page is a scan when images cover at least half of it


def has_text(page_dict: dict[str, Any]) -> bool:
    return any(span.get("text", "").strip()
               for block in page_dict.get("blocks", []) if block.get("type") == 0
               for line in block.get("lines", []) for span in line.get("spans", []))


def image_share(page: pymupdf.Page) -> float:
    """The share of the page's area that its images cover (0 for a page without images)."""
    area = abs(page.rect) or 1.0
    covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
    return min(1.0, covered / area)


def needs_ocr(page: pymupdf.Page, page_dict: dict[str, Any]) -> bool:
    """Whether page has no text layer but draws an image over most of its area."""
    return not has_text(page_dict) and image_share(page) >= IMAGE_COVER_SHARE


def tessdata_dir(options: ReadOptions) -> Path:
    """The folder holding every language of options.ocr_languages, or IngestError naming the
    missing file."""
    candidates = [Path(options.tessdata_dir)] if options.tessdata_dir else []
    if os.environ.get("TESSDATA_PREFIX"):
        candidates.append(Path(os.environ["TESSDATA_PREFIX"]))
    candidates.append(resource_path("tessdata"))
    languages = [lang for lang in options.ocr_languages.split("+") if lang]
    for folder in candidates:
        if all((folder / f"{lang}.traineddata").is_file() for lang in languages):
            return folder
    missing = [f"{lang}.traineddata" for lang in languages
               if not any((f / f"{lang}.traineddata").is_file() for f in candidates)]
    raise IngestError(FailureKind.NO_TEXT,
                      f"OCR needs {', '.join(missing) or 'the trained data'}, which was not found "
                      f"in {', '.join(str(f) for f in candidates)} (`folio config ocr-data-dir` "
                      "names a folder that has it).")


def textpage(page: pymupdf.Page, options: ReadOptions) -> pymupdf.TextPage:
    """The page's text page made by OCR; keep page referenced while the text page is used."""
    folder = tessdata_dir(options)
    made: pymupdf.TextPage = page.get_textpage_ocr(tessdata=str(folder), language=options.ocr_languages,
                                 dpi=OCR_DPI, full=True)
    return made
