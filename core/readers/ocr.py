"""OCR of scanned pages with MuPDF's built-in Tesseract: only trained data files are needed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf

from core.errors import IngestError
from core.resources import resource_path
from core.types import FailureKind, ReadOptions

# The page is rendered for Tesseract at its scan's own resolution, within these bounds: resampling
# a scan hurts. Character error rates on tests/fixtures/scans.py pages (text tilted 1-3 degrees,
# grey noise), by scan resolution and OCR resolution:
#   300 dpi scan: 0.04% at 300, 0.00% at 200      200 dpi scan: 0.24% at 200, 7.3% at 300
#   150 dpi scan: 0.05% at 150, 3.2% at 200, 11% at 300      100 dpi scan: 0.6% at 100, 9.7% at 150
# (upsampled noise turns into specks that Tesseract reads as punctuation). A finer scan is read at
# 300 dpi, which already reads 11 pt text without errors: more would cost time and memory (2.3 s
# CPU a page at 300 dpi, 1.9 at 200, on this shared machine at load average 19).
OCR_MAX_DPI = 300
OCR_MIN_DPI = 100
# A page without any text is a scan when its images cover this share of it. Not half: a receipt,
# a card or a cutting scanned onto a page is the page's only content and is read as well.
IMAGE_COVER_SHARE = 0.05
# A page whose ink lines up in columns more than in rows holds text turned a quarter (fed into
# the scanner sideways): MuPDF's Tesseract does not turn pages and reads such text as noise.
SIDEWAYS_RATIO = 1.3
GOOD_WORDS_SHARE = 0.8  # a reading with this share of word-like characters is kept at once
OCR_BODY_SIZE = 11.0  # the body size every OCR'd page is given (see even_sizes)
EVEN_SIZE_SHARE = 0.2  # OCR's size guesses for one body size spread about +-10% here
_PROFILE_DPI = 40
_WORDLIKE = re.compile(r"^[\"'(\[]*[^\W\d_]{2,}[.,;:!?'\")\]]*$")


def has_text(page_dict: dict[str, Any]) -> bool:
    return any(span.get("text", "").strip()
               for block in page_dict.get("blocks", []) if block.get("type") == 0
               for line in block.get("lines", []) for span in line.get("spans", []))


def image_share(page: pymupdf.Page) -> float:
    """The share of the page's area that its images cover (0 for a page without images)."""
    area = abs(page.rect) or 1.0
    covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
    return min(1.0, float(covered) / area)


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


def scan_dpi(page: pymupdf.Page) -> int:
    """The resolution of the page's largest image as drawn (pixels per inch), within bounds."""
    best, dpi = 0.0, float(OCR_MAX_DPI)
    for info in page.get_image_info():
        bbox = pymupdf.Rect(info["bbox"])
        if bbox.is_empty or not info.get("width") or not info.get("height"):
            continue
        # Rotation-proof: pixels per area, whichever way the image is turned on the page.
        scale = (info["width"] * info["height"] / abs(bbox)) ** 0.5 * 72
        if abs(bbox) > best:
            best, dpi = abs(bbox), scale
    return round(min(OCR_MAX_DPI, max(OCR_MIN_DPI, dpi)))


def _spread(profile: np.ndarray) -> float:
    """How unevenly ink falls along a profile (std / mean over its inked stretch)."""
    inked = np.nonzero(profile > 0.02 * profile.max())[0]
    if profile.max() <= 0 or len(inked) < 2:
        return 0.0
    part = profile[inked[0]:inked[-1] + 1]
    return float(part.std() / (part.mean() + 1e-6))


