"""`folio self-check`: versions, then each part Folio needs to run, passed or failed with a reason.

Checks are plain callables so that the desktop can add its Qt check without core importing Qt.
A check returns a one-line detail when it passes and raises (any exception) when it fails.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TextIO

from core import __version__
from core.resources import resource_dir, resource_path

EXIT_OK, EXIT_FAILED = 0, 1
SAMPLE_PDF = ("sample", "folio-guide.pdf")
REQUIRED_RESOURCES = (
    ("prompts", "answer_system.txt"),
    ("prompts", "answer_user.txt"),
    ("models", "all-MiniLM-L6-v2", "tokenizer.json"),
    ("models", "all-MiniLM-L6-v2", "tokenizer_config.json"),
    SAMPLE_PDF,
)
# Distribution name and the module whose __version__ says it when dist-info is not bundled.
VERSIONED = (
    ("apsw", "apsw"), ("sqlite-vec", "sqlite_vec"), ("fastembed", "fastembed"),
    ("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers"), ("numpy", "numpy"),
    ("pymupdf", "pymupdf"), ("ollama", "ollama"),
)


class CheckFailed(Exception):
    """A check found something wrong; the message is the reason a person reads."""


@dataclass(frozen=True)
class Check:
    """One thing to check. run() returns a detail line, or raises to fail with a reason."""

    name: str
    run: Callable[[], str]
    required: bool = True


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    required: bool
    seconds: float


def versions() -> dict[str, str]:
    """Folio, Python, SQLite and the libraries Folio runs on (never imports Qt)."""
    found = {
        "folio": __version__,
        "python": f"{platform.python_version()} ({platform.system()} {platform.machine()})",
        "running from": f"bundle {resource_dir().parent}" if getattr(sys, "frozen", False)
        else f"checkout {resource_dir().parent}",
    }
    for dist, module in VERSIONED:
        found[dist] = _version_of(dist, module)
    try:
        import apsw

        found["sqlite"] = apsw.sqlite_lib_version()
    except ImportError as exc:
        found["sqlite"] = f"? ({exc})"
    return found


def _version_of(dist: str, module: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        pass  # a bundle need not carry dist-info; the module itself may know
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"missing ({exc})"
    for attribute in ("__version__", "VersionBind", "apsw_version"):
        value = getattr(mod, attribute, None)
        if value is not None:
            return str(value() if callable(value) else value)
    return "?"


def check_resources() -> str:
    missing = ["/".join(p) for p in REQUIRED_RESOURCES if not resource_path(*p).is_file()]
    if missing:
        raise CheckFailed(f"missing under {resource_dir()}: {', '.join(missing)}")
    return f"prompts, tokenizer and sample library in {resource_dir()}"


def check_fts5() -> str:
    import apsw

    db = apsw.Connection(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    db.execute("INSERT INTO t(body) VALUES ('the battery warranty lasts two years'), ('unrelated')")
    rows = db.execute("SELECT rowid FROM t WHERE t MATCH 'warranty' ORDER BY bm25(t)").fetchall()
    if rows != [(1,)]:
        raise CheckFailed(f"an FTS5 query found {rows}, expected [(1,)]")
    return f"SQLite {apsw.sqlite_lib_version()} with FTS5"


def check_sqlite_vec() -> str:
    import numpy as np
    import sqlite_vec

    from core.store.connection import connect

    db = connect(Path(":memory:"))  # Folio's own connection code, without a file
    db.execute("CREATE VIRTUAL TABLE v USING vec0(embedding float[3])")
    for rowid, vec in ((1, [1.0, 0.0, 0.0]), (2, [0.0, 1.0, 0.0]), (3, [0.0, 0.0, 1.0])):
        db.execute("INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                   (rowid, np.asarray(vec, dtype=np.float32).tobytes()))
    query = np.asarray([0.1, 0.9, 0.0], dtype=np.float32).tobytes()
    rows = db.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 2 ORDER BY distance",
                      (query,)).fetchall()
    if [r[0] for r in rows] != [2, 1]:
        raise CheckFailed(f"a KNN query found {rows}, expected rows 2 then 1")
    version = db.execute("SELECT vec_version()").fetchall()[0][0]
    return f"sqlite-vec {version} loaded from {sqlite_vec.loadable_path()}; KNN answers"


def check_embedding() -> str:
    import numpy as np

    from core.embedding import Embedder, bundled_onnx_path

    embedder = Embedder()
    if not embedder.is_bundled:
        raise CheckFailed(f"the default model is {embedder.name}, not the bundled one")
    texts = ["The battery is guaranteed for two years.",
             "How long is the battery warranty?",
             "Preheat the oven to 200 degrees."]
    vectors = embedder.embed_passages(texts)
    assert vectors is not None  # no should_stop was given
    if vectors.shape != (3, embedder.dim) or not np.allclose(np.linalg.norm(vectors, axis=1), 1,
                                                             atol=1e-3):
        raise CheckFailed(f"unexpected vectors: shape {vectors.shape}")
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    if related <= unrelated:
        raise CheckFailed(f"similar sentences scored {related:.2f}, unrelated {unrelated:.2f}")
    return f"{embedder.name} ({embedder.dim} dims) from {bundled_onnx_path()}"


def check_pymupdf() -> str:
    import pymupdf

    from core.readers import tables

    path = resource_path(*SAMPLE_PDF)
    with pymupdf.open(path) as doc:  # type: ignore[no-untyped-call]  # PyMuPDF is unannotated
        pages = doc.page_count
        page = doc[0]
        textpage = page.get_textpage()
        text = page.get_text(textpage=textpage)
        # The reader's own table search: the page's words grouped into rows and columns.
        found = len(tables.find_tables(page, textpage, 1))
    if "Folio" not in text:
        raise CheckFailed(f"page 1 of {path.name} has no text 'Folio' ({len(text)} characters)")
    return (f"PyMuPDF {pymupdf.VersionBind} read {path.name}: {pages} pages; table search "
            f"found {found} on page 1")


OCR_SAMPLE = "Scanned pages read"


def check_ocr() -> str:
    """The trained data is found and MuPDF's Tesseract reads a rendered line back."""
    import pymupdf

    from core.errors import IngestError
    from core.readers import ocr
    from core.types import ReadOptions

    options = ReadOptions()
    try:
        folder = ocr.tessdata_dir(options)
    except IngestError as exc:  # names eng.traineddata and the folders looked in
        raise CheckFailed(exc.message) from exc
    with pymupdf.open() as source:  # type: ignore[no-untyped-call]  # PyMuPDF is unannotated
        page = source.new_page(width=320, height=80)
        page.insert_text((12, 48), OCR_SAMPLE, fontsize=20)  # margins: no cut-off specks
        pixmap = page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    with pymupdf.open() as scan:  # type: ignore[no-untyped-call]
        page = scan.new_page(width=320, height=80)
        page.insert_image(page.rect, pixmap=pixmap)
        start = time.perf_counter()
        read = page.get_text("text", textpage=ocr.textpage(page, options)).strip()
        seconds = time.perf_counter() - start
    if " ".join(read.split()) != OCR_SAMPLE:
        raise CheckFailed(f"OCR of a rendered line read {read!r}, expected {OCR_SAMPLE!r}")
    return (f"Tesseract in MuPDF read a rendered line in {seconds:.1f} s with "
            f"{options.ocr_languages}.traineddata from {folder}")


