"""One window per library: a deep link or a file given to `folio` goes to the window already open
on the library (through the launcher's client, desktop/single_instance.py), which opens that
page; a link of another shape is refused before any hand-over; with no window running, the
launcher starts one at the page. The window runs in this process, offscreen; the launcher's
client runs on a thread of its own (it blocks, as it does before a window exists)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QApplication

from core.export import link
from core.paths import default_library_dir
from desktop import launcher, single_instance
from desktop.app import serve
from desktop.forwarded import Forwarded
from desktop.main_window import MainWindow
from tests.desktop.conftest import ANSWER_TIMEOUT_MS, INGEST_TIMEOUT_MS, add_and_wait
from tests.fixtures.docs import make_markdown, make_report_pdf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher reads the app's QSettings for the library folder: the test's, not yours."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def launch(qtbot, *args: str) -> int:
    """`folio ARGS` through the launcher's main, on a thread (the window answers on this one)."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(launcher.main(list(args))))
    thread.start()
    qtbot.waitUntil(lambda: bool(result), timeout=20_000)
    thread.join()
    return result[0]


def serving(qtbot, open_window: Callable[..., MainWindow]) -> tuple[MainWindow, Forwarded]:
    window = open_window()
    return window, serve(window, default_library_dir())


def test_a_link_goes_to_the_running_window_which_opens_its_page(
        qtbot, open_window, docs_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    window, _forwarded = serving(qtbot, open_window)
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    doc = window.documents[0]
    window.showMinimized()
    with qtbot.waitSignal(window.opening.link_opened, timeout=ANSWER_TIMEOUT_MS) as opened:
        assert launch(qtbot, link(doc.sha256, 4)) == 0
    assert opened.args[1] == 4
    assert window.viewer.title() == doc.title and window.viewer.current_page == 4
    assert not window.isMinimized()  # it came forward

    # A link of another shape is refused by the launcher with a sentence: nothing is handed over.
    received: list[object] = []
    window.findChild(single_instance.InstanceServer).received.connect(received.append)
    capfd.readouterr()
    assert launch(qtbot, "folio://open?doc=nothex&page=4") == launcher.EXIT_REFUSED
    assert capfd.readouterr().err == "folio: The link's doc is not the sha256 of a document.\n"
    qtbot.wait(200)
    assert received == [] and window.viewer.current_page == 4

    # A well-formed link to a document the library does not hold: handed over, refused by the
    # window's own parse (core's, with the documents); the page shown stays.
    with qtbot.waitSignal(window.opening.link_refused, timeout=ANSWER_TIMEOUT_MS) as refused:
        assert launch(qtbot, link("0" * 64, 1)) == 0
    assert refused.args[0] == "The document this link names is not in the library."
    assert window.viewer.title() == doc.title and window.viewer.current_page == 4
    window.opening.refusal.close()


def test_the_window_trusts_no_message_on_its_socket(qtbot, open_window) -> None:
    window, _forwarded = serving(qtbot, open_window)
    server = window.findChild(single_instance.InstanceServer)
    name = single_instance.server_name(default_library_dir())
    for junk in (b"rm -rf ~\n", b'{"kind": "run", "value": "/bin/sh"}\n',
                 b'{"kind": "link", "value": 7}\n', b"x" * (single_instance.MAX_MESSAGE + 10)):
        with qtbot.waitSignal(server.rejected, timeout=5_000):
            socket = QLocalSocket()
            socket.connectToServer(name)
            assert socket.waitForConnected(1000)
            socket.write(junk)
            socket.flush()
        socket.abort()
    assert window.viewer.path is None
    assert single_instance.decode(b'{"kind": "show", "value": ""}\n') == single_instance.Request(
        "show")


def test_a_file_goes_to_the_running_window_which_adds_it_once_and_opens_it(
        qtbot, open_window, docs_dir: Path) -> None:
    window, forwarded = serving(qtbot, open_window)
    notes = make_markdown(docs_dir)
    with qtbot.waitSignal(forwarded.file_opened, timeout=INGEST_TIMEOUT_MS) as opened:
        assert launch(qtbot, str(notes)) == 0
    first = opened.args[0]
    window.refresh_documents()
    qtbot.waitUntil(lambda: len(window.documents) == 1, timeout=10_000)
    [doc] = window.documents
    assert doc.id == first and doc.original_path == str(notes)
    qtbot.waitUntil(lambda: window.viewer.title() == doc.title, timeout=10_000)
    window.viewer.clear()
    # Already there by sha256 (a file:// URL, as a file manager passes it): opened, not added.
    with qtbot.waitSignal(forwarded.file_opened, timeout=INGEST_TIMEOUT_MS) as again:
        assert launch(qtbot, notes.as_uri()) == 0
    assert again.args[0] == first
    qtbot.waitUntil(lambda: window.viewer.title() == doc.title, timeout=10_000)
    window.refresh_documents()
    qtbot.wait(300)
    assert len(window.documents) == 1
    assert launch(qtbot, str(docs_dir / "missing.pdf")) == launcher.EXIT_REFUSED


def test_with_no_window_running_the_launcher_starts_one_at_the_page(
        qtbot, docs_dir: Path, folio_home: Path) -> None:
    from core.library import Library

    with Library.open(folio_home) as library:
        library.add([make_report_pdf(docs_dir).path])
        doc = library.documents()[0]
    seen: list[tuple[str, int]] = []

    def windows() -> list[MainWindow]:
        return [w for w in QApplication.topLevelWidgets()
                if isinstance(w, MainWindow) and w.isVisible()]

    def look() -> None:  # runs inside the launcher's app.exec(): closes the window it started,
        # the last one, which ends app.exec() (a QApplication.quit() of its own here would be
        # left over for the next test's event loops)
        if windows() and windows()[0].viewer.current_page == 3:
            seen.append((windows()[0].viewer.title(), windows()[0].viewer.current_page))
            windows()[0].close()
    timer = QTimer()
    timer.timeout.connect(look)
    timer.start(100)
    give_up = QTimer()
    give_up.setSingleShot(True)
    give_up.timeout.connect(lambda: [w.close() for w in windows()])
    give_up.start(60_000)
    assert launcher.main([link(doc.sha256, 3)]) == 0
    timer.stop()
    give_up.stop()
    assert seen == [(doc.title, 3)]
    # the window it started listened on the library's name; closed, nothing answers there
    assert single_instance.hand_over(single_instance.server_name(folio_home),
                                     single_instance.Request("show")) is (
        single_instance.Handed.NONE_RUNNING)


def test_a_link_macos_sends_as_a_file_open_event_opens_its_page(
        qtbot, open_window, docs_dir: Path) -> None:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QFileOpenEvent

    from desktop.forwarded import FileOpenEvents

    window, forwarded = serving(qtbot, open_window)
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    doc = window.documents[0]
    events = FileOpenEvents(forwarded)
    app = QApplication.instance()
    app.installEventFilter(events)
    try:
        with qtbot.waitSignal(window.opening.link_opened, timeout=ANSWER_TIMEOUT_MS):
            QApplication.sendEvent(app, QFileOpenEvent(QUrl(link(doc.sha256, 2))))
        assert window.viewer.current_page == 2
    finally:
        app.removeEventFilter(events)


def test_what_the_desktop_entry_runs_opens_the_window_and_commands_stay_commands() -> None:
    from core.readers import SUPPORTED_SUFFIXES

    entry = (Path(__file__).resolve().parents[2] / "packaging" / "folio.desktop").read_text()
    assert "\nExec=folio %u\n" in entry and "x-scheme-handler/folio;" in entry
    for suffix in SUPPORTED_SUFFIXES:  # `folio FILE`, as a file manager runs it
        assert launcher._gui_arguments([f"/home/me/report{suffix}"]) == [
            f"/home/me/report{suffix}"]
    options = launcher.parse_gui(["file:///home/me/My%20Report.pdf"])
    assert options.file == Path("/home/me/My Report.pdf") and options.link is None
    assert launcher._gui_arguments(["add", "report.pdf"]) is None  # the command line's
    assert launcher._gui_arguments(["list"]) is None


def test_nothing_after_a_link_is_taken_as_the_window_s_options(
        capsys: pytest.CaptureFixture[str]) -> None:
    """On Windows a link with a quote in it could add words to the registered command line
    (`folio.exe "%1"`): a library on another machine's share, say. The window's options go
    before the link; after it, nothing is taken."""
    url = link("a" * 64, 2)
    assert launcher.parse_gui(["--library", "/home/me/lib", url]).library == Path("/home/me/lib")
    for after in ([url, "--library", r"\\host\share"], [url, "--screenshot", "/tmp/x.png"],
                  ["/home/me/report.pdf", "--library", "/elsewhere"]):
        with pytest.raises(SystemExit) as refused:
            launcher.parse_gui(launcher._gui_arguments(after) or after)
        assert refused.value.code == 2
        assert "nothing may follow" in capsys.readouterr().err


def test_the_socket_is_in_a_folder_no_other_user_can_enter(
        qtbot, open_window, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare name is a socket in the shared /tmp, where another user could bind the library's
    (guessable) name first and take this user's links and files."""
    shared = Path(tempfile.mkdtemp(prefix="f"))  # short: a socket's path is at most 107 bytes
    try:
        shared.chmod(0o1777)  # as /tmp
        monkeypatch.setattr(single_instance, "SHARED_TEMP", shared)
        monkeypatch.setattr(single_instance, "RUNTIME_ROOT", shared / "run-user")
        window, _forwarded = serving(qtbot, open_window)
        server = window.findChild(single_instance.InstanceServer)
        socket_path = Path(server.server.fullServerName())
        assert socket_path.exists() and socket_path.parent == shared / f"folio-{os.getuid()}"
        folder = socket_path.parent.stat()
        assert stat.S_ISDIR(folder.st_mode) and folder.st_mode & 0o077 == 0
        assert folder.st_uid == os.getuid()
        assert launch(qtbot, "--library", str(default_library_dir())) == 0  # found there

        # A login's runtime folder (/run/user/UID) is used when it is private, not when others
        # may enter it; nor a folio-UID folder loosened: the library folder (0700) is then,
        # where its path is short enough.
        runtime = shared / "run-user" / str(os.getuid())
        runtime.mkdir(parents=True)
        runtime.chmod(0o755)
        (shared / f"folio-{os.getuid()}").chmod(0o755)
        library = shared / "library"
        library.mkdir(mode=0o700)
        assert Path(single_instance.server_name(library)).parent == library
        runtime.chmod(0o700)
        assert Path(single_instance.server_name(library)).parent == runtime
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def private(folder: Path) -> bool:
    info = folder.lstat()
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and info.st_mode & 0o077 == 0)


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A shared temporary folder (as /tmp: anyone may write, sticky) standing for /tmp, on a
    machine without /run/user (an ssh session, a container, WSL), and the user's cache folder
    in it. Short: a socket's path is at most single_instance.MAX_PATH bytes."""
    folder = Path(tempfile.mkdtemp(prefix="f"))
    folder.chmod(0o1777)
    monkeypatch.setattr(single_instance, "SHARED_TEMP", folder)
    monkeypatch.setattr(single_instance, "RUNTIME_ROOT", folder / "run-user")
    monkeypatch.setattr(single_instance, "user_cache", lambda: folder / "cache")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_folio_uid_folder_another_user_made_first_is_not_used(
        qtbot, open_window, shared: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Another local user makes /tmp/folio-UID (theirs, 0700) before this user's first launch:
    the socket goes in a folder of this user's own, never in theirs, the library folder when
    others may enter it, or the shared /tmp; with none left, the window does not listen."""
    if os.getuid() != 0:
        pytest.skip("giving a folder to another user (os.chown) needs root")
    taken = shared / f"folio-{os.getuid()}"
    taken.mkdir(mode=0o700)
    os.chown(taken, 65534, 65534)  # nobody's
    window = open_window()
    root = default_library_dir()
    root.chmod(0o755)  # others may enter the library folder
    serve(window, root)
    server = window.findChild(single_instance.InstanceServer)
    socket_path = Path(server.server.fullServerName())
    assert socket_path.exists() and socket_path.parent == shared / "cache" / "folio-sockets"
    assert private(socket_path.parent)
    assert launch(qtbot, "--library", str(root)) == 0  # the launcher found it there

    # The cache's folder taken too (another user's): nowhere private is left. The window does
    # not listen and says so; a launch starts a window of its own instead of handing over.
    server.close()
    os.chown(socket_path.parent, 65534, 65534)
    assert single_instance.server_name(root) is None
    capfd.readouterr()
    forwarded = serve(window, root)
    assert capfd.readouterr().err == f"folio: {single_instance.NO_PRIVATE_FOLDER}\n"
    assert forwarded.server is not None and not forwarded.server.server.isListening()
    assert launcher.hand_over(launcher.GuiOptions(library=root)) is None  # start a window


def test_a_library_folder_too_long_for_a_socket_s_path_never_means_a_socket_in_tmp(
        qtbot, shared: Path) -> None:
    """The library folder is private but its socket's path would be too long, and neither the
    runtime folder nor folio-UID is usable: the socket goes in the user's cache folder (the
    launcher finds it there), never under a bare name in the shared temporary folder."""
    (shared / f"folio-{os.getuid()}").mkdir()
    (shared / f"folio-{os.getuid()}").chmod(0o755)  # loosened: not used
    library = shared / ("library-" + "x" * 80)
    library.mkdir(mode=0o700)
    name = single_instance.server_name(library)
    assert name is not None and Path(name).parent == shared / "cache" / "folio-sockets"
    assert len(str(library / Path(name).name).encode()) > single_instance.MAX_PATH
    assert private(Path(name).parent)
    server = single_instance.InstanceServer()
    shown: list[object] = []
    server.received.connect(shown.append)
    try:
        assert server.listen(name)
        assert launch(qtbot, "--library", str(library)) == 0
        assert shown == [single_instance.Request("show")]
        server.close()

        # The cache's folder loosened as well: no name, no socket anywhere, no hand-over.
        Path(name).parent.chmod(0o755)
        assert single_instance.server_name(library) is None
        assert not server.listen(single_instance.server_name(library))
        assert not server.server.isListening()
        assert single_instance.hand_over(single_instance.server_name(library),
                                         single_instance.Request("show")) is (
            single_instance.Handed.NONE_RUNNING)
    finally:
        server.close()
        # Deleted by Qt's event loop, with its connections, not by Python's collector when the
        # test returns (that crashed the next processEvents: a server made here has no parent)
        with qtbot.waitSignal(server.destroyed, timeout=5_000):
            server.deleteLater()


SERVER_NAME = ("import sys; from pathlib import Path; from desktop.single_instance import "
               "server_name; print(server_name(Path(sys.argv[1])))")
HAND_OVER = ("import sys; from pathlib import Path; from desktop import launcher; "
             "print(launcher.hand_over(launcher.GuiOptions(library=Path(sys.argv[1]))))")


def environments(folder: Path) -> dict[str, dict[str, str]]:
    """The environments a launch may come with, besides the window's own: a login session's
    private runtime folder or none, one others may enter, another temporary folder, no
    user name or another one."""
    private = folder / "runtime"
    private.mkdir(mode=0o700)
    loose = folder / "loose"
    loose.mkdir(mode=0o777)
    loose.chmod(0o777)
    other_temp = folder / "temp"
    other_temp.mkdir()
    base = {k: v for k, v in os.environ.items()
            if k not in ("XDG_RUNTIME_DIR", "TMPDIR", "USER", "LOGNAME")}
    return {"no XDG_RUNTIME_DIR": base,
            "a private XDG_RUNTIME_DIR": {**base, "XDG_RUNTIME_DIR": str(private)},
            "a loose XDG_RUNTIME_DIR": {**base, "XDG_RUNTIME_DIR": str(loose)},
            "another TMPDIR": {**base, "TMPDIR": str(other_temp)},
            "another USER": {**base, "USER": "someone", "LOGNAME": "someone"}}


def run_python(code: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_launcher_and_the_window_name_the_socket_alike_in_any_environment(
        tmp_path: Path) -> None:
    """One function names the socket for both, from the library and the user alone: a launch
    whose environment differs from the window's (a file manager's, a browser's) finds it."""
    library = tmp_path / "library"
    here = single_instance.server_name(library)
    launches = {what: run_python(SERVER_NAME, env, str(library))
                for what, env in environments(tmp_path).items()}
    for what, launch_ in launches.items():
        out, err = launch_.communicate(timeout=60)
        assert launch_.returncode == 0, err
        assert out.strip() == here, what


@pytest.mark.parametrize("window_env", ["a private XDG_RUNTIME_DIR", "no XDG_RUNTIME_DIR"])
def test_a_launch_finds_the_window_whichever_of_them_sees_xdg_runtime_dir(
        qtbot, open_window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        window_env: str) -> None:
    envs = environments(tmp_path)
    for key in ("XDG_RUNTIME_DIR", "TMPDIR", "USER", "LOGNAME"):
        if key in envs[window_env]:
            monkeypatch.setenv(key, envs[window_env][key])
        else:
            monkeypatch.delenv(key, raising=False)
    window, _forwarded = serving(qtbot, open_window)
    shown: list[object] = []
    window.findChild(single_instance.InstanceServer).received.connect(shown.append)
    launch_env = envs["a private XDG_RUNTIME_DIR" if window_env == "no XDG_RUNTIME_DIR"
                      else "no XDG_RUNTIME_DIR"]
    launch_ = run_python(HAND_OVER, launch_env, str(default_library_dir()))
    qtbot.waitUntil(lambda: launch_.poll() is not None, timeout=30_000)
    out, err = launch_.communicate()
    assert (launch_.returncode, out.strip()) == (0, "0"), err  # handed over, not None
    assert shown == [single_instance.Request("show")]
