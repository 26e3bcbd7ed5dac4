"""`folio gui --ask --cite --screenshot` end to end, and the command line staying Qt-free."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from core.library import Library
from desktop.launcher import file_url_path, parse_gui
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


# --- before Qt: a display, the platform plugin's libraries (issue 18, bug 1) ------------------

def _stripped_env(tmp_path: Path, folio_home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any display or platform choice, plus extra."""
    env = {k: v for k, v in _env(tmp_path, folio_home).items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    env.update(extra)
    return env


def _launch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "desktop.launcher", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)


def _missing_xcb_extras() -> list[str]:
    """Which of the xcb plugin's usual extra libraries this machine lacks (by dlopen)."""
    import ctypes

    from desktop.display import XCB_EXTRAS

    missing = []
    for soname in XCB_EXTRAS:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland are Linux's")
def test_no_display_says_so_in_a_sentence_instead_of_aborting(tmp_path: Path,
                                                               folio_home: Path) -> None:
    result = _launch(_stripped_env(tmp_path, folio_home))
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stderr.strip().splitlines() == [
        "folio: Folio cannot open its window because there is no display here (DISPLAY is not "
        "set); the command line works without one (`folio --help`)."]
    # Never a word from Qt: it was not loaded.
    assert "qt.qpa" not in result.stderr and "xcb" not in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux's here")
