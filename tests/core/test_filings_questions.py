"""The questions over the real filings stay honest: every answer is on a page it names."""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "tests" / "data" / "filings_questions.jsonl"
FILINGS = ROOT.parent / "shared" / "data" / "filings"
COMPANIES = ("ACTIVSIONBLIZZARD", "AES", "APPLE", "BOSTONPROPERTIES", "EBAY", "FEDEX", "INTEL",
             "MCDONALDS", "ORACLE", "PAYPAL", "PG_E", "SALESFORCE")
KEYS = {"id", "question", "document", "pages", "answer", "kind"}

pytestmark = pytest.mark.skipif(not FILINGS.is_dir(), reason=f"no filings at {FILINGS}")


def normalise(text: str) -> str:
    """Lowercase, NFKC, straight quotes and dashes, no spaces, commas or dollar signs."""
    text = unicodedata.normalize("NFKC", text).lower()
    for curly, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
                         ("\u2014", "-"), ("\u2013", "-")):
        text = text.replace(curly, plain)
    return re.sub(r"[\s,$]+", "", text)


def questions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()]


@cache
def page_count(name: str) -> int:
    import pymupdf

    with pymupdf.open(FILINGS / name) as doc:
        return int(doc.page_count)


def page_text(name: str, page: int) -> str:
    """Only the listed pages are read: the whole corpus is 3,421 pages."""
    import pymupdf

    with pymupdf.open(FILINGS / name) as doc:
        return str(doc[page - 1].get_text())


def test_the_file_covers_the_corpus() -> None:
    rows = questions()
    assert len(rows) >= 60
    assert len({row["id"] for row in rows}) == len(rows), "ids are unique"
    for company in COMPANIES:
        assert any(row["document"].startswith(company + "_") for row in rows), company
    kinds = [row["kind"] for row in rows]
    assert set(kinds) == {"table", "text"}
    assert min(kinds.count("table"), kinds.count("text")) >= len(rows) // 3, "a mix of both"


@pytest.mark.parametrize("row", questions(), ids=lambda row: row["id"])
def test_the_answer_is_on_a_listed_page(row: dict[str, Any]) -> None:
    assert set(row) >= KEYS, KEYS - set(row)
    assert row["question"].strip() and row["answer"].strip()
    places = [(row["document"], row["pages"])]
    places += [(also["document"], also["pages"]) for also in row.get("also", [])]
    found = False
    for name, pages in places:
        assert (FILINGS / name).is_file(), name
        count = page_count(name)
        assert pages and pages == sorted(set(pages)), pages
        assert all(1 <= page <= count for page in pages), (name, pages, count)
        found = found or any(normalise(row["answer"]) in normalise(page_text(name, page))
                             for page in pages)
    assert found, f"{row['answer']!r} is on none of the listed pages"
