"""The `folio` command line: the contract scripts depend on (lines, JSON, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main

NOTE = "# Rope care\n\nDry a wet rope before you coil it, or it will rot from the inside.\n"


@pytest.fixture(autouse=True)
def no_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most CLI tests skip the first-run sample so that they assert only their own documents."""
    monkeypatch.setattr("core.library.SAMPLE_FILES", ())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "lib")
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    code, out, _ = run(capsys, "add", str(note), "--library", lib)
    assert code == 0
    assert out.strip() == f"added: {note} — Rope care (1 passages)"
    code, out, _ = run(capsys, "add", str(note), "--library", lib)
    assert (code, out.strip()) == (0, f"already present: {note} — Rope care")
    code, out, _ = run(capsys, "--library", lib, "list", "--json")
    [doc] = json.loads(out)
    assert {k: doc[k] for k in ("id", "title", "type", "pages", "passages", "status", "error",
                                "original_path")} == {
        "id": 1, "title": "Rope care", "type": "markdown", "pages": 1, "passages": 1,
        "status": "indexed", "error": None, "original_path": str(note)}
    assert len(doc["sha256"]) == 64
    code, out, _ = run(capsys, "remove", doc["sha256"][:6], "--library", lib)
    assert code == 0 and out.startswith("removed: 1 Rope care")
    assert note.exists()
    code, out, _ = run(capsys, "list", "--library", lib)
    assert "The library is empty" in out


def test_add_exits_1_when_any_file_failed_and_reports_each(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    missing = tmp_path / "missing.pdf"
    code, out, _ = run(capsys, "add", str(missing), str(note), "--library", str(tmp_path / "l"))
    assert code == 1
    assert out.splitlines() == [
        f"failed: {missing}: The file was not found.",
        f"added: {note} — Rope care (1 passages)",
    ]
    code, out, _ = run(capsys, "list", "--library", str(tmp_path / "l"))
    assert "failed" not in out and str(missing) not in out  # a mistyped path is no document


def test_add_json_prints_one_object_per_file_as_each_is_done(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures.docs import make_report_pdf

    report = make_report_pdf(tmp_path)
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    missing = tmp_path / "missing.pdf"
    lib = str(tmp_path / "l")
    code, out, _ = run(capsys, "add", "--json", str(report.path), str(missing), str(note),
                       "--library", lib)
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    keys = {"path", "status", "document_id", "title", "pages", "passages", "tables", "ocr_pages",
            "read_s", "chunk_s", "embed_s", "reason", "notes"}
    assert all(set(line) == keys for line in lines)
    # In the order given: the small files of a wave are embedded together, then written.
    assert [(line["path"], line["status"]) for line in lines] == [
        (str(report.path), "added"), (str(missing), "failed"), (str(note), "added")]
    pdf, failed, md = lines
    assert failed["reason"] == "The file was not found." and failed["document_id"] is None
    assert (pdf["pages"], pdf["tables"], pdf["ocr_pages"], pdf["reason"]) == (
        report.page_count, 0, 0, None)
    assert pdf["title"] == report.title and pdf["passages"] > md["passages"] == 1
    assert pdf["read_s"] > 0 and pdf["embed_s"] > md["embed_s"] > 0
    _, out, _ = run(capsys, "list", "--json", "--library", lib)
    ids = {doc["original_path"]: doc["id"] for doc in json.loads(out)}
    assert [line["document_id"] for line in lines] == [ids.get(line["path"]) for line in lines]


def test_library_from_folio_home(folio_home: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    assert run(capsys, "add", str(note))[0] == 0
    assert (folio_home / "library.db").exists() and (folio_home / "files").is_dir()


def test_unknown_document_is_a_clear_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "remove", "42", "--library", str(tmp_path / "l"))
    assert code == 1 and "No document with id or sha256 prefix '42'" in err


def test_config_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "l")
    code, out, _ = run(capsys, "config", "--library", lib)
    assert out.splitlines() == ["embedding-model = folio/all-MiniLM-L6-v2-int8",
                                "max-file-mb = 512", "ollama-host = ", "ollama-model = ",
                                "answer-sources = 6", "max-context = 8192",
                                "prompt-sources = brief",
                                "reader-page-timeout-s = 30", "reader-timeout-s = 60",
                                "reader-memory-mb = 2048",
                                "max-text-mb = 32", "ocr = on", "ocr-languages = eng",
                                "ocr-data-dir = ", "keep-permissions = off"]
    assert run(capsys, "config", "ollama-host", "gpu-box:11434", "--library", lib)[0] == 0
    assert run(capsys, "config", "ollama-host", "--library", lib)[1].strip() == "gpu-box:11434"
    code, _, err = run(capsys, "config", "max-context", "100", "--library", lib)
    assert code == 1 and "at least 2048" in err
    assert run(capsys, "config", "max-file-mb", "1", "--library", lib)[0] == 0
    big = tmp_path / "big.txt"
    big.write_text("A line of text about sails.\n\n" * 50_000, encoding="utf-8")
    code, out, _ = run(capsys, "add", str(big), "--library", lib)
    assert code == 1 and "larger than the limit of 1 MB" in out
    code, _, err = run(capsys, "config", "max-file-mb", "lots", "--library", lib)
    assert code == 1 and "whole number" in err


def test_usage_error_exits_2_and_no_arguments_prints_help(tmp_path: Path) -> None:
    folio = [sys.executable, "-m", "core.cli"]
    bad = subprocess.run([*folio, "add"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "PATH" in bad.stderr
    bare = subprocess.run(folio, capture_output=True, text=True, timeout=60)
    assert bare.returncode == 0 and "add" in bare.stdout and "list" in bare.stdout


def test_first_run_indexes_the_sample_guide(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("core.library.SAMPLE_FILES", ("folio-guide.pdf",))
    lib = str(tmp_path / "fresh")
    code, out, err = run(capsys, "list", "--json", "--library", lib)
    assert code == 0
    [doc] = json.loads(out)
    assert (doc["title"], doc["type"], doc["status"]) == ("Folio user guide", "pdf", "indexed")
    assert doc["pages"] >= 4 and doc["passages"] >= 10
    assert "first run" in err
    _code, out, err = run(capsys, "list", "--json", "--library", lib)
    assert len(json.loads(out)) == 1 and err == ""  # only once


def test_an_ollama_host_that_is_not_an_address_is_refused_with_a_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "l")
    code, out, err = run(capsys, "config", "ollama-host", "not a url", "--library", lib)
    assert code == 1 and out == ""
    assert err.strip() == ("folio: 'not a url' is not an Ollama address: use host:port or a URL "
                           "such as http://127.0.0.1:11434.")
    assert run(capsys, "config", "ollama-host", "--library", lib)[1].strip() == ""  # unchanged
    for good in ("localhost", "gpu-box.lan:8080", "http://[::1]:11434", "ollama_server:11434"):
        assert run(capsys, "config", "ollama-host", good, "--library", lib)[0] == 0, good


@pytest.mark.parametrize(("given", "url"), [
    ("gpu-box", "http://gpu-box:11434"),
    ("http://[::1]", "http://[::1]:11434"),
    ("https://ollama.example.com", "https://ollama.example.com:443"),  # a proxy, not :11434
    ("https://ollama.example.com:8443/", "https://ollama.example.com:8443"),
])
def test_an_ollama_host_without_a_port_gets_the_port_its_scheme_means(given: str, url: str) -> None:
    from core.llm import resolve_host

    assert resolve_host(given) == url


def test_search_in_a_document_that_does_not_exist_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "l")
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    assert run(capsys, "add", str(note), "--library", lib)[0] == 0
    code, out, err = run(capsys, "search", "rope", "--doc", "999", "--library", lib)
    assert code == 1 and "Nothing found" not in out
    assert err.startswith("folio: no document 999 in the library at ")
    assert "`folio list` shows the ids" in err
    code, out, _ = run(capsys, "search", "rope", "--doc", "1", "--library", lib)
    assert code == 0 and "Rope care" in out


def _titled_pdf(path: Path, title: str, body: str) -> Path:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), title, fontsize=20)
    page.insert_text((72, 130), body, fontsize=11)
    doc.set_metadata({"title": title})
    doc.save(path)
    doc.close()
    return path