def looks_sideways(page: pymupdf.Page) -> bool:
    """Whether the page's ink forms columns rather than rows (text turned a quarter).

    Measured in four strips each way, so that a slight tilt does not smear the lines together.
    """
    pix = page.get_pixmap(dpi=_PROFILE_DPI, colorspace=pymupdf.csGRAY, alpha=False)
    ink = 255 - np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
    ink = np.clip(ink.astype(np.float32) - float(np.median(ink)), 0, None)
    rows = np.mean([_spread(s.mean(axis=1)) for s in np.array_split(ink, 4, axis=1)])
    cols = np.mean([_spread(s.mean(axis=0)) for s in np.array_split(ink, 4, axis=0)])
    return bool(cols > SIDEWAYS_RATIO * max(float(rows), 1e-6))


def words_share(page: pymupdf.Page, textpage: pymupdf.TextPage) -> tuple[float, int]:
    """The share of read characters that are in word-like words, and their number."""
    words = [w[4] for w in page.get_text("words", textpage=textpage)]
    total = sum(len(w) for w in words)
    good = sum(len(w) for w in words if _WORDLIKE.match(w))
    return (good / total if total else 0.0), good


def even_sizes(page_dict: dict[str, Any], body_size: float = OCR_BODY_SIZE) -> dict[str, Any]:
    """page_dict (of an OCR text page), changed in place so that its body text is body_size.

    Tesseract guesses each line's font size from its height: one 11 pt body was read as 13.5
    to 15.7 pt on one page and about 12 on another, so a size-based heading finder took random
    lines, or every line of a page, for headings. A size within EVEN_SIZE_SHARE of the page's
    body size (the size of most of its characters) becomes body_size; others are scaled alike,
    so a heading set larger than the body stays larger.
    """
    spans = [span for block in page_dict.get("blocks", []) if block.get("type") == 0
             for line in block.get("lines", []) for span in line.get("spans", [])]
    weights: dict[float, int] = {}
    for span in spans:
        size = round(float(span.get("size", 0.0)), 1)
        weights[size] = weights.get(size, 0) + len(span.get("text", "").strip())
    total = sum(weights.values())
    if not total:
        return page_dict
    running, page_body = 0, 0.0
    for size in sorted(weights):  # the weighted median: robust to a few big or small guesses
        running += weights[size]
        if 2 * running >= total:
            page_body = size
            break
    if page_body <= 0:
        return page_dict
    for span in spans:
        size = float(span.get("size", 0.0))
        span["size"] = (body_size if abs(size - page_body) <= EVEN_SIZE_SHARE * page_body
                        else round(size * body_size / page_body, 1))
    return page_dict


def _ocr(page: pymupdf.Page, folder: Path, options: ReadOptions, dpi: int) -> pymupdf.TextPage:
    # full=True: the whole page is rendered and read, as the reader sees it (the images with
    # whatever is drawn over them). full=False reads image by image, which is slower here and
    # reads the same on scans, which have no text for it to keep.
    made: pymupdf.TextPage = page.get_textpage_ocr(
        tessdata=str(folder), language=options.ocr_languages, dpi=dpi, full=True)
    return made


def textpage(page: pymupdf.Page, options: ReadOptions) -> pymupdf.TextPage:
    """The page's text page made by OCR; keep page referenced while the text page is used.

    Word rectangles are in the page's unrotated coordinates, as for a page's own text. A page
    that looks sideways is read turned each way a quarter and the reading with the most
    word-like text is kept.
    """
    folder = tessdata_dir(options)
    dpi = scan_dpi(page)
    if not looks_sideways(page):
        return _ocr(page, folder, options, dpi)
    original = page.rotation
    readings: list[tuple[float, int, pymupdf.TextPage]] = []
    for turn in (90, 270, 0):
        try:
            page.set_rotation((original + turn) % 360)  # in memory only: the file is not saved
        except (RuntimeError, ValueError):  # a document that cannot be changed: read it as it is
            break
        try:
            made = _ocr(page, folder, options, dpi)
        finally:
            page.set_rotation(original)
        share, good = words_share(page, made)
        readings.append((share, good, made))
        if share >= GOOD_WORDS_SHARE:
            break
    if not readings:
        return _ocr(page, folder, options, dpi)
    return max(readings, key=lambda r: (r[1], r[0]))[2]
