"""Saved copies of the in-memory indexes beside library.db, read back memory-mapped.

A saved index is an uncompressed .npz (a zip of .npy members, as `np.savez` writes). Reading
it maps the file and gives each array as a read-only view of the mapping, so opening an index
costs no read of its data and no memory until a search touches its pages: a keyword search
reads the postings of its terms only, and the operating system may drop untouched pages
again. A file is never changed in place: a new copy is written beside it (0600, as it holds
the library's words or vectors), flushed to disk, and moved over it, so a mapping of the old
copy stays valid (on POSIX; Windows refuses to replace a file that is mapped, so there a save
fails while a process maps the old copy, and the index is kept in memory until a later one).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import threading
import time
import weakref
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
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
            handle.flush()
            os.fsync(handle.fileno())  # a crash must not leave a copy with pages never written
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
    saved = open_saved(path)
    return None if saved is None else saved.arrays


@dataclass
class Saved:
    """A saved file's arrays, memory-mapped, and its members that are read row by row."""

    arrays: Arrays
    rows: dict[str, RowFile]


def open_saved(path: Path, row_members: Collection[str] = ()) -> Saved | None:
    """As `load`; the members named in row_members (2-D, uncompressed) are not mapped but
    read row by row from the file as it was when opened (RowFile), so that rows read now and
    then never count as the process's memory, as the pages of a mapping would."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; the mapping outlives it
    except FileNotFoundError:
        return None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise ValueError(f"{path.name} is empty")
        # No madvise(MADV_RANDOM): it stops the kernel mapping neighbouring cached pages on a
        # fault, which made a 1M-passage library's first keyword searches ~50% slower.
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        saved = Saved({}, {})
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                found = (_mapped_member(mapped, info)
                         if info.compress_type == zipfile.ZIP_STORED else None)
                if found is None:
                    with archive.open(info) as member:
                        saved.arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                    continue
                view, offset = found
                if name in row_members and view.ndim == 2 and view.flags.c_contiguous:
                    saved.rows[name] = RowFile(handle.fileno(), offset, view)
                else:
                    saved.arrays[name] = view
        missing = set(row_members) - set(saved.rows)
        if missing:
            raise ValueError(f"{path.name} has no row member {sorted(missing)}")
    return saved


class RowFile:
    """Rows of a 2-D array saved in a file, read with pread from a descriptor of its own (the
    file as it was when opened, even once a newer copy is moved over it). Where there is no
    pread (Windows) rows are read through the mapping instead."""

    def __init__(self, descriptor: int, offset: int, view: npt.NDArray[Any]) -> None:
        self.shape: tuple[int, int] = (int(view.shape[0]), int(view.shape[1]))
        self.dtype = view.dtype
        self._offset = offset
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        if hasattr(os, "pread"):
            self._descriptor: int | None = os.dup(descriptor)
            self._view: npt.NDArray[Any] | None = None
            weakref.finalize(self, os.close, self._descriptor)
        else:
            self._descriptor, self._view = None, view

    def read(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
        """The rows (positions in the array) in the order given."""
        if self._view is not None or self._descriptor is None:
            assert self._view is not None
            return np.array(self._view[rows])
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        target = out.view(np.uint8).reshape(len(rows), self._row_bytes)
        for k, row in enumerate(rows.tolist()):
            if not 0 <= row < self.shape[0]:
                raise IndexError(f"row {row} of {self.shape[0]}")
            data = os.pread(self._descriptor, self._row_bytes, self._offset + row * self._row_bytes)
            if len(data) != self._row_bytes:
                raise ValueError("the saved file is cut short")
            target[k] = np.frombuffer(data, dtype=np.uint8)
        return out


def _mapped_member(mapped: mmap.mmap,
                   info: zipfile.ZipInfo) -> tuple[npt.NDArray[Any], int] | None:
    """The .npy member's array as a view of the mapping and the offset of its data in the
    file (None if it is not a plain array)."""
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
    array: npt.NDArray[Any] = flat.reshape(shape, order="F" if fortran else "C")
    return array, start + stream.offset


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
