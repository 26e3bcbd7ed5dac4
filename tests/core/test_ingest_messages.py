"""What adding says about paths that are not documents: mistyped paths, misnamed files, folders."""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.expansion import expand
from core.library import Library
from core.types import AddStatus, DocStatus
from tests.fixtures.docs import make_report_pdf

NOTE = "# Rope care\n\nDry a wet rope before you coil it, or it will rot from the inside.\n"


def test_a_mistyped_path_is_said_not_found_and_leaves_no_row(library: Library,
                                                             tmp_path: Path) -> None:
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    missing = tmp_path / "rpoe.md"
    inside_a_file = note / "chapter.pdf"  # a file where the path wants a folder
    outcomes = library.add([missing, inside_a_file])
    assert [(o.status, o.reason, o.document_id) for o in outcomes] == [
        (AddStatus.FAILED, "The file was not found.", None)] * 2
    assert library.documents() == []


def test_a_file_that_exists_and_cannot_be_read_stays_a_failed_row(library: Library,
                                                                  tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    [outcome] = library.add([broken])
    assert outcome.status is AddStatus.FAILED and outcome.document_id is not None
    [doc] = library.documents()
    assert doc.status is DocStatus.FAILED and doc.original_path == str(broken)


def test_retrying_a_failed_file_that_is_gone_forgets_its_row(library: Library,
                                                             tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    library.add([broken])
    assert len(library.documents()) == 1
    broken.unlink()
    [outcome] = library.add([broken])
    assert outcome.reason == "The file was not found."
    assert library.documents() == []


def test_a_text_file_named_pdf_is_said_to_be_text(library: Library, tmp_path: Path) -> None:
    text = tmp_path / "notes.pdf"
    text.write_text(NOTE * 3, encoding="utf-8")
    page = tmp_path / "download.pdf"
    page.write_text("<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not found"
                    "</body></html>\n", encoding="utf-8")
    word = tmp_path / "letter.pdf"
    with zipfile.ZipFile(word, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    book = tmp_path / "book.xps"
    with zipfile.ZipFile(book, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    report = make_report_pdf(tmp_path)
    outcomes = library.add([text, page, word, book, report.path])
    reasons = [o.reason for o in outcomes]
    assert reasons[:4] == [
        "This is not a PDF: its first bytes show plain text. Rename it with the .txt ending "
        "to add it.",
        "This is not a PDF: its first bytes show an HTML page. Rename it with the .html ending "
        "to add it.",
        "This is not a PDF: its first bytes show a Word document (.docx). Folio cannot read "
        "this kind of file.",
        "This is not an XPS document: its first bytes show an EPUB book. Rename it with the "
        ".epub ending to add it.",
    ]
    assert outcomes[4].status is AddStatus.ADDED  # a real PDF is still read
    # They exist and could not be read: they are listed, with the reason.
    failed = {d.original_path: d.error for d in library.documents()
              if d.status is DocStatus.FAILED}
    assert failed == {str(p): r for p, r in zip([text, page, word, book], reasons, strict=False)}


def test_a_folder_names_what_it_passed_over(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "rope.md").write_text(NOTE, encoding="utf-8")
    (folder / "letter.docx").write_bytes(b"PK")
    (folder / "sub" / "photo.JPG").write_bytes(b"\xff\xd8\xff")
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / ".git" / "config").write_text("[core]\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden").write_text("x")
    only_others = tmp_path / "others"
    only_others.mkdir()
    (only_others / "sheet.xlsx").write_bytes(b"PK")
    expansion = expand([folder, empty, only_others, folder])
    assert expansion.files == [folder / "rope.md"]
    assert expansion.unsupported == [folder / "letter.docx", folder / "sub" / "photo.JPG",
                                     only_others / "sheet.xlsx"]
    assert expansion.empty == [(empty, 0), (only_others, 1)]


def test_an_xps_whose_content_types_fill_the_first_kib_is_not_refused(tmp_path: Path) -> None:
    """XPS and Office files both start with [Content_Types].xml; when it compresses past the
    first KiB, nothing there says which: the file goes to the reader, not refused."""
    from core.readers import sniff

    book = tmp_path / "scan.xps"
    overrides = "".join(f'<Override PartName="/Documents/1/Pages/{n}.fpage" '
                        f'ContentType="application/vnd.ms-package.xps-fixedpage+xml"/>'
                        for n in range(60))
    with zipfile.ZipFile(book, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", f"<Types>{overrides}</Types>")
        archive.writestr("FixedDocSeq.fdseq", "<FixedDocumentSequence/>")
    head = book.read_bytes()[:1024]
    assert b"FixedDocSeq" not in head
    assert sniff.mismatch("xps", head) is None
    word = tmp_path / "letter.xps"
    with zipfile.ZipFile(word, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert "Word document" in str(sniff.mismatch("xps", word.read_bytes()[:1024]))