def ollama_check(host: str | None = None) -> Check:
    """Whether Ollama answers at host (else $OLLAMA_HOST or the default): information only."""

    def run() -> str:
        from core.llm import LlmError, OllamaService

        service = OllamaService(host)
        try:
            return f"Ollama {service.version()} at {service.host}"
        except LlmError as exc:
            raise CheckFailed(f"{exc.message} Search works without it; answers need it.") from exc

    return Check("ollama", run, required=False)


def core_checks(ollama_host: str | None = None) -> list[Check]:
    return [
        Check("resources", check_resources),
        Check("sqlite-fts5", check_fts5),
        Check("sqlite-vec", check_sqlite_vec),
        Check("embedding", check_embedding),
        Check("pymupdf", check_pymupdf),
        Check("ocr", check_ocr),
        ollama_check(ollama_host),
    ]


def run_check(check: Check) -> CheckResult:
    start = time.perf_counter()
    try:
        detail, ok = check.run(), True
    except Exception as exc:  # a failing check is a result, whatever it raised
        detail = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
        ok = False
    return CheckResult(check.name, ok, detail, check.required, time.perf_counter() - start)


def run_self_check(extra: Sequence[Check] = (), ollama_host: str | None = None,
                   ) -> tuple[list[CheckResult], int]:
    """Run the core checks then extra; exit code 0 when every required check passed."""
    results = [run_check(c) for c in [*core_checks(ollama_host), *extra]]
    failed = any(r.required and not r.ok for r in results)
    return results, EXIT_FAILED if failed else EXIT_OK


def print_report(results: Sequence[CheckResult], exit_code: int,
                 stream: TextIO | None = None, show_versions: bool = True) -> None:
    out = stream if stream is not None else sys.stdout
    if show_versions:
        found = versions()
        width = max(map(len, found))
        for name, version in found.items():
            print(f"{name:<{width}}  {version}", file=out)
        print(file=out)
    width = max((len(r.name) for r in results), default=0)
    for r in results:
        mark = "ok  " if r.ok else ("FAIL" if r.required else "info")
        print(f"[{mark}] {r.name:<{width}}  {r.detail}  ({r.seconds:.1f} s)", file=out)
    verdict = "all required checks passed" if exit_code == EXIT_OK else "a required check failed"
    print(f"\nself-check: {verdict}", file=out)


def main(extra: Sequence[Check] = (), stream: TextIO | None = None) -> int:
    """Run, print and return the exit code: what `folio self-check` does."""
    results, exit_code = run_self_check(extra)
    print_report(results, exit_code, stream)
    return exit_code
