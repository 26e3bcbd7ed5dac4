"""Saved index files (core/index_file.py): written whole and private, read back mapped."""

from __future__ import annotations

import mmap
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import index_file


def arrays() -> dict[str, np.ndarray]:
    return {"ids": np.arange(1000, dtype=np.int64) * 3,
            "vectors": np.arange(4000, dtype=np.int64).astype(np.int8).reshape(1000, 4),
            "columns": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
            "format": np.array("format 1")}


def test_saved_arrays_come_back_equal_read_only_and_mapped(tmp_path: Path) -> None:
    path = tmp_path / "library.db.test.npz"
    assert index_file.save(path, arrays())
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    loaded = index_file.load(path)
    assert loaded is not None and set(loaded) == set(arrays())
    for name, array in arrays().items():
        assert np.array_equal(loaded[name], array) and loaded[name].dtype == array.dtype
        assert not loaded[name].flags.writeable  # a view of the file, never written through
    assert str(loaded["format"]) == "format 1"
    base = loaded["ids"]
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)  # mapped, not read
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left


def test_a_copy_replaced_while_mapped_leaves_the_old_views_valid(tmp_path: Path) -> None:
    path = tmp_path / "index.npz"
    index_file.save(path, arrays())
    old = index_file.load(path)
    assert old is not None
    newer = {**arrays(), "ids": np.zeros(5, dtype=np.int64)}
    assert index_file.save(path, newer)
    assert np.array_equal(old["ids"], arrays()["ids"])  # the old copy's data, still readable
    again = index_file.load(path)
    assert again is not None and np.array_equal(again["ids"], np.zeros(5))


def test_missing_empty_and_damaged_files(tmp_path: Path) -> None:
    assert index_file.load(tmp_path / "none.npz") is None
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError):
        index_file.load(tmp_path / "empty.npz")
    path = tmp_path / "cut.npz"
    index_file.save(path, arrays())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises((zipfile.BadZipFile, ValueError, OSError)):
        index_file.load(path)


def test_compressed_members_are_read_into_memory(tmp_path: Path) -> None:
    path = tmp_path / "packed.npz"
    np.savez_compressed(path, ids=np.arange(10))
    loaded = index_file.load(path)
    assert loaded is not None and np.array_equal(loaded["ids"], np.arange(10))


def test_half_written_copies_of_dead_writers_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "library.db.keywords.npz"
    dead = tmp_path / f".{path.name}.999999999.1"
    mine = tmp_path / f".{path.name}.{os.getpid()}.1"
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    index_file.sweep_temporaries(path)
    if os.name == "posix":
        assert not dead.exists()
    assert mine.exists()  # this process may be writing it now
