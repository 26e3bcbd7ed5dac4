"""The library's settings, declared once: name, where it is kept, default, bounds, meaning.

They live in the library (its meta table), so `folio config` and the app's settings dialog read
and write the same values; the app keeps only per-machine window state in QSettings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import sandbox
from core.answer import DEFAULT_SOURCES
from core.errors import FolioError
from core.ingest import DEFAULT_MAX_TEXT_CHARS
from core.llm import resolve_host
from core.prompt import BRIEF, DEFAULT_MAX_CONTEXT, SOURCE_KINDS
from core.types import BUNDLED_MODEL

DEFAULT_MAX_FILE_MB = 512
_OCR_LANGUAGES = re.compile(r"^[A-Za-z_]{3,20}(\+[A-Za-z_]{3,20})*$")


@dataclass(frozen=True)
class Setting:
    name: str  # as `folio config` and the dialog name it
    key: str  # the meta key it is kept under
    default: str
    meaning: str
    minimum: int | None = None  # a whole number, at least this
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[str], None] | None = None  # raises FolioError for a value it refuses

    def validate(self, value: str) -> str:
        """value as kept (stripped), or FolioError with a sentence that says what is wanted."""
        value = value.strip()
        if self.choices and value not in self.choices:
            raise FolioError(f"{self.name} must be {' or '.join(repr(c) for c in self.choices)}.")
        if self.minimum is not None and (not value.isdigit() or int(value) < self.minimum or (
                self.maximum is not None and int(value) > self.maximum)):
            upper = f" and at most {self.maximum}" if self.maximum is not None else ""
            raise FolioError(f"{self.name} must be a whole number, at least "
                             f"{self.minimum}{upper}.")
        if self.check is not None:
            self.check(value)
        return value


def _host(value: str) -> None:
    if value:
        resolve_host(value)  # raises LlmError (a FolioError) for what cannot be an address


def _ocr_languages(value: str) -> None:
    if not _OCR_LANGUAGES.match(value):
        raise FolioError("ocr-languages takes Tesseract's language codes joined by '+', "
                         "e.g. 'eng' or 'eng+deu'.")


def _folder(value: str) -> None:
    if value and not Path(value).expanduser().is_dir():
        raise FolioError(f"ocr-data-dir: no folder at {value}.")


ON_OFF = ("on", "off")
SETTINGS: tuple[Setting, ...] = (
    Setting("embedding-model", "embedding_model", BUNDLED_MODEL,
            "the model that embeds passages and questions (changing it re-embeds the library)"),
    Setting("max-file-mb", "max_file_mb", str(DEFAULT_MAX_FILE_MB),
            "larger files are refused", minimum=1),
    Setting("ollama-host", "ollama_host", "",
            "Ollama's address; empty: $OLLAMA_HOST, else http://127.0.0.1:11434", check=_host),
    Setting("ollama-model", "ollama_model", "",
            "the model that writes answers; empty: the first installed chat model"),
    Setting("answer-sources", "answer_sources", str(DEFAULT_SOURCES),
            "sources per answer, in passages: 6 sends six passages, or twelve evidence briefs "
            "with prompt-sources brief", minimum=1, maximum=50),
    Setting("max-context", "max_context", str(DEFAULT_MAX_CONTEXT),
            "the most context (tokens) asked of the model", minimum=2048),
    # "brief": each source carries only its sentences that matter for the question (core/
    # brief.py, scored by their words), and twice the sources are offered, in about the tokens
    # of passages; the right document is in the prompt more often (docs/answers.md).
    Setting("prompt-sources", "prompt_sources", BRIEF,
            "what each source in the prompt carries: 'brief', the passage's sentences that "
            "matter for the question (twice the sources fit), or 'passages', the whole passage",
            choices=SOURCE_KINDS),
    Setting("reader-page-timeout-s", "reader_page_timeout_s", str(sandbox.DEFAULT_PAGE_TIMEOUT_S),
            "the longest one page of a PDF or EPUB may take to read", minimum=1),
    Setting("reader-timeout-s", "reader_timeout_s", str(sandbox.DEFAULT_TIMEOUT_S),
            "the longest a text, Markdown or HTML file may take to read", minimum=1),
    Setting("reader-memory-mb", "reader_memory_mb", str(sandbox.DEFAULT_MEMORY_MB),
            "the memory the document reader may use", minimum=256),
    Setting("max-text-mb", "max_text_mb", str(DEFAULT_MAX_TEXT_CHARS // 10**6),
            "the most text (millions of characters) one document may give", minimum=1),
    Setting("ocr", "ocr", "on", "'off': pages without a text layer are skipped", choices=ON_OFF),
    Setting("ocr-languages", "ocr_languages", "eng", "Tesseract's form, e.g. 'eng+deu'",
            check=_ocr_languages),
    Setting("ocr-data-dir", "ocr_data_dir", "",
            "empty: $TESSDATA_PREFIX, then the bundled English data", check=_folder),
    # "on": the folder's and the database's modes are left as the user set them (a library
    # shared with a group on purpose); "off": folder 0700, library.db and its -wal/-shm 0600.
    Setting("keep-permissions", "keep_permissions", "off",
            "'on': leave the library folder's permissions as they are", choices=ON_OFF),
)
BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    found = BY_NAME.get(name)
    if found is None:
        raise FolioError(f"Unknown setting '{name}'. Settings: {', '.join(BY_NAME)}.")
    return found


def values(meta: dict[str, str]) -> dict[str, str]:
    """Every setting's value from the library's meta table, defaults filled in."""
    return {s.name: meta.get(s.key, s.default) for s in SETTINGS}
