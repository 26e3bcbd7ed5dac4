"""The main process stays bounded whatever a document holds: forms, huge tables, odd text."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.chunking import chunk, counted
from core.embedding import Embedder
from core.ingest import Ingestor
from core.library import Library
from core.sandbox import ReaderProcess
from core.types import AddProgress, AddStage, AddStatus, Paragraph, ReadOptions, ReadResult
from tests.fixtures.forms import (
    FORM_WORD,
    huge_table_markdown,
    huge_table_result,
    make_filled_form,
    make_flattened_form,
)

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 240
CEILING_BYTES = 2**30  # what adding may grow the main process's address space by


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


class FixedReader(ReaderProcess):
    """Hands the parent a given result per file (by name): whatever a reader might return."""

    def __init__(self, results: dict[str, ReadResult]) -> None:
        super().__init__()
        self.results = results

    def read(self, path: Path, doc_type: str, title_hint: str, password: str | None = None,
             options: ReadOptions | None = None,
             on_page: Callable[[int, int, str], None] | None = None) -> ReadResult:
        return self.results[title_hint]


def _ingestor(library: Library, results: dict[str, ReadResult], **bounds: float) -> Ingestor:
    return Ingestor(library.db, library.store, library.embedder, library.max_file_bytes, None,
                    None, FixedReader(results), **bounds)  # type: ignore[arg-type]


def _files(folder: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = folder / f"{name}.md"
        path.write_text(f"# {name}\n\nstand-in bytes for {name}\n", encoding="utf-8")
        paths.append(path)
    return paths


def _prose(text: str) -> ReadResult:
    return ReadResult(title="Prose", page_count=1, page_labels=["1"],
                      paragraphs=[Paragraph(text=text, page=1, headings=("Prose",))])


def test_a_huge_table_costs_work_linear_in_its_size(embedder: Embedder) -> None:
    # A header row of 300,000 characters: repeated in every piece, as before, it made the
    # passages hundreds of times the table; now it is not repeated and each passage fits.
    result = huge_table_result(rows=8, header_chars=300_000, cell_chars=20_000)
    chars = sum(len(p.text) for p in result.paragraphs)
    passages = chunk(result.paragraphs, embedder.count_tokens_batch, lambda h: BUDGET,
                     result.label_of)
    assert sum(len(p.text) for p in passages) <= chars
    assert max(counted(embedder.count_tokens_batch, [p.text for p in passages])) <= BUDGET
    assert all(p.token_count <= BUDGET for p in passages)
    assert passages[-1].text.endswith("named on page two.") and passages[-1].page_end == 2


def test_a_table_header_is_repeated_only_while_it_is_small(embedder: Embedder) -> None:
    rows = [f"| lamp {i} | {i * 7} gallons of oil |" for i in range(80)]
    small = "| Item | Amount |\n|---|---|"
    wide = "| " + " | ".join(f"Fiscal year {y} amount" for y in range(1990, 2020)) + " |\n|---|---|"
    assert embedder.count_tokens(wide) > BUDGET // 2 >= embedder.count_tokens(small)
    for header, repeated in ((small, True), (wide, False)):
        table = Paragraph(text=header + "\n" + "\n".join(rows), page=1, kind="table")
        passages = chunk([table], embedder.count_tokens_batch, lambda h: BUDGET, lambda p: None)
        assert len(passages) > 1
        assert all(p.text.startswith(header) for p in passages) is repeated
        assert all(embedder.count_tokens(p.text) <= BUDGET for p in passages)


def test_a_word_longer_than_the_budget_is_cut_to_fit(embedder: Embedder) -> None:
    soup = "1,234<br>" * 12_000  # 108,000 characters without a space: one "word"
    paragraph = Paragraph(text=soup, page=1, kind="table")
    passages = chunk([paragraph], embedder.count_tokens_batch, lambda h: BUDGET, lambda p: None)
    assert "".join(p.text.replace(" ", "") for p in passages) == soup
    assert max(embedder.count_tokens(p.text) for p in passages) <= BUDGET


def test_only_text_reaches_the_tokenizer(library: Library, docs_dir: Path,
                                         embedder: Embedder) -> None:
    # A lone surrogate cannot be UTF-8: the tokenizer raised a bare TypeError for it (and, the
    # same way, for a huge str it had no memory to copy). It becomes U+FFFD.
    with pytest.raises(TypeError, match="TextEncodeInput"):
        embedder.count_tokens_batch(["half a pair: \ud83d"])
    with pytest.raises(TypeError, match="only text can be tokenized, not NoneType"):
        counted(embedder.count_tokens_batch, ["fine", None])  # type: ignore[list-item]
    [path] = _files(docs_dir, "odd")
    odd = _prose("The keeper wrote \ud83d in the log of the quillmarrow lamp.")
    [outcome] = _ingestor(library, {"odd": odd}).add_all([path])
    assert outcome.status is AddStatus.ADDED, outcome.reason
    [(text,)] = library.db.execute("SELECT text FROM passages").fetchall()
    assert text == "The keeper wrote \ufffd in the log of the quillmarrow lamp."


def test_chunking_over_its_time_budget_fails_that_file_and_the_batch_goes_on(
        library: Library, docs_dir: Path) -> None:
    huge, after = _files(docs_dir, "huge", "after")
    results = {"huge": huge_table_result(), "after": _prose(f"The {FORM_WORD} lamp is lit.")}
    outcomes = _ingestor(library, results, chunk_min_s=0.3, chunk_read_factor=0).add_all(
        [huge, after])
    assert [o.status for o in outcomes] == [AddStatus.FAILED, AddStatus.ADDED]
    assert outcomes[0].reason is not None
    assert outcomes[0].reason.startswith("Splitting the text into passages took longer than 0.3 s")
    failed = next(d for d in library.documents() if d.status.value == "failed")
    assert failed.error_kind == "timeout"
    assert library.search(FORM_WORD, mode="keyword").hits


def test_chunking_tells_its_check_what_it_has_made(embedder: Embedder) -> None:
    # What replaced the process's memory as the bound: the characters of the passages made.
    result = huge_table_result(rows=8, header_chars=30_000, cell_chars=20_000)
    made: list[int] = []
    passages = chunk(result.paragraphs, embedder.count_tokens_batch, lambda h: BUDGET,
                     result.label_of, made.append)
    assert len(made) > 3 and made == sorted(made)  # told as it grows, between tokenizer calls
    assert made[-1] == sum(len(p.text) for p in passages)


def test_chunking_that_makes_many_times_its_text_fails_that_file_and_the_batch_goes_on(
        library: Library, docs_dir: Path, embedder: Embedder) -> None:
    # A header row of 19,000 characters that is a single token (a word over 100 characters is
    # one [UNK]) is small enough to repeat in each piece of short rows: the passages would
    # hold more than 40 times the table (as the end of this test shows).
    header = "| " + "x" * 19_000 + " |\n|---|---|"
    assert embedder.count_tokens(header) < BUDGET // 4
    rows = "\n".join(f"|{n % 10}|{n % 7}|" for n in range(20_000))
    table = ReadResult(title="Wide header", page_count=1, page_labels=["1"], paragraphs=[
        Paragraph(text=f"{header}\n{rows}", page=1, kind="table")])
    wide, after = _files(docs_dir, "wide", "after")
    results = {"wide": table, "after": _prose(f"The {FORM_WORD} lamp is lit.")}
    outcomes = _ingestor(library, results).add_all([wide, after])
    assert [o.status for o in outcomes] == [AddStatus.FAILED, AddStatus.ADDED]
    assert outcomes[0].reason is not None
    assert outcomes[0].reason.startswith("Splitting the text into passages made more than ")
    assert f"times the document's {len(table.paragraphs[0].text):,} characters" in outcomes[0].reason
    failed = next(d for d in library.documents() if d.status.value == "failed")
    assert failed.error_kind == "too_large"
    assert library.search(FORM_WORD, mode="keyword").hits
    # Unbounded, chunking would indeed have made that much: it was the bound, nothing else.
    made = chunk(table.paragraphs, embedder.count_tokens_batch, lambda h: BUDGET, table.label_of)
    assert sum(len(p.text) for p in made) > 40 * len(table.paragraphs[0].text)


@pytest.mark.parametrize("where", ["reader child", "this process"])
def test_progress_names_the_page_being_read(library: Library, docs_dir: Path,
                                            where: str) -> None:
    from tests.fixtures.docs import make_report_pdf

    report = make_report_pdf(docs_dir)
    seen: list[AddProgress] = []
    if where == "reader child":
        [outcome] = library.add([report.path], progress=seen.append)
    else:
        [outcome] = Ingestor(library.db, library.store, library.embedder, library.max_file_bytes,
                             seen.append, None, reader=None).add_all([report.path])
    assert outcome.status is AddStatus.ADDED
    pages = [(p.pages_done, p.pages_total) for p in seen if p.stage is AddStage.READING
             and p.pages_total]
    assert pages == [(n, report.page_count) for n in range(1, report.page_count + 1)]
    stages = [p.stage for p in seen]
    assert stages.index(AddStage.CHUNKING) < stages.index(AddStage.EMBEDDING)


def test_filled_forms_are_added_with_their_values(library: Library, docs_dir: Path) -> None:
    forms = [make_filled_form(docs_dir), make_flattened_form(docs_dir)]
    outcomes = library.add([f.path for f in forms])
    assert [o.status for o in outcomes] == [AddStatus.ADDED] * 2, [o.reason for o in outcomes]
    assert [o.pages for o in outcomes] == [2, 2]
    import pymupdf

    for form, outcome in zip(forms, outcomes, strict=True):
        with pymupdf.open(form.path) as doc:
            page_chars = sum(len(page.get_text()) for page in doc)
        rows = library.db.execute("SELECT text FROM passages WHERE document_id = ?",
                                  (outcome.document_id,)).fetchall()
        text = "\n".join(str(r[0]) for r in rows)
        assert len(text) <= 4 * page_chars  # a table is made of the page's words
        assert form.values[1] in text


_ADD_UNDER_A_CEILING = """
import json, os, resource, sys
from pathlib import Path
from core.library import Library