def test_missing_x11_libraries_are_named_with_the_command_that_installs_them(
        tmp_path: Path, folio_home: Path) -> None:
    # :97 has no X server: with the libraries there, that is what is said; without them,
    # the libraries come first (Qt's xcb plugin would not even load).
    result = _launch(_stripped_env(tmp_path, folio_home, DISPLAY=":97"))
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("folio: Folio cannot open its window because ")
    missing = _missing_xcb_extras()
    if missing:
        from desktop.display import PACKAGES

        for soname in missing:
            apt, dnf, pacman = PACKAGES[soname]
            assert soname in lines[0]
            assert apt in lines[0].split("sudo apt install")[1].split("`")[0]
            assert dnf in lines[0].split("sudo dnf install")[1].split("`")[0]
            assert pacman in lines[0].split("sudo pacman -S")[1].split("`")[0]
        # Qt's own message blames libxcb-cursor0 whatever is missing: Folio names the right ones.
        assert ("libxcb-cursor" in lines[0]) == ("libxcb-cursor.so.0" in missing)
    else:
        assert "no X server answers at DISPLAY=:97" in lines[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd is Linux's")
def test_without_ldd_the_libraries_are_found_by_dlopen(monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop import display

    plugin = display.plugin_path("xcb")
    assert plugin is not None
    with_ldd = [s for s in display.missing_libraries(plugin) if s in display.XCB_EXTRAS]
    monkeypatch.setenv("PATH", "")  # no ldd to run: the usual suspects are dlopen'ed
    assert display.missing_libraries(plugin) == _missing_xcb_extras()
    assert sorted(with_ldd) == sorted(_missing_xcb_extras())


def test_a_chosen_headless_platform_or_another_system_needs_no_display() -> None:
    from desktop.display import check_display

    assert check_display({"QT_QPA_PLATFORM": "offscreen"}, "linux").ok
    assert check_display({}, "darwin").ok and check_display({}, "win32").ok
    wayland = check_display({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, "linux")
    assert not wayland.ok and not wayland.has_display
    assert "QT_QPA_PLATFORM=wayland (WAYLAND_DISPLAY is not set)" in wayland.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland are Linux's")
def test_self_check_reports_the_display(tmp_path: Path, folio_home: Path) -> None:
    from desktop.selfcheck_qt import display_check

    none = display_check(_stripped_env(tmp_path, folio_home))
    assert not none.required  # a server used through the command line is not broken
    with pytest.raises(Exception, match="there is no display here"):
        none.run()
    x11 = display_check(_stripped_env(tmp_path, folio_home, DISPLAY=":97"))
    assert x11.required
    with pytest.raises(Exception, match="cannot open its window"):
        x11.run()
    assert "offscreen" in display_check({"QT_QPA_PLATFORM": "offscreen"}).run()


# --- `folio --library DIR` opens the window on DIR (issue 18, bug 3) -----------------------

def test_library_option_alone_opens_the_window_on_that_library(tmp_path: Path,
                                                               folio_home: Path) -> None:
    library = tmp_path / "elsewhere"
    shot = tmp_path / "shot.png"
    result = _launch(_env(tmp_path, folio_home), "--library", str(library), "--screenshot",
                     str(shot))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usage:" not in result.stdout
    assert (library / "library.db").is_file() and not folio_home.exists()
    assert not QImage(str(shot)).isNull()


# --- file:// URLs: this machine's files, on each platform's terms --------------------------

@pytest.mark.parametrize(("url", "unix", "windows"), [
    ("file:///home/me/My%20Report.pdf", "/home/me/My Report.pdf", r"\home\me\My Report.pdf"),
    ("file://localhost/home/me/notes.md", "/home/me/notes.md", r"\home\me\notes.md"),
    ("file://LocalHost/home/me/notes.md", "/home/me/notes.md", r"\home\me\notes.md"),
    ("file:///C:/Users/me/My%20Report.pdf", "/C:/Users/me/My Report.pdf",
     r"C:\Users\me\My Report.pdf"),
    ("file:///c|/Users/me/old.pdf", "/c|/Users/me/old.pdf", r"c:\Users\me\old.pdf"),
    ("file:///home/me/caf%C3%A9%20%2315%3F.pdf", "/home/me/café #15?.pdf",
     r"\home\me\café #15?.pdf"),
])
def test_a_file_url_names_the_path_each_platform_reads_it_as(url: str, unix: str,
                                                            windows: str) -> None:
    """As urllib's url2pathname reads it on Windows and elsewhere (a drive letter's URL is
    /C:/... on Unix, where that is a real path, and C:\\... on Windows)."""
    assert file_url_path(url, windows=False) == unix
    assert file_url_path(url, windows=True) == windows
    assert parse_gui([url]).file == Path(unix if sys.platform != "win32" else windows)


def test_a_file_name_that_is_not_utf8_keeps_its_bytes_on_unix() -> None:
    path = file_url_path("file:///home/me/caf%E9.pdf", windows=False)
    assert os.fsencode(path) == b"/home/me/caf\xe9.pdf"
    with pytest.raises(ValueError, match="its name is not UTF-8"):
        file_url_path("file:///C:/caf%E9.pdf", windows=True)


@pytest.mark.parametrize(("url", "says"), [
    ("file://fileserver/share/report.pdf",
     "'file://fileserver/share/report.pdf' names a file on another machine (fileserver): "
     "Folio opens files on this one (file:///path or file://localhost/path)."),
    ("file://attacker.example/x/report.pdf", "names a file on another machine "
                                             "(attacker.example)"),
    ("file://localhost:8080/home/me/report.pdf", "on another machine (localhost:8080)"),
    ("file:///home/me/report.pdf#page=3", "is not a plain file URL"),
    ("file:///home/me/report%00.pdf", "does not name a file"),
    # No host, but a share's path: \\\\fileserver\\share\\r.pdf on Windows, reached over SMB.
    ("file:////fileserver/share/r.pdf",
     "'file:////fileserver/share/r.pdf' names a network share (its path starts with // or "
     "/\\): Folio opens files on this machine (file:///path/to/file)."),
    ("file://localhost//fileserver/share/r.pdf", "names a network share"),
    ("file:///%2F%2Ffileserver/share/r.pdf", "names a network share"),
    ("file:///%5C%5Cfileserver/share/r.pdf", "names a network share"),
    ("file:///%5Cfileserver/share/r.pdf", "names a network share"),
])
def test_a_file_url_that_is_not_a_plain_local_path_is_refused_with_a_sentence(
        url: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        parse_gui([url])
    assert refused.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("url", [
    "file:////fileserver/share/r.pdf", "file:///%5C%5Cfileserver/share/r.pdf",
    "file:///C:/Users/me/..%5C..%5C%5C%5Cfileserver%5Cshare%5Cr.pdf",
    "file:///C:%5CUsers%5Cme%5Cr.pdf",
])
def test_on_windows_no_file_url_becomes_a_share_or_a_backslashed_path(url: str) -> None:
    """On Windows a backslash is a folder's separator (a file URL's is /), and \\\\host\\share
    a network share; as url2pathname would read these URLs there, each is refused."""
    with pytest.raises(ValueError, match=r"names a network share|has a backslash in its path"):
        file_url_path(url, windows=True)
