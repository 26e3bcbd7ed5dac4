"""Markdown, plain text and HTML readers: sections, encodings, what is kept and what is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import IngestError
from core.readers.html import read as read_html
from core.readers.markdown import read as read_markdown
from core.readers.text import read as read_text
from core.types import FailureKind

MARKDOWN = """---
title: Field Notes on Lighthouses
author: someone
---

# Keepers

The keeper climbed the stairs
every evening at dusk.

## Lamps

Early lamps burned whale oil. Later ones
used kerosene.

- first item
- second item

```python
def light():

    return "on"
```

| Year | Lamp |
|------|------|
| 1850 | oil  |
| 1900 | kerosene |

Fog signals
-----------

A horn sounded every thirty seconds in fog.
"""


def test_markdown_sections_paragraphs_code_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    result = read_markdown(path, "notes")
    assert result.title == "Field Notes on Lighthouses"
    texts = [p.text for p in result.paragraphs]
    assert "The keeper climbed the stairs every evening at dusk." in texts
    lamp = next(p for p in result.paragraphs if p.text.startswith("Early lamps"))
    assert lamp.headings == ("Keepers", "Lamps")
    assert lamp.text == "Early lamps burned whale oil. Later ones used kerosene."
    code = next(p for p in result.paragraphs if p.kind == "code")
    assert "def light():\n\n    return" in code.text  # the blank line inside stays inside
    table = next(p for p in result.paragraphs if p.kind == "table")
    assert table.text.splitlines()[0] == "| Year | Lamp |"
    assert "| 1900 | kerosene |" in table.text
    fog = next(p for p in result.paragraphs if p.text.startswith("A horn"))
    assert fog.headings == ("Keepers", "Fog signals")  # setext level 2 replaces "Lamps"
    assert not any("title:" in t for t in texts)  # front matter is not content
    # spans point into the source text, for the text viewer's selection
    source = MARKDOWN
    assert source[fog.span[0]:fog.span[1]].startswith("A horn") if fog.span else False


def test_text_paragraphs_by_blank_lines_with_offsets(tmp_path: Path) -> None:
    text = "First para line one\nline two.\n\n\nSecond para.\r\n\r\nThird with hyphen-\nated word."
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode("utf-8"))
    result = read_text(path, "a")
    assert [p.text for p in result.paragraphs] == [
        "First para line one line two.", "Second para.", "Third with hyphenated word."]
    assert result.title == "a"


@pytest.mark.parametrize(("encoding", "note"), [
    ("utf-16", "decoded as utf-16"), ("cp1252", "decoded as cp1252"), ("utf-8-sig", None)])
def test_text_encodings_are_decoded(tmp_path: Path, encoding: str, note: str | None) -> None:
    path = tmp_path / "enc.txt"
    path.write_bytes("Un café déjà vu à Zürich.\n\nSecond paragraphe.".encode(encoding))
    result = read_text(path, "enc")
    assert result.paragraphs[0].text == "Un café déjà vu à Zürich."
    assert (note in result.notes) if note else result.notes == []


def test_utf16_without_bom_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "nobom.txt"
    path.write_bytes("Plain words in UTF-16 little endian.".encode("utf-16-le"))
    assert read_text(path, "x").paragraphs[0].text == "Plain words in UTF-16 little endian."


def test_binary_named_txt_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(IngestError) as info:
        read_text(path, "blob")
    assert info.value.kind is FailureKind.NOT_TEXT
    assert "not a text file" in info.value.message


def test_html_visible_text_only_with_sections_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("""<!doctype html><html><head><title>Tide Tables</title>
<style>p { color: red; } .secretstyle {}</style>
<script>var secretscript = "do not index";</script></head>
<body><h1>Tides</h1><p>High tide comes twice a day.</p>
<h2>Spring tides</h2><p>Spring tides happen at <b>new</b> and full moon.</p>
<table><tr><th>Port</th><th>Range</th></tr><tr><td>Brest</td><td>7 m</td></tr></table>
<noscript>enable javascript</noscript></body></html>""", encoding="utf-8")
    result = read_html(path, "page")
    assert result.title == "Tide Tables"
    texts = [p.text for p in result.paragraphs]
    assert "Spring tides happen at new and full moon." in texts
    spring = next(p for p in result.paragraphs if p.text.startswith("Spring tides happen"))
    assert spring.headings == ("Tides", "Spring tides")
    table = next(p for p in result.paragraphs if p.kind == "table")
    assert table.text == "| Port | Range |\n|---|---|\n| Brest | 7 m |"
    joined = " ".join(texts)
    assert "secretscript" not in joined and "secretstyle" not in joined
    assert "enable javascript" not in joined


def test_join_lines_undoes_hyphenation_but_keeps_real_hyphens() -> None:
    from core.readers.textblocks import join_lines

    assert join_lines(["The main-", "tenance log"]) == "The maintenance log"
    assert join_lines(["Jean-", "Paul wrote"]) == "Jean-Paul wrote"
    assert join_lines(["model BX-", "200"]) == "model BX-200"
    assert join_lines(["soft\u00ad", "ware"]) == "software"
    # 5,000 lines of one paragraph: joined at once (it was quadratic, 100 s for a big page).
    assert len(join_lines(["word " * 40] * 5000)) == 5000 * 200 - 1
