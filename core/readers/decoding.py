"""Decodes the bytes of a text file in whatever encoding it uses, or refuses clearly."""

from __future__ import annotations

import codecs

from core.errors import IngestError
from core.types import FailureKind

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    return bad / len(text)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM has a NUL in every other byte for ASCII-range text."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0) / len(sample[0::2])
    odd_nuls = sample[1::2].count(0) / len(sample[1::2])
    encoding = "utf-16-le" if odd_nuls > 0.4 > even_nuls else (
        "utf-16-be" if even_nuls > 0.4 > odd_nuls else None)
    if encoding is None:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding name); raises IngestError when the bytes are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding.replace("-sig", "")
            except UnicodeDecodeError as exc:
                raise IngestError(FailureKind.NOT_TEXT,
                                  f"The file says it is {encoding} but is not: {exc.reason}.") from exc
    try:
        text = data.decode("utf-8")
        if _control_ratio(text) < 0.01:
            return text, "utf-8"
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(data)
    if utf16 is not None and _control_ratio(utf16) < 0.01:
        return utf16, "utf-16"
    if b"\x00" not in data:
        for encoding in ("cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _control_ratio(text) < 0.01:
                return text, encoding
    raise IngestError(
        FailureKind.NOT_TEXT,
        "This is not a text file: its bytes decode as no known text encoding (binary data?).",
    )
