"""The bundle's entry script: `folio` opens the window, `folio <command>` runs the command line."""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process (the reader) must not start Folio
    from desktop.launcher import main

    sys.exit(main())