def test_list_tells_apart_documents_with_the_same_title(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18, bug 12: two different reports both titled "Chapter 1: Battery Storage".
    lib = ["--library", str(tmp_path / "l")]
    (tmp_path / "2023").mkdir()
    (tmp_path / "2024").mkdir()
    title = "Chapter 1: Battery Storage"
    first = _titled_pdf(tmp_path / "2023" / "report.pdf", title, "Lead-acid cells dominated.")
    second = _titled_pdf(tmp_path / "2024" / "report.pdf", title, "Lithium cells took over.")
    third = _titled_pdf(tmp_path / "grid.pdf", title, "The grid stored the surplus.")
    other = _titled_pdf(tmp_path / "wind.pdf", "Wind Power", "Turbines turned all winter.")
    assert run(capsys, "add", str(first), str(second), str(third), str(other), *lib)[0] == 0
    code, out, _ = run(capsys, "list", *lib)
    assert code == 0
    shown = [line.split("indexed", 1)[1].strip() for line in out.splitlines()[1:]]
    assert shown == [f"{title} (report.pdf, 2023)", f"{title} (report.pdf, 2024)",
                     f"{title} (grid.pdf)", "Wind Power"]
    docs = json.loads(run(capsys, "list", "--json", *lib)[1])
    assert [d["title"] for d in docs] == [title, title, title, "Wind Power"]
    assert [d["shown_title"] for d in docs] == shown


def test_add_missing_file_says_not_found_exits_1_and_lists_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18, bug 6: a mistyped path became a permanent "failed" row.
    lib = ["--library", str(tmp_path / "l")]
    missing = tmp_path / "reprot.pdf"
    code, out, err = run(capsys, "add", str(missing), *lib)
    assert (code, out) == (1, f"failed: {missing}: The file was not found.\n")
    assert err.splitlines()[-1] == "0 added, 1 failed"
    assert run(capsys, "list", *lib)[1].startswith("The library is empty")


def test_add_folder_counts_what_it_skipped_and_ends_with_totals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18, bug 7: unsupported files were skipped without a word, and there was no totals
    # line. The totals go to stderr: stdout stays one line per file for scripts.
    lib = ["--library", str(tmp_path / "l")]
    folder = tmp_path / "docs"
    folder.mkdir()
    note = folder / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    (folder / "sails.txt").write_text("Reef the sails before the squall.\n", encoding="utf-8")
    for name in ("a.docx", "b.docx", "c.DOCX", "photo.jpg", "README", ".DS_Store"):
        (folder / name).write_bytes(b"PK\x03\x04")
    bad = folder / "broken.pdf"
    bad.write_text("just text", encoding="utf-8")
    assert run(capsys, "add", str(note), *lib)[0] == 0
    code, out, err = run(capsys, "add", str(folder), *lib)
    assert code == 1  # broken.pdf failed
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "failed", "already present", "added"]
    assert err.splitlines()[-1] == ("1 added, 1 already present, 1 failed, 5 skipped: "
                                    "unsupported type (3 .docx, 1 .jpg, 1 without extension)")
    bad.unlink()
    code, _, err = run(capsys, "add", str(folder), *lib)
    assert code == 0 and err.splitlines()[-1].startswith("0 added, 2 already present, 5 skipped")


