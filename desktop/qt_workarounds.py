"""Work-arounds for bugs of the Qt binding, applied by desktop/app.py make_app before its QApplication.

PySide6 6.12.0 returns Python's True from `SignalInstance.emit` and from a `disconnect` that
found its slot (False from one that did not) without taking a reference to it, so every such
call made from Python takes one reference off True (or False). Python 3.12
and later make True immortal, so nothing happens there. On Python 3.11 True's count (a few
thousand references at start) runs out after that many emits: the app aborts with "Fatal
Python error: bool_dealloc" mid-session (an answer streams a few hundred emits) or at exit.
Measured here: 100 emits take 100 references off True; the desktop tests, run alone, aborted at
exit. The work-around gives True and False a reserve of 2**40 references, in effect what 3.12
does for them, when the binding is seen to drop one. If a fixed binding is installed, the check
finds nothing to mend and no reserve is given. Only the window's process calls it: the command
line never loads Qt.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 1 << 40  # references given to True and False: more emits than any process makes


def emit_drops_a_reference() -> bool:
    """Whether one emit from Python takes a reference off True (the PySide6 6.12.0 bug)."""
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        fired = Signal()

    probe = Probe()
    before = sys.getrefcount(True)
    probe.fired.emit()
    dropped = sys.getrefcount(True) < before
    probe.deleteLater()
    return dropped


def keep_booleans_alive() -> bool:
    """Give True and False their reserve if this interpreter can run out and the binding drops
    references; True when it did (a second call adds a second reserve: harmless)."""
    if sys.version_info >= (3, 12) or hasattr(sys, "getobjects") or not emit_drops_a_reference():
        return False  # immortal booleans; a Py_TRACE_REFS build (the count is not first); fixed
    for value in (True, False):
        # CPython (3.11): a PyObject starts with its reference count, and id() is its address.
        ctypes.c_ssize_t.from_address(id(value)).value += RESERVE
    return True
