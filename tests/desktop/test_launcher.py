"""`folio gui --ask --cite --screenshot` end to end, and the command line staying Qt-free."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from core.library import Library
from desktop.launcher import parse_gui
from tests.fixtures.docs import make_report_pdf
from tests.ollama_server import refused_host

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, folio_home: Path) -> dict[str, str]:
    env = dict(os.environ, FOLIO_HOME=str(folio_home), QT_QPA_PLATFORM="offscreen",
               OLLAMA_HOST=refused_host(), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env  # XDG_CONFIG_HOME: the app's QSettings go to the test's folder


def test_gui_options_parse() -> None:
    options = parse_gui(["--library", "~/lib", "--ask", "q?", "--cite", "2",
                         "--screenshot", "out.png"])
    assert options.ask == "q?" and options.cite == 2 and options.screenshot == Path("out.png")
    assert options.library == Path("~/lib").expanduser()


def test_cli_commands_do_not_load_qt(tmp_path: Path, folio_home: Path) -> None:
    code = ("import sys; from desktop.launcher import main; rc = main(['config']); "
            "assert 'PySide6' not in sys.modules; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env=_env(tmp_path, folio_home), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "embedding-model" in result.stdout


def test_screenshot_of_an_answer_with_a_citation_opened(tmp_path: Path, folio_home: Path,
                                                        docs_dir: Path) -> None:
    with Library.open(folio_home) as library:
        library.add([make_report_pdf(docs_dir).path])
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "desktop.launcher", "gui", "--ask",
         "What did the zorbicon survey find?", "--cite", "1", "--screenshot", str(shot)],
        cwd=ROOT, capture_output=True, text=True, env=_env(tmp_path, folio_home), timeout=120)
    assert result.returncode == 0, result.stderr
    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 300 and image.height() > 200
