"""The library's files/ folder: documents stored by content (sha256), written atomically."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import time
from pathlib import Path

from core.errors import IngestError
from core.paths import make_private_dir
from core.types import FailureKind

CHUNK = 1 << 20


def storage_error(exc: OSError, what: str) -> IngestError:
    if exc.errno == errno.ENOSPC:
        return IngestError(FailureKind.STORAGE, f"The disk is full: cannot {what}.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return IngestError(FailureKind.STORAGE,
                           f"The library folder cannot be written to: cannot {what}.")
    return IngestError(FailureKind.STORAGE, f"Cannot {what}: {exc.strerror or exc}.")


class FileStore:
    """Copies documents into files/ab/<sha256><suffix>, so a citation opens the exact bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files_dir = root / "files"

    def relative(self, sha256: str, suffix: str) -> str:
        return f"files/{sha256[:2]}/{sha256}{suffix.lower()}"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def copy_in(self, source: Path, max_bytes: int) -> tuple[Path, str, int]:
        """Copy source to a temporary file in files/ while hashing it: (temp path, sha256, size).

        Reading happens once; the document is later read from this copy, so what is indexed is
        exactly what is stored even if the original changes meanwhile.
        """
        try:
            make_private_dir(self.files_dir)
            fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.files_dir)
        except OSError as exc:
            raise storage_error(exc, "store a copy of the document") from exc
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    src = source.open("rb")
                except FileNotFoundError as exc:
                    raise IngestError(FailureKind.NOT_FOUND, "The file was not found.") from exc
                except PermissionError as exc:
                    raise IngestError(FailureKind.UNREADABLE,
                                      "The file cannot be read (permission denied).") from exc
                except IsADirectoryError as exc:
                    raise IngestError(FailureKind.UNSUPPORTED, "This is a folder.") from exc
                with src:
                    while block := self._read(src):
                        size += len(block)
                        if size > max_bytes:
                            raise IngestError(
                                FailureKind.TOO_LARGE,
                                f"The file is larger than the limit of {max_bytes // 2**20} MB "
                                "(`folio config max-file-mb` changes it).")
                        digest.update(block)
                        try:
                            out.write(block)
                        except OSError as exc:
                            raise storage_error(exc, "store a copy of the document") from exc
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise storage_error(exc, "store a copy of the document") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, digest.hexdigest(), size

    @staticmethod
    def _read(src: object) -> bytes:
        try:
            return src.read(CHUNK)  # type: ignore[attr-defined,no-any-return]
        except OSError as exc:
            raise IngestError(FailureKind.UNREADABLE,
                              f"The file could not be read: {exc.strerror or exc}.") from exc

    def settle(self, tmp: Path, relative: str) -> Path:
        """Move a copied temp file to its content address (or drop it if that exists already)."""
        target = self.absolute(relative)
        try:
            make_private_dir(target.parent)
            if target.exists():
                tmp.unlink(missing_ok=True)
                os.utime(target)  # fresh again: the sweep of unreferenced old files spares it
            else:
                os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise storage_error(exc, "store a copy of the document") from exc
        return target

    def discard(self, relative: str) -> None:
        with contextlib.suppress(OSError):
            self.absolute(relative).unlink(missing_ok=True)

    def sweep(self, referenced: set[str], min_age_s: float = 3600.0) -> list[str]:
        """Delete what a crash left behind: temp copies and files no document refers to.

        Only files older than min_age_s go, so a copy that another process is about to
        commit is never touched. Returns the relative paths removed.
        """
        removed: list[str] = []
        if not self.files_dir.is_dir():
            return removed
        cutoff = time.time() - min_age_s
        for path in self.files_dir.rglob("*"):
            try:
                if not path.is_file() or path.stat().st_mtime > cutoff:
                    continue
                relative = path.relative_to(self.root).as_posix()
                if relative not in referenced:
                    path.unlink()
                    removed.append(relative)
            except OSError:
                continue
        return removed