root, warm, ceiling, *paths = sys.argv[1:]
library = Library.open(Path(root))
# What adding always costs is paid first: the model, its ONNX runtime, the reader child.
library.embedder.embed_passages(["warm up the model"] * 32)
assert library.add([Path(warm)])[0].status.value == "added"
with open("/proc/self/statm") as handle:
    baseline = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
resource.setrlimit(resource.RLIMIT_AS, (baseline + int(ceiling), resource.RLIM_INFINITY))
outcomes = library.add([Path(p) for p in paths])
peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"baseline": baseline, "grown": peak_after - peak_before,
                  "outcomes": [[o.status.value, o.reason, o.passages] for o in outcomes]}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
def test_the_main_process_stays_under_a_memory_ceiling_while_adding_them(tmp_path: Path,
                                                                         docs_dir: Path) -> None:
    # Before: a 2.2-million-character table grew `folio add` by gigabytes (24 GB, then the OOM
    # killer) and no file after it was read. Here the process may grow by 1 GB at most.
    forms = [make_filled_form(docs_dir).path, make_flattened_form(docs_dir).path]
    huge = huge_table_markdown(docs_dir)
    warm, after = _files(docs_dir, "warm", "after")
    proc = subprocess.run(
        [sys.executable, "-c", _ADD_UNDER_A_CEILING, str(tmp_path / "lib"), str(warm),
         str(CEILING_BYTES), *map(str, [*forms, huge, after])],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    statuses = [status for status, _, _ in report["outcomes"]]
    assert statuses == ["added"] * 4, report["outcomes"]
    assert report["grown"] < CEILING_BYTES
