"""`folio self-check` from the checkout: the real checks pass, and failures say why."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pymupdf
import pytest

from core import selfcheck
from core.selfcheck import Check, CheckFailed, print_report, run_check, run_self_check

REFUSED_HOST = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused


_apps: list[object] = []


@pytest.fixture
def qt_checks() -> list[Check]:
    from PySide6.QtWidgets import QApplication

    from desktop.selfcheck_qt import qt_checks

    if QApplication.instance() is None:
        # A QApplication (not the check's own QGuiApplication) so that widget tests later in this
        # process can reuse it. Not pytest-qt's session qapp: that one is made before the autouse
        # fixture sets QT_QPA_PLATFORM=offscreen, and aborts where there is no display.
        _apps.append(QApplication(["folio-tests"]))
    return qt_checks()


def test_every_required_check_passes_from_the_checkout(qt_checks: list[Check]) -> None:
    results, exit_code = run_self_check(qt_checks, ollama_host=REFUSED_HOST)
    by_name = {r.name: r for r in results}
    assert set(by_name) == {"resources", "sqlite-fts5", "sqlite-vec", "embedding", "pymupdf",
                            "ocr", "ollama", "qtpdf", "qt-signals"}
    failed = [f"{r.name}: {r.detail}" for r in results if r.required and not r.ok]
    assert failed == []
    assert exit_code == selfcheck.EXIT_OK
    assert not by_name["ollama"].required
    assert not by_name["ollama"].ok and "not running" in by_name["ollama"].detail
    assert "PySide6" in by_name["qt-signals"].detail  # which binding, and what was done about it


def test_a_failed_required_check_fails_the_run_with_its_reason() -> None:
    def broken() -> str:
        raise CheckFailed("the widget is missing")

    results, exit_code = run_self_check([Check("widget", broken)], ollama_host=REFUSED_HOST)
    assert exit_code == selfcheck.EXIT_FAILED
    assert (results[-1].ok, results[-1].detail) == (False, "the widget is missing")


def test_an_optional_failure_is_information_and_any_exception_is_a_reason() -> None:
    def crashes() -> str:
        raise ValueError("bad value")

    result = run_check(Check("extra", crashes, required=False))
    assert (result.ok, result.detail) == (False, "ValueError: bad value")
    stream = io.StringIO()
    print_report([result], selfcheck.EXIT_OK, stream)
    report = stream.getvalue()
    assert "[info] extra  ValueError: bad value" in report
    assert report.splitlines()[0].startswith("folio ")
    assert "all required checks passed" in report


def test_resources_are_looked_for_in_the_bundle_when_frozen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    with pytest.raises(CheckFailed, match=r"missing under .*resources: prompts/answer_system.txt"):
        selfcheck.check_resources()


def test_qtpdf_check_fails_on_a_blank_page(
        qt_checks: list[Check], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop.selfcheck_qt

    blank = tmp_path / "sample" / "folio-guide.pdf"
    blank.parent.mkdir()
    with pymupdf.open() as doc:
        doc.new_page()
        doc.save(blank)
    monkeypatch.setattr(desktop.selfcheck_qt, "resource_path", lambda *p: tmp_path.joinpath(*p))
    result = run_check(qt_checks[0])
    assert not result.ok
    assert "rendered blank" in result.detail


def test_ocr_check_reads_a_line_and_names_missing_trained_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.readers.ocr

    assert "eng.traineddata from" in run_check(Check("ocr", selfcheck.check_ocr)).detail
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    monkeypatch.setattr(core.readers.ocr, "resource_path", lambda *p: tmp_path.joinpath(*p))
    result = run_check(Check("ocr", selfcheck.check_ocr))
    assert not result.ok
    assert result.detail.startswith("OCR needs eng.traineddata, which was not found in")
    assert str(tmp_path / "tessdata") in result.detail
