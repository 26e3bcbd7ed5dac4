"""PyInstaller runtime hook: runs in the bundle before Folio's code."""

import os

# The bundle leaves pymupdf.layout out (build.spec). pymupdf prints a one-time hint to install
# it from page.find_tables(), which Folio no longer calls (core/readers/tables.py finds tables
# from the page's words); the hint stays off so that no pymupdf call, in this version or a later
# one, prints it into a bundle that leaves the layout package out on purpose.
os.environ.setdefault("PYMUPDF_SUGGEST_LAYOUT_ANALYZER", "0")
