"""PyInstaller runtime hook: runs in the bundle before Folio's code."""

import os

# The bundle leaves pymupdf.layout out (build.spec); without this, pymupdf's table finder (run
# by `folio self-check`) prints a one-time hint to install it.
os.environ.setdefault("PYMUPDF_SUGGEST_LAYOUT_ANALYZER", "0")
