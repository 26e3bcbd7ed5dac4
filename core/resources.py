"""Finds Folio's bundled resources, from a checkout and from a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_dir() -> Path:
    """The resources/ folder: beside the packages in a checkout, in _MEIPASS in a bundle."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        return Path(bundle_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """A path inside resources/ (not checked for existence)."""
    return resource_dir().joinpath(*parts)
