"""A progress bar showing an Ollama model download (the question panel's and the settings
dialog's "Pull" both use it)."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar

from core.answer_types import PullProgress

STEPS = 1000  # the bar's range while the download's size is known


def show_pull_progress(bar: QProgressBar, progress: PullProgress) -> None:
    """Ollama's stage and the share done; a busy bar while the size is not yet known."""
    bar.show()
    bar.setFormat(f"{progress.status} %p%")
    if progress.total:
        bar.setRange(0, STEPS)
        bar.setValue(int(STEPS * progress.completed / progress.total))
    else:
        bar.setRange(0, 0)
