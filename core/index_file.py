"""Saved copies of the in-memory indexes beside library.db, read back memory-mapped.

A saved index is an uncompressed .npz (a zip of .npy members, as `np.savez` writes). Reading
it maps the file and gives each array as a read-only view of the mapping, so opening an index
costs no read of its data and no memory until a search touches its pages: a keyword search
reads the postings of its terms only, and the operating system may drop untouched pages
again. A file is never changed in place: a new copy is written beside it (0600, as it holds
the library's words or vectors) and moved over it, so a mapping of the old copy stays valid.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.paths import PRIVATE_FILE_MODE

STALE_TEMPORARY_S = 3600  # where a writer's pid cannot be asked after (Windows)
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip member's local file header
LOCAL_SIGNATURE = b"PK\x03\x04"

Arrays = dict[str, npt.NDArray[Any]]


def save(path: Path, arrays: Mapping[str, npt.NDArray[np.generic]]) -> bool:
    """Write arrays to path (uncompressed, 0600), replacing it whole; False if it could not
    be written (a read-only library still searches, from memory)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        temporary.unlink(missing_ok=True)  # a crashed earlier writer of this pid and thread
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(temporary, flags, PRIVATE_FILE_MODE), "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return False
    return True


def load(path: Path) -> Arrays | None:
    """The arrays saved at path, memory-mapped (None if there is no file). A member that is
    compressed or not a plain array is read into memory instead. Raises OSError, ValueError,
    KeyError or zipfile.BadZipFile for a damaged file."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; the mapping outlives it
    except FileNotFoundError:
        return None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise ValueError(f"{path.name} is empty")
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mmap, "MADV_RANDOM"):  # searches read scattered pages: no read-ahead
            mapped.madvise(mmap.MADV_RANDOM)
        with zipfile.ZipFile(handle) as archive:
            arrays: Arrays = {}
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                view = (_mapped_member(mapped, info)
                        if info.compress_type == zipfile.ZIP_STORED else None)
                if view is None:
                    with archive.open(info) as member:
                        view = np.lib.format.read_array(member, allow_pickle=False)
                arrays[name] = view
    return arrays


def _mapped_member(mapped: mmap.mmap, info: zipfile.ZipInfo) -> npt.NDArray[np.generic] | None:
    """The .npy member's array as a view of the mapping (None if it is not a plain array)."""
    header = LOCAL_HEADER.unpack_from(mapped, info.header_offset)
    if header[0] != LOCAL_SIGNATURE:
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    start = info.header_offset + LOCAL_HEADER.size + header[9] + header[10]
    member = memoryview(mapped)[start:start + info.file_size]
    stream = _Reader(member)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        return None  # (3, 0): a utf-8 header; read into memory by numpy itself
    if dtype.hasobject:
        raise ValueError(f"{info.filename} holds objects")
    count = int(np.prod(shape, dtype=np.int64))
    if stream.offset + count * dtype.itemsize > len(member):
        raise ValueError(f"{info.filename} is cut short")
    flat = np.frombuffer(mapped, dtype=dtype, count=count, offset=start + stream.offset)
    array: npt.NDArray[np.generic] = flat.reshape(shape, order="F" if fortran else "C")
    return array


class _Reader:
    """A file-like reader over a memoryview, for numpy's .npy header functions."""

    def __init__(self, data: memoryview) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else min(len(self.data), self.offset + size)
        chunk = bytes(self.data[self.offset:end])
        self.offset = end
        return chunk


def sweep_temporaries(path: Path) -> None:
    """Remove the half-written copies (.NAME.PID.TID) that writers which died mid-save left
    behind: those of a pid no longer running (on Windows, where a pid cannot be asked after
    without opening the process, those untouched for an hour)."""
    prefix = f".{path.name}."
    with contextlib.suppress(OSError):
        for temporary in path.parent.glob(f"{prefix}*"):
            pid_text = temporary.name[len(prefix):].split(".")[0]
            if not pid_text.isdigit() or int(pid_text) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if os.name == "posix":
                    if running(int(pid_text)):
                        continue
                elif time.time() - temporary.stat().st_mtime < STALE_TEMPORARY_S:
                    continue
                temporary.unlink()


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # POSIX only: signal 0 asks, it sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
