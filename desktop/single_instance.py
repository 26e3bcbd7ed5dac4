"""One window per library: `folio LINK` or `folio FILE` hands its request to the window already
running on that library (a local socket named from the library's folder and the user), which
raises itself and acts on it; when none runs, the launcher starts the window itself.

What comes through the socket is not trusted: only this user can connect (the socket's
permissions, in a folder only this user can enter: socket_folders), a message is one line of
JSON of at most MAX_MESSAGE bytes naming one of KINDS,
and the window checks it again as if it came from the command line: a link goes through core's
strict parser (core/export.py) with the library's documents, a file must be an existing file.
The launcher refuses a malformed link before any hand-over, so the window never sees it.
Where no folder only this user can enter is found for the socket (server_name is None), the
window does not listen (it says so on stderr) and each launch starts a window of its own.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
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
# Of a socket's path, in bytes: sun_path holds 108 on Linux and 104 on macOS, with a NUL; Qt
# 6.12 binds the path itself (106 bytes listen here), Qt before it bound NAME-XXXXXX/s first.
MAX_PATH = 94
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
SOCKETS = "folio-sockets"  # the folder made for sockets in the user's cache folder
NO_PRIVATE_FOLDER = ("Folio found no folder only you can enter for its socket, so this window "
                     "takes no links or files from later launches (each starts its own window).")


def user_cache() -> Path:
    """This user's cache folder, from the home the password database gives the uid (not $HOME
    or $XDG_CACHE_HOME: see server_name): ~/.cache, or ~/Library/Caches on macOS."""
    import pwd

    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    return home / ("Library/Caches" if sys.platform == "darwin" else ".cache")


def server_name(root: Path) -> str | None:
    """The local socket's name for a library folder and this user: the one function the
    launcher (to hand over) and the window (to listen) both call. It reads nothing from the
    environment: the launcher runs in whatever environment the file manager, browser or
    terminal gives it, the window in its own, and $XDG_RUNTIME_DIR, $TMPDIR, $HOME or $USER set
    for one and not the other would give them different names (the launcher would not find the
    window and start a second one). On Unix (macOS too) a path in the first folder of
    socket_folders(root) that is this user's, private and short enough (MAX_PATH), never a bare
    name (Qt would put that in its temporary folder, $TMPDIR or the shared /tmp, where another
    user can compute the name and take it first); None when there is no such folder. On
    Windows a pipe's name (Qt lets only this user open it)."""
    root = root.expanduser().resolve()
    key = f"{_user()}\0{root}".encode()
    name = "folio-" + hashlib.sha256(key).hexdigest()[:32]
    if os.name != "posix":
        return name
    for folder in socket_folders(root):
        if len(str(folder / name).encode()) <= MAX_PATH and _private_folder(folder):
            return str(folder / name)
    return None


def _user() -> str:
    """This user, as the system knows them (not $USER or $LOGNAME, which a launch may lack or
    set otherwise): the uid on Unix, the account's name on Windows."""
    if hasattr(os, "getuid"):
        return str(os.getuid())
    try:
        return os.getlogin()  # Windows: the account of the process, not %USERNAME%
    except OSError:
        return getpass.getuser()


def socket_folders(root: Path) -> Iterator[Path]:
    """Where the socket may go on Unix, in order; server_name takes the first that is this
    user's and private (_private_folder) with a path short enough. A socket in the shared /tmp
    (a bare name's) could be bound first by another user, who would take every link and file
    this user's launches hand over, acknowledge them, and keep this user's window from
    listening. The folders: /run/user/UID (what $XDG_RUNTIME_DIR names in a login session; not
    read from it, see server_name); folio-UID in /tmp (made 0700; another user may have made it
    first, on a machine without /run/user: an ssh session, a container, WSL); the library
    folder (when it is 0700); folio-sockets in the user's cache folder (user_cache; made 0700).
    The folders made here are made only as they are reached."""
    uid = os.getuid()
    yield RUNTIME_ROOT / str(uid)
    yield _made(SHARED_TEMP / f"folio-{uid}")
    yield root
    try:
        cache = user_cache()
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, KeyError):  # no home, or one this user cannot write
        return
    yield _made(cache / SOCKETS)


def _made(folder: Path) -> Path:
    """folder, made 0700 if it is not there (whether it is usable is _private_folder's to say)."""
    with contextlib.suppress(OSError):  # there already (anyone's), or not to be made
        folder.mkdir(mode=0o700)
    return folder


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


def hand_over(name: str | None, request: Request, connect_ms: int = CONNECT_MS,
              answer_ms: int = ANSWER_MS) -> Handed:
    """Give request to the window listening on name (blocking: the launcher has no event loop
    yet; a test runs it on a thread of its own). No name (server_name found no private folder):
    no window listens, this launch starts its own."""
    if name is None:
        return Handed.NONE_RUNNING
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

    def listen(self, name: str | None) -> bool:
        """Listen on name (a stale socket left by a window that crashed is removed, once
        nothing answers on it); False when another window already does. No name (server_name
        found no private folder): stop listening, False."""
        self.server.close()
        self.name = name or ""
        if name is None:
            return False
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