def test_add_empty_folder_says_so_and_exits_1(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18, bug 7: an empty folder printed nothing and exited 0. It exits 1, as a file that
    # is not there does: the user named it to add documents and nothing came of it.
    lib = ["--library", str(tmp_path / "l")]
    empty = tmp_path / "empty"
    empty.mkdir()
    others = tmp_path / "others"
    others.mkdir()
    (others / "sheet.xlsx").write_bytes(b"PK")
    (others / "slides.pptx").write_bytes(b"PK")
    code, out, err = run(capsys, "add", str(empty), *lib)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"folio: nothing to add from {empty}: the folder is empty.",
                                "0 added"]
    code, out, err = run(capsys, "add", str(others), *lib)
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        f"folio: nothing to add from {others}: none of its 2 files is of a type Folio reads "
        "(PDF, EPUB, XPS, FB2, Markdown, text, HTML).")
    note = tmp_path / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    code, out, err = run(capsys, "add", str(note), str(empty), *lib)
    assert code == 1 and out.startswith("added:") and "nothing to add from" in err


def test_add_json_gives_skipped_files_their_own_lines_and_no_totals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "rope.md").write_text(NOTE, encoding="utf-8")
    (folder / "letter.docx").write_bytes(b"PK")
    code, out, err = run(capsys, "add", "--json", str(folder), "--library", str(tmp_path / "l"))
    assert code == 0 and err == ""
    skipped, added = (json.loads(line) for line in out.splitlines())
    assert set(skipped) == set(added)
    assert (skipped["path"], skipped["status"], skipped["document_id"]) == (
        str(folder / "letter.docx"), "skipped", None)
    assert skipped["reason"].startswith("Unsupported file type '.docx'")
    assert added["status"] == "added"


def test_add_text_renamed_pdf_says_what_it_is(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18, bug 8: it was "damaged beyond repair".
    fake = tmp_path / "minutes.pdf"
    fake.write_text("Minutes of the harbour board.\n\nThe lamp was lit at six.\n",
                    encoding="utf-8")
    code, out, _ = run(capsys, "add", str(fake), "--library", str(tmp_path / "l"))
    assert (code, out) == (1, f"failed: {fake}: This is not a PDF: its first bytes show plain "
                              "text. Rename it with the .txt ending to add it.\n")


def test_config_embedding_model_that_cannot_be_downloaded_fails_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 18, bug 8: offline, the change took 40 s of retries before its error.
    import time

    from tests.core.test_embedding_offline import record_sleeps
    from tests.ollama_server import refused_host

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # not the user's models
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", refused_host())
    lib = ["--library", str(tmp_path / "l")]
    sleeps = record_sleeps(monkeypatch)
    started = time.monotonic()
    code, out, err = run(capsys, "config", "embedding-model", "BAAI/bge-small-en-v1.5", *lib)
    assert [s for s in sleeps if s >= 1] == []  # fastembed's retries sleep 3, 9 and 27 s
    assert time.monotonic() - started < 30  # and no other wait took their place (a busy machine)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        "folio: 'BAAI/bge-small-en-v1.5' is not on this computer yet (a 67 MB download) and "
        "cannot be downloaded now: 127.0.0.1 refused the connection. Connect to the internet "
        "and choose it again; the library keeps its current model.")
    assert run(capsys, "config", "embedding-model", *lib)[1].strip() == "folio/all-MiniLM-L6-v2-int8"
