"""One window per library: `folio LINK` or `folio FILE` hands its request to the window already
running on that library (a local socket named from the library's folder and the user), which
raises itself and acts on it; when none runs, the launcher starts the window itself.

What comes through the socket is not trusted: only this user can connect (the socket's
permissions, in a folder only this user can enter: socket_folder), a message is one line of
JSON of at most MAX_MESSAGE bytes naming one of KINDS,
and the window checks it again as if it came from the command line: a link goes through core's
strict parser (core/export.py) with the library's documents, a file must be an existing file.
The launcher refuses a malformed link before any hand-over, so the window never sees it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

KINDS = ("link", "file", "show")  # open a folio:// link, add/open a file, just come forward
MAX_MESSAGE = 16 * 1024  # a link or a path; anything longer is not Folio's launcher talking
CONNECT_MS = 1000
ANSWER_MS = 5000  # the window acknowledges at once; this only bounds a window that hangs
ACK = b"ok\n"
WAIT_SLICE_MS = 20
MAX_PATH = 90  # of a socket's path: Unix allows 107 bytes, and Qt adds a suffix while binding
ORGANIZATION = APPLICATION = "Folio"  # the app's names (desktop/app.py), so its QSettings


@dataclass(frozen=True)
class Request:
    kind: str
    value: str = ""


class Handed(Enum):
    HANDED = "handed"  # the running window has the request
    NONE_RUNNING = "none running"  # start a window
    NO_ANSWER = "no answer"  # a window listens but did not take it


# Where the socket's folder is looked for (module names so a test can point them elsewhere).
RUNTIME_ROOT = Path("/run/user")  # the login manager's private folder per user, /run/user/UID
SHARED_TEMP = Path("/tmp")


def server_name(root: Path) -> str:
    """The local socket's name for a library folder and this user: the one function the
    launcher (to hand over) and the window (to listen) both call. It reads nothing from the
    environment: the launcher runs in whatever environment the file manager, browser or
    terminal gives it, the window in its own, and $XDG_RUNTIME_DIR, $TMPDIR or $USER set for
    one and not the other would give them different names (the launcher would not find the
    window and start a second one). Short enough for a Unix socket path, no characters a file
    name or a Windows pipe name cannot hold: a path in socket_folder() where there is one,
    else in the library folder itself (0700) when that path is short enough, else a bare
    name (Qt's temporary folder)."""
    root = root.expanduser().resolve()
    key = f"{_user()}\0{root}".encode()
    name = "folio-" + hashlib.sha256(key).hexdigest()[:32]
    if os.name != "posix" or sys.platform == "darwin":
        return name
    for folder in (socket_folder(), root):
        if folder is not None and len(str(folder / name).encode()) <= MAX_PATH:
            return str(folder / name)
    return name


def _user() -> str:
    """This user, as the system knows them (not $USER or $LOGNAME, which a launch may lack or
    set otherwise): the uid on Unix, the account's name on Windows."""
    if hasattr(os, "getuid"):
        return str(os.getuid())
    try:
        return os.getlogin()  # Windows: the account of the process, not %USERNAME%
    except OSError:
        return getpass.getuser()


def socket_folder() -> Path | None:
    """A folder only this user can enter, for the socket, on Unix other than macOS: a bare
    name is a socket in /tmp, where another user could bind the (guessable) name first, take
    every link and file this user's launches hand over, acknowledge them, and keep this user's
    window from listening. /run/user/UID (what $XDG_RUNTIME_DIR names in a login session; not
    read from it, see server_name) where it is this user's and private, else folio-UID in
    /tmp (made 0700; not used unless it is this user's and private; /tmp, not $TMPDIR, for
    the same reason). None on macOS (Qt's temporary folder is the user's own) and Windows (a
    named pipe, not a file)."""
    if os.name != "posix" or sys.platform == "darwin":
        return None
    runtime = RUNTIME_ROOT / str(os.getuid())
    if _private_folder(runtime):
        return runtime
    folder = SHARED_TEMP / f"folio-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder if _private_folder(folder) else None


def _private_folder(path: Path) -> bool:
    """A real folder (not a link) of this user's that no one else may enter or write."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and info.st_mode & 0o077 == 0)


def library_root(library: Path | None) -> Path:
    """The library folder a window started now would open: the one given, else the one chosen
    in Settings (the app's QSettings), else $FOLIO_HOME or the user data folder."""
    if library is not None:
        return library
    from desktop.loading import library_dir

    value = QSettings(ORGANIZATION, APPLICATION).value("library/folder", "")
    return library_dir(value if isinstance(value, str) else "")


def encode(request: Request) -> bytes:
    return json.dumps({"kind": request.kind, "value": request.value}).encode() + b"\n"


def decode(data: bytes) -> Request | None:
    """The request in one line the launcher wrote, or None for anything else."""
    if len(data) > MAX_MESSAGE or not data.endswith(b"\n") or data.count(b"\n") != 1:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if (not isinstance(value, dict) or set(value) != {"kind", "value"}
            or value["kind"] not in KINDS or not isinstance(value["value"], str)):
        return None
    return Request(value["kind"], value["value"])


def hand_over(name: str, request: Request, connect_ms: int = CONNECT_MS,
              answer_ms: int = ANSWER_MS) -> Handed:
    """Give request to the window listening on name (blocking: the launcher has no event loop
    yet; a test runs it on a thread of its own)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(connect_ms):
        return Handed.NONE_RUNNING
    try:
        socket.write(encode(request))
        socket.flush()
        reply = b""
        waited = 0
        # In short waits: PySide holds the GIL in a waitFor call, so a window in this same
        # process (a test's) could not answer during one long wait.
        while len(reply) < len(ACK) and waited < answer_ms:
            if socket.waitForReadyRead(WAIT_SLICE_MS):
                reply += bytes(socket.readAll().data())
            elif socket.state() is not QLocalSocket.LocalSocketState.ConnectedState:
                break
            waited += WAIT_SLICE_MS
        return Handed.HANDED if reply.startswith(ACK) else Handed.NO_ANSWER
    finally:
        socket.disconnectFromServer()


class InstanceServer(QObject):
    """Listens for the requests of later launches on the library; each one well formed is
    acknowledged and emitted as received (what to do with it is the window's business)."""

    received = Signal(Request)
    rejected = Signal(str)  # why a connection's message was not taken (for the log and tests)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        # Only this user may connect (on Unix, the socket file is made private).
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        self.name = ""

    def listen(self, name: str) -> bool:
        """Listen on name (a stale socket left by a window that crashed is removed, once
        nothing answers on it); False when another window already does."""
        self.server.close()
        self.name = name
        if self.server.listen(name):
            return True
        probe = QLocalSocket()
        probe.connectToServer(name)
        if probe.waitForConnected(200):
            probe.abort()
            return False
        QLocalServer.removeServer(name)
        return self.server.listen(name)

    def close(self) -> None:
        self.server.close()

    def _on_connection(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            Connection(socket, self)


class Connection(QObject):
    """One launcher's connection: a line is read as it comes (never blocking the GUI thread),
    and the connection is dropped if it says too much or nothing in time."""

    def __init__(self, socket: QLocalSocket, server: InstanceServer) -> None:
        super().__init__(server)
        self.socket = socket
        self.server = server
        self.data = b""
        socket.setParent(self)
        socket.readyRead.connect(self._on_ready)
        socket.disconnected.connect(self.deleteLater)
        QTimer.singleShot(ANSWER_MS, self, self._drop)

    def _on_ready(self) -> None:
        self.data += bytes(self.socket.read(MAX_MESSAGE + 1 - len(self.data)).data())
        if b"\n" not in self.data and len(self.data) <= MAX_MESSAGE:
            return  # more to come
        request = decode(self.data)
        if request is None:
            self.server.rejected.emit("A message on Folio's socket was not a launcher's request.")
            self._drop()
            return
        self.socket.readyRead.disconnect(self._on_ready)
        self.socket.write(ACK)
        self.socket.flush()
        self.server.received.emit(request)

    def _drop(self) -> None:
        self.socket.abort()
        self.deleteLater()
