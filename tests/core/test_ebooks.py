"""EPUB and FB2 through PyMuPDF: chapters become sections; the text is found on its page."""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.library import Library
from core.types import AddStatus

CHAPTER = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>
<body><h1>{title}</h1><p>{body}</p><p>A second paragraph closes the chapter calmly.</p></body>
</html>"""


def make_epub(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>""")
        z.writestr("OEBPS/content.opf", """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Keeper's Year</dc:title>
<dc:identifier id="id">folio-test-1</dc:identifier><dc:language>en</dc:language></metadata>
<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="c2.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>""")
        z.writestr("OEBPS/c1.xhtml", CHAPTER.format(
            title="Winter", body="In winter the keeper trimmed the wick of the glimmerstone lamp."))
        z.writestr("OEBPS/c2.xhtml", CHAPTER.format(
            title="Spring", body="In spring the petrels returned to the cliffs below the tower."))


def test_epub_is_read_with_chapters(library: Library, docs_dir: Path) -> None:
    path = docs_dir / "keeper.epub"
    make_epub(path)
    [outcome] = library.add([path])
    assert outcome.status is AddStatus.ADDED, outcome.reason
    [doc] = library.documents()
    assert (doc.title, doc.doc_type) == ("The Keeper's Year", "epub")
    rows = library.db.execute(
        "SELECT heading_path, text, page_start FROM passages ORDER BY ordinal").fetchall()
    winter = next(r for r in rows if "glimmerstone" in r[1])
    spring = next(r for r in rows if "petrels" in r[1])
    assert winter[0].endswith("Winter") and spring[0].endswith("Spring")
    assert winter[2] < spring[2]  # each chapter starts on a new page of the reflowed book


def test_fb2_is_read(library: Library, docs_dir: Path) -> None:
    path = docs_dir / "tale.fb2"
    path.write_text("""<?xml version="1.0" encoding="utf-8"?>
<FictionBook xmlns="http://www.gribuser.ru/xml/fictionbook/2.0">
<description><title-info><book-title>Harbour Tales</book-title></title-info></description>
<body><section><title><p>The Storm</p></title>
<p>The storm broke the quaymarrow chain on the third night.</p></section></body>
</FictionBook>""", encoding="utf-8")
    [outcome] = library.add([path])
    assert outcome.status is AddStatus.ADDED, outcome.reason
    [(text,)] = library.db.execute("SELECT text FROM passages WHERE text LIKE '%quaymarrow%'")
    assert "The storm broke the quaymarrow chain on the third night." in text
