"""Tables read from the page's own words, on real filings (../shared/data/filings) and on pages
made by code: the cells a reader checks, no prose made into a table, and the size bound."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pymupdf
import pytest

from core.readers import layout, paged, tables
from core.types import Rect
from tests.fixtures import tables as fx

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "filings"
real = pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data/filings is absent")


def rows_of(markdown: str) -> list[list[str]]:
    """The rows of a Markdown table (header first, the rule left out) as lists of cells."""
    lines = markdown.split("\n")
    assert re.fullmatch(r"\|(---\|)+", lines[1]), lines[1]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in [lines[0], *lines[2:]]]


def page_tables(path: Path, index: int) -> tuple[list[layout.Block], int]:
    """The tables of one page, and the characters of the words they were made from."""
    with pymupdf.open(path) as doc:
        page = doc[index]
        textpage = page.get_textpage(flags=paged.TEXT_FLAGS)
        found = tables.find_tables(page, textpage, index + 1)
        words = page.get_text("words", textpage=textpage)
    return found, sum(len(w[4]) + 1 for w in words)


def row(table: list[list[str]], label: str) -> list[str]:
    return next(r for r in table if r[0] == label)


def assert_bounded(found: list[layout.Block], word_chars: int) -> None:
    """Pipes and padding only: never much more text than the words the tables are made of."""
    total = sum(len(b.table_text) for b in found)
    assert total <= tables.MAX_GROWTH * word_chars + 64 * len(found), (total, word_chars)


@real
def test_an_income_statement_has_its_header_and_rows() -> None:
    found, chars = page_tables(FILINGS / "APPLE_2022_10K.pdf", 31)  # page 29 of the 10-K
    [table] = found
    cells = rows_of(table.table_text)
    header = cells[0]
    assert len(header) == 4 and header[0] == ""
    assert header[1] == "September 24, 2022"
    assert header[2].endswith("September 25, 2021")
    assert header[3] == "September 26, 2020"
    assert row(cells, "Net income") == ["Net income", "$99,803", "$94,680", "$57,411"]
    assert row(cells, "Research and development") == [
        "Research and development", "26,251", "21,914", "18,752"]
    assert row(cells, "Other income/(expense), net")[1] == "(334)"  # a negative stays one cell
    assert row(cells, "Operating expenses:") == ["Operating expenses:", "", "", ""]
    assert all(len(r) == 4 for r in cells)
    assert_bounded(found, chars)
    assert table.x0 >= 52 and table.y0 < 110 and table.y1 > 540  # the whole statement


@real
def test_percentages_and_dollars_are_joined_to_their_numbers() -> None:
    found, chars = page_tables(FILINGS / "ORACLE_2015_10K.pdf", 58)
    [table] = found
    cells = rows_of(table.table_text)
    header = cells[0]
    assert header[0] == "(Dollars in millions)"
    assert (header[1], header[4].rsplit(" ", 1)[-1], header[7]) == ("2015", "2014", "2013")
    assert row(cells, "Americas")[:8] == ["Americas", "$21,107", "4%", "6%", "$20,323", "3%",
                                          "4%", "$19,719"]
    assert row(cells, "Asia Pacific (2)")[:3] == ["Asia Pacific (2)", "5,739", "-4%"]
    assert row(cells, "Total Revenues by Geography:")[1:] == [""] * 7
    assert_bounded(found, chars)


@real
def test_selected_financial_data_keeps_its_five_years() -> None:
    found, _ = page_tables(FILINGS / "ORACLE_2015_10K.pdf", 39)
    [table] = found
    cells = rows_of(table.table_text)
    assert [h.split(" ")[-1] for h in cells[0][2:]] == ["2014", "2013", "2012", "2011"]
    assert cells[0][1].startswith("2015")
    assert row(cells, "Total assets") == ["Total assets", "$110,903", "$90,266", "$81,745",
                                          "$78,274", "$73,476"]


def test_leaders_go_and_a_two_line_header_is_one_cell() -> None:
    doc = fx.leader_table()
    page = doc[0]
    [table] = tables.find_tables(page, page.get_textpage(), 1)
    cells = rows_of(table.table_text)
    assert cells[0] == ["", "Fiscal 2015", "Fiscal 2014", "Fiscal 2013", "% Change 2015",
                        "% Change 2014"]
    assert cells[1] == ["Subscription", "$409.2", "$335.5", "$278.1", "22%", "21%"]
    assert cells[2] == ["Product", "$1,108.0", "$1,201.3", "$1,310.4", "(8)%", "(8)%"]
    assert "..." not in table.table_text
    assert "moved to the cloud" not in table.table_text  # the sentence below stays text


@real
def test_a_table_continued_on_the_next_page_keeps_its_header() -> None:
    path = FILINGS / "AES_2016_10K.pdf"  # the cash flow statement, pages 154-155 (from 0)
    pages: list[list[layout.Block]] = []
    with pymupdf.open(path) as doc:
        for index in (154, 155):
            page = doc[index]
            textpage = page.get_textpage(flags=paged.TEXT_FLAGS)
            raw = page.get_text("dict", textpage=textpage)
            found = tables.find_tables(page, textpage, index + 1)
            text = tables.outside(layout.blocks_from_dict(raw, index + 1), found)
            pages.append(text + found)
    first = next(b for b in pages[0] if b.kind == "table")
    second = next(b for b in pages[1] if b.kind == "table")
    assert rows_of(second.table_text)[0] == ["", "", "", ""]  # no header of its own
    tables.continue_headers(pages)
    header = rows_of(first.table_text)[0]
    assert header[1] == "2016" and header[3] == "2014"
    cells = rows_of(second.table_text)
    assert cells[0] == header
    assert row(cells, "Cash and cash equivalents, ending") == [
        "Cash and cash equivalents, ending", "$1,305", "$1,257", "$1,517"]
    assert second.chars == len(second.table_text)


def test_a_table_after_a_page_of_prose_is_not_a_continuation() -> None:
    def table(page: int, y0: float, y1: float, header: list[str]) -> layout.Block:
        text = tables.markdown(header, [["Revenue", "1", "2"]])
        return layout.Block(page=page, lines=[], x0=50, y0=y0, x1=500, y1=y1, kind="table",
                            table_text=text)

    def prose(page: int, y0: float) -> layout.Block:
        line = layout.Line(text=fx.PROSE, rect=Rect(page, 50, y0, 500, y0 + 10), size=9,
                           bold=False)
        return layout.Block(page=page, lines=[line], x0=50, y0=y0, x1=500, y1=y0 + 10)

    pages = [[table(1, 400, 740, ["", "2023", "2022"])], [prose(2, 100)],
             [table(3, 60, 300, ["", "", ""])]]
    tables.continue_headers(pages)
    assert rows_of(pages[2][0].table_text)[0] == ["", "", ""]
    pages = [[table(1, 400, 740, ["", "2023", "2022"])], [table(2, 60, 300, ["", "", ""])]]
    tables.continue_headers(pages)
    assert rows_of(pages[1][0].table_text)[0] == ["", "2023", "2022"]


@real
@pytest.mark.parametrize(("name", "index"), [
    ("APPLE_2022_10K.pdf", 30),  # the index of the financial statements: page numbers
    ("ORACLE_2015_10K.pdf", 1),  # the cover page: two-column boxes, check marks
    ("ORACLE_2015_10K.pdf", 14),  # risk factors: prose with numbers in it
    ("APPLE_2022_10K.pdf", 1),  # the table of contents
])
def test_prose_pages_give_no_table(name: str, index: int) -> None:
    found, _ = page_tables(FILINGS / name, index)
    assert found == []


def test_two_column_prose_and_a_list_give_no_table() -> None:
    doc = fx.two_column_prose()
    page = doc[0]
    assert tables.find_tables(page, page.get_textpage(), 1) == []


def test_a_filled_form_is_bounded_and_uses_every_word_once() -> None:
    doc = fx.filled_form()
    assert doc[0].first_widget is not None
    for index in range(doc.page_count):
        page = doc[index]
        textpage = page.get_textpage()
        words = page.get_text("words", textpage=textpage)
        found = tables.find_tables(page, textpage, index + 1)
        assert_bounded(found, sum(len(w[4]) + 1 for w in words))
        text = "\n".join(b.table_text for b in found)
        for value in ("| 1,037.00 |", "| 24,148.00 |", "| Line 24 item 0 |"):
            assert text.count(value) <= 1


def test_a_huge_ruled_grid_is_bounded_and_fast() -> None:
    doc = fx.huge_grid()
    page = doc[0]
    textpage = page.get_textpage()
    words = page.get_text("words", textpage=textpage)
    start = time.process_time()
    found = tables.find_tables(page, textpage, 1)
    assert time.process_time() - start < 1.0
    assert_bounded(found, sum(len(w[4]) + 1 for w in words))
    text = "\n".join(b.table_text for b in found)
    assert text.count("| 2399 |") <= 1 and text.count("| R99 |") <= 1


def test_too_many_words_or_a_passed_deadline_give_no_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    doc = fx.leader_table()
    page = doc[0]
    textpage = page.get_textpage()
    assert tables.find_tables(page, textpage, 1, deadline=time.monotonic() + 60)
    assert tables.find_tables(page, textpage, 1, deadline=time.monotonic() - 1) == []
    monkeypatch.setattr(tables, "MAX_WORDS", 50)
    assert tables.find_tables(page, textpage, 1) == []


@real
def test_reading_a_10k_gives_table_passages_at_the_speed_of_the_text() -> None:
    path = FILINGS / "APPLE_2022_10K.pdf"
    start = time.process_time()
    result = paged.read(path, "apple")
    seconds = time.process_time() - start
    assert result.tables >= 30
    assert seconds < result.page_count / 20  # CPU time: >= 20 pages/s even on a shared machine
    income = [p for p in result.paragraphs
              if p.kind == "table" and "| Net income | $99,803 | $94,680 | $57,411 |" in p.text]
    assert 32 in [p.page for p in income]  # the statement of operations (and two more)
    assert not any("<br>" in p.text for p in result.paragraphs)


@real
@pytest.mark.parametrize(("name", "index"), [
    ("SALESFORCE_2024Q2_EARNINGS.pdf", 1),  # one MuPDF block holds a caption, rows and more
    ("AES_2016_10K.pdf", 103),  # blocks of wrapped labels that reach into a table
])
def test_outside_keeps_every_word_once(name: str, index: int) -> None:
    with pymupdf.open(FILINGS / name) as doc:
        page = doc[index]
        textpage = page.get_textpage(flags=paged.TEXT_FLAGS)
        raw = page.get_text("dict", textpage=textpage)
        blocks = [part for b in layout.blocks_from_dict(raw, index + 1)
                  for part in layout.split_at_gaps(b)]
        found = tables.find_tables(page, textpage, index + 1)
        words = [w[4] for w in page.get_text("words", textpage=textpage)]
    assert found
    kept = tables.outside(blocks, found)
    have = Counter(w for b in kept for w in b.text.split())
    for table in found:
        have.update(table.table_text.replace("|", " ").split())
    alphabetic = Counter(w for w in words if w.isalpha())
    assert {w: n for w, n in alphabetic.items() if have[w] < n} == {}  # none lost
    # dropping whole blocks whose centre lies in a table (the reader's old way) loses words here
    whole = Counter(w for b in blocks if not any(_centre_inside(b, t) for t in found)
                    for w in b.text.split())
    for table in found:
        whole.update(table.table_text.replace("|", " ").split())
    assert any(whole[w] < n for w, n in alphabetic.items())


def _centre_inside(block: layout.Block, table: layout.Block) -> bool:
    cx, cy = (block.x0 + block.x1) / 2, (block.y0 + block.y1) / 2
    return table.x0 - 1 <= cx <= table.x1 + 1 and table.y0 - 1 <= cy <= table.y1 + 1
