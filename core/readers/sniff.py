"""What a file really is, from its first bytes: a text file renamed .pdf is named, not "damaged"."""

from __future__ import annotations

import re

# Magic numbers of the formats people most often give a wrong name (a download saved as .pdf,
# a Word file renamed): what the file is, and the name that would let Folio read it (or None).
_MAGIC: tuple[tuple[bytes, str, str | None], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF87a", "a GIF image", None),
    (b"GIF89a", "a GIF image", None),
    (b"II*\x00", "a TIFF image", None),
    (b"MM\x00*", "a TIFF image", None),
    (b"\x1f\x8b", "a gzip archive", None),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", None),
    (b"Rar!\x1a\x07", "a RAR archive", None),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document (.doc, .xls or "
     ".ppt)", None),
    (b"{\\rtf", "an RTF document", None),
    (b"%!PS", "a PostScript file", None),
)
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
# Where a paged type's own signature must appear (MuPDF accepts junk before %PDF-, so the
# first KiB is searched; EPUB and XPS are ZIP files; FB2 is XML).
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "epub": (b"PK\x03\x04",),
    "xps": (b"PK\x03\x04",),
    "fb2": (b"<",),
}
_TYPE_NAMES = {"pdf": "a PDF", "epub": "an EPUB book", "xps": "an XPS document",
               "fb2": "an FB2 book"}


def what_it_is(head: bytes) -> tuple[str, str | None] | None:
    """(what the first bytes show, the suffix that reads it or None); None when they say nothing."""
    for magic, name, suffix in _MAGIC:
        if head.startswith(magic):
            return name, suffix
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head)
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "a PDF", ".pdf"
    text = _as_text(head)
    if text is None:
        return None
    start = text.lstrip("\ufeff \t\r\n")[:200].lower()
    if _HTML.search(text.encode("utf-8", "replace")):
        return "an HTML page", ".html"
    if start.startswith("<?xml"):
        if "<fictionbook" in text.lower():
            return "an FB2 book", ".fb2"
        return "an XML file", None
    return "plain text", ".txt"


def mismatch(doc_type: str, head: bytes) -> str | None:
    """A sentence when head shows the file is not the doc_type its name says; None otherwise.

    Only a paged type is checked, and only a positive identification of something else counts:
    bytes that say nothing are left for the reader to try (MuPDF repairs many a broken PDF).
    """
    signatures = _SIGNATURES.get(doc_type)
    if signatures is None:
        return None
    if doc_type in ("epub", "xps") and head.startswith(b"PK\x03\x04"):
        kind, suffix = _zip_kind(head)  # a .docx renamed .epub is a ZIP file too
        if kind == "a ZIP archive" or suffix == f".{doc_type}":
            return None
        return _sentence(doc_type, kind, suffix)
    if any(s in head[:1024] for s in signatures):
        return None
    found = what_it_is(head)
    if found is None:
        return None
    kind, suffix = found
    return _sentence(doc_type, kind, suffix)


def _sentence(doc_type: str, kind: str, suffix: str | None) -> str:
    claimed = _TYPE_NAMES.get(doc_type, doc_type)
    action = (f" Rename it with the {suffix} ending to add it." if suffix is not None
              else " Folio cannot read this kind of file.")
    return f"This is not {claimed}: its first bytes show {kind}.{action}"


def _zip_names(head: bytes) -> list[str]:
    """The entry names of the ZIP local file headers that head holds (the first KiB)."""
    names: list[str] = []
    at = head.find(b"PK\x03\x04")
    while at >= 0 and at + 30 <= len(head):
        name_len = int.from_bytes(head[at + 26:at + 28], "little")
        names.append(head[at + 30:at + 30 + name_len].decode("utf-8", "replace"))
        at = head.find(b"PK\x03\x04", at + 30 + name_len)
    return names


def _zip_kind(head: bytes) -> tuple[str, str | None]:
    """What a ZIP file holds, from the names of its first entries; "a ZIP archive" when they
    say nothing ([Content_Types].xml starts Office files and XPS documents alike)."""
    if b"mimetypeapplication/epub+zip" in head:
        return "an EPUB book", ".epub"
    if b"mimetypeapplication/vnd.oasis.opendocument" in head:
        return "an OpenDocument file (.odt, .ods or .odp)", None
    names = _zip_names(head)
    if any("FixedDocSeq" in n or n.endswith(".fdseq") or n.startswith("Documents/")
           for n in names):
        return "an XPS document", ".xps"
    for prefix, kind in (("word/", "a Word document (.docx)"),
                         ("xl/", "an Excel workbook (.xlsx)"),
                         ("ppt/", "a PowerPoint presentation (.pptx)")):
        if any(n.startswith(prefix) for n in names):
            return kind, None
    return "a ZIP archive", None


def _as_text(head: bytes) -> str | None:
    """head as text when it reads as text (UTF-8, UTF-16 with its BOM, or a one-byte code)."""
    if not head:
        return None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "replace")
    if b"\x00" in head:
        return None
    # Random or compressed bytes are one in eight control codes; text has next to none.
    controls = sum(1 for b in head if (b < 0x20 and b not in b"\t\n\r\f") or b == 0x7F)
    if controls > len(head) // 100:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # the 1 KiB read cut a character in two
            return head[:exc.start].decode("utf-8", "replace")
        return head.decode("cp1252", "replace")  # a one-byte code page
