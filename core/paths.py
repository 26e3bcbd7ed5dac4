"""Where the library lives by default; light to import (the app needs it before the engine)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_library_dir() -> Path:
    """$FOLIO_HOME, else the platform's per-user data folder."""
    home = os.environ.get("FOLIO_HOME")
    if home:
        return Path(home).expanduser()
    return Path(platformdirs.user_data_dir("Folio", appauthor=False))
