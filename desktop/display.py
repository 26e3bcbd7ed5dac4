"""Can Qt open a window here? Checked before Qt is imported, which aborts (exit 134) when it cannot.

On Linux Qt picks a platform plugin: wayland, or xcb for X11. xcb loads a dozen X11 libraries that
a minimal system lacks, and Qt's own message then names the wrong one (it always suggests
libxcb-cursor0). So the plugin's libraries are listed with `ldd` (one short child process that
resolves the whole tree the way the loader will), falling back to dlopen of the usual suspects
when ldd is not there; each missing library is named with the package that installs it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

# Platforms that need no display server: the user chose one on purpose (tests, screenshots, VNC).
HEADLESS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs",
                      "vkkhrdisplay"})
CLI_WORKS = "the command line works without one (`folio --help`)"

# soname -> (Debian/Ubuntu, Fedora, Arch) package. The xcb-util ones are what minimal desktops
# and containers lack; the rest are there for a library that a stripped-down system removed.
PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client", "wayland"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor", "wayland"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl", "wayland"),
}
# What the xcb plugin needs beyond a base X11 system, for the README and the dlopen fallback.
XCB_EXTRAS = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
              "libxcb-image.so.0", "libxcb-render-util.so.0", "libxkbcommon-x11.so.0")


@dataclass(frozen=True)
class DisplayCheck:
    """ok, or the one sentence that says what is missing and how to get it."""

    ok: bool
    message: str
    has_display: bool  # False: no display server at all (the CLI is the way here)


def install_command(sonames: list[str]) -> str:
    """The apt, dnf and pacman commands that install the packages providing sonames."""
    known = [PACKAGES[s] for s in sonames if s in PACKAGES]
    if not known:
        return f"install the package that provides {', '.join(sonames)}"
    apt, dnf, pacman = (list(dict.fromkeys(p[i] for p in known)) for i in range(3))
    return (f"`sudo apt install {' '.join(apt)}` (Fedora: `sudo dnf install {' '.join(dnf)}`, "
            f"Arch: `sudo pacman -S {' '.join(pacman)}`)")


def plugin_path(platform: str) -> Path | None:
    """PySide6's platform plugin file (libqxcb.so, libqwayland.so), found without importing it."""
    spec = find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for name in (f"libq{platform}.so", f"libq{platform}-generic.so"):
            path = Path(location) / "Qt" / "plugins" / "platforms" / name
            if path.is_file():
                return path
    return None


def missing_libraries(plugin: Path, fallback: tuple[str, ...] = XCB_EXTRAS) -> list[str]:
    """The shared libraries plugin needs that the loader cannot find (sonames, in ldd's order)."""
    ldd = shutil.which("ldd")
    if ldd is not None:
        try:
            out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20,
                                 check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and "=>" in out:
            missing = [line.split("=>")[0].strip() for line in out.splitlines()
                       if "not found" in line]
            return list(dict.fromkeys(missing))
    found: list[str] = []
    for soname in fallback:
        try:
            ctypes.CDLL(soname)
        except OSError:
            found.append(soname)
    return found


def _x_server_answers(display: str) -> bool:
    """Whether something listens where DISPLAY points (a local socket, or TCP 6000+n)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return True  # a form this check does not know: let Qt try
    if host in ("", "unix"):
        for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        return False
    if host.startswith("/"):
        return True  # a launchd socket path (XQuartz) and the like
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=2):
            return True
    except OSError:
        return False


def check_display(env: Mapping[str, str] | None = None, system: str | None = None,
                  ) -> DisplayCheck:
    """Whether the window can open with env (default: this process's environment)."""
    env = os.environ if env is None else env
    system = system or sys.platform
    if not system.startswith("linux"):
        return DisplayCheck(True, "the window uses the system's own display", True)
    requested = [p.split(":")[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";")]
    requested = [p for p in requested if p]
    headless = [p for p in requested if p in HEADLESS]
    if headless:
        return DisplayCheck(True, f"QT_QPA_PLATFORM={headless[0]}: no display server needed",
                            True)
    wayland, x11 = env.get("WAYLAND_DISPLAY", ""), env.get("DISPLAY", "")
    session = env.get("XDG_SESSION_TYPE", "")
    # Qt's own choice without QT_QPA_PLATFORM: xcb in an X11 session, wayland (then xcb) otherwise.
    default = ["xcb"] if session == "x11" or not wayland else ["wayland", "xcb"]
    candidates = requested or default
    if not (wayland and "wayland" in candidates) and not (x11 and "xcb" in candidates):
        needed = [v for p, v in (("wayland", "WAYLAND_DISPLAY"), ("xcb", "DISPLAY"))
                  if p in candidates] or ["DISPLAY"]
        unset = (f"neither {needed[0]} nor {needed[1]} is set" if len(needed) > 1
                 else f"{needed[0]} is not set")
        chosen = f" for QT_QPA_PLATFORM={env['QT_QPA_PLATFORM']}" if requested else ""
        return DisplayCheck(False, f"Folio cannot open its window because there is no display "
                            f"here{chosen} ({unset}); {CLI_WORKS}.", False)
    problems: list[str] = []
    for platform in candidates:
        if platform == "wayland" and not wayland:
            continue
        if platform == "xcb" and not x11:
            continue
        plugin = plugin_path(platform)
        if plugin is None:
            problems.append(f"PySide6 has no {platform} platform plugin")
            continue
        missing = missing_libraries(plugin, XCB_EXTRAS if platform == "xcb" else ())
        if missing:
            names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1
                                 else missing)
            what = "X11" if platform == "xcb" else "Wayland"
            plural = len(missing) > 1
            problems.append(f"the {what} librar{'ies' if plural else 'y'} {names} "
                            f"{'are' if plural else 'is'} missing: install "
                            f"{'them' if plural else 'it'} with {install_command(missing)}")
            continue
        if platform == "xcb" and not _x_server_answers(x11):
            problems.append(f"no X server answers at DISPLAY={x11}")
            continue
        where = f"WAYLAND_DISPLAY={wayland}" if platform == "wayland" else f"DISPLAY={x11}"
        return DisplayCheck(True, f"{platform} on {where}: the libraries Qt needs are there", True)
    return DisplayCheck(False, f"Folio cannot open its window because {'; and '.join(problems)}; "
                        f"{CLI_WORKS}.", True)
