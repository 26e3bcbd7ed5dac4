"""Passages or evidence briefs in the prompt: how often the right document is among the sources
that fit in a fixed budget, what a source costs, and what the support check says of answers.

Run: .venv/bin/python tests/bench/brief.py [--library scifact=DIR --library cranfield=DIR]
         [--queries 100] [--answers 50] [--budget 2000 --budget 4000]

Each set's test questions (../shared/data/NAME) are searched once (hybrid, the best --candidates
passages); for each budget (tokens of sources) the real prompt builder keeps the best sources
that fit under `passages` and under `brief` (core/prompt.py, core/brief.py). A question is a hit
when a passage of a relevant document is among them; recall is the share of its relevant
documents that are. "Same sources as briefs" are the tokens the sources that fit as passages
take as briefs (the tokens saved at equal sources). Without --library the cached evaluation
library of the current code is used (built when missing: minutes).

Then --answers questions of each set are asked through the Ollama-compatible test server (its
answer restates the first sentence of sources [1] and [2] as the prompt shows them, cited), with
`prompt-sources` set to each kind: the share of answer sentences core/support.py flags as not
found in their source, aligned to the full passage (a sanity check that the brief quotes the
passage verbatim). The sample guide library (`Library.ensure_sample`) is run the same way with
saved checks (a question and the page that answers it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from core import evaluation, prompt
from core.answer_types import AnswerDone, Source
from core.embedding import Embedder
from core.engine import Engine
from core.library import Library
from core.store import checks as check_store
from core.types import Hit
from tests.ollama_server import FakeOllama

KINDS = (prompt.PASSAGES, prompt.BRIEF)

# The sample guide's checks: a question and words on the page that answers it (the page is
# found from the words, so a rebuilt guide PDF keeps its checks right).
GUIDE_CHECKS = (
    ("Which key stops an answer while it is written?", "Stop the answer"),
    ("How large a file will Folio read?", "512 MB unless you change it"),
    ("Does Folio upload my documents?", "Folio does not upload your documents"),
    ("What do I get when no language model is available?", "gives an extractive answer"),
    ("How do I find an invoice number?", "such as an invoice number"),
    ("Where does Folio keep the library?", "FOLIO_HOME"),
    ("How do I read scanned pages in German?", "eng+deu"),
    ("What happens when I click a citation?", "opens the cited document at the exact page"),
    ("How do I add a PDF from the command line?", "folio add report.pdf"),
    ("Which model turns passages into vectors?", "all-MiniLM-L6-v2 model bundled"),
    ("What if a PDF needs a password?", "needs a password to open"),
    ("Can I move my library to another computer?", "Copy the whole library folder"),
)


class CachedEmbedder(Embedder):
    """The library's embedder, each text's vector kept: the briefs of one question's candidates
    are the same at every budget, so the model is asked once per question."""

    def __init__(self, inner: Embedder) -> None:  # not Embedder's own set-up: nothing loaded
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.vectors: dict[tuple[bool, str], np.ndarray] = {}
        self.texts = 0

    def embed_query(self, text: str, single_thread: bool = False) -> np.ndarray:
        key = (True, text)
        if key not in self.vectors:
            self.vectors[key] = self.inner.embed_query(text)
        return self.vectors[key]

    def embed_passages(self, texts: Sequence[str], *args: object, **kwargs: object) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (False, t) not in self.vectors]
        if missing:
            self.texts += len(missing)
            found = self.inner.embed_passages(missing)
            assert found is not None
            for text, vector in zip(missing, found, strict=True):
                self.vectors[(False, text)] = vector
        return np.stack([self.vectors[(False, t)] for t in texts])


@dataclass
class Tally:
    questions: int = 0
    hits: int = 0
    recall: list[float] = field(default_factory=list)
    sources: int = 0
    tokens: int = 0  # of the sources that fit
    same_as_brief: int = 0  # the passage-fitting sources' tokens as briefs (passages rows only)

    def row(self, name: str, budget: int, kind: str) -> str:
        per = self.tokens / max(1, self.sources)
        saved = (f"{self.same_as_brief} ({1 - self.same_as_brief / max(1, self.tokens):.0%} "
                 "saved)") if kind == prompt.PASSAGES else ""
        return (f"| {name} | {budget} | {kind} | {self.questions} | "
                f"{self.hits / max(1, self.questions):.3f} | {statistics.fmean(self.recall):.3f} | "
                f"{self.sources / max(1, self.questions):.1f} | {per:.0f} | {saved} |")


def source_tokens(question: str, sources: Sequence[Source], budget: int, kind: str,
                  embedder: Embedder) -> prompt.Prompt:
    """The prompt of the best sources that fit in budget tokens of sources."""
    bare = prompt.build_answer_prompt(question, [], [])
    limit = bare.tokens + budget + prompt.ANSWER_RESERVE
    return prompt.build_answer_prompt(question, sources, [], limit, limit, kind, embedder)


def fit_table(name: str, library: Library, questions: Sequence[tuple[str, set[int]]],
              budgets: Sequence[int], candidates: int, embedder: CachedEmbedder) -> list[str]:
    """questions: (text, the passage ids that count as the right place)."""
    tallies = {(b, k): Tally() for b in budgets for k in KINDS}
    start = time.perf_counter()
    embedded_before = embedder.texts
    for text, wanted in questions:
        hits: list[Hit] = list(library.search(text, k=candidates).hits)
        sources = [Source(n, h) for n, h in enumerate(hits, start=1)]
        bare = prompt.build_answer_prompt(text, [], []).tokens
        for budget in budgets:
            fitted: dict[str, prompt.Prompt] = {}
            for kind in KINDS:
                built = source_tokens(text, sources, budget, kind, embedder)
                fitted[kind] = built
                tally = tallies[(budget, kind)]
                ids = {s.hit.passage_id for s in built.sources}
                tally.questions += 1
                tally.hits += bool(ids & wanted)
                tally.recall.append(len(ids & wanted) / max(1, len(wanted)))
                tally.sources += len(built.sources)
                tally.tokens += built.tokens - bare
            same = fitted[prompt.PASSAGES].sources
            as_briefs = source_tokens(text, same, 10**6, prompt.BRIEF, embedder)
            tallies[(budget, prompt.PASSAGES)].same_as_brief += as_briefs.tokens - bare
    seconds = time.perf_counter() - start
    rows = [tallies[(b, k)].row(name, b, k) for b in budgets for k in KINDS]
    load = os.getloadavg()
    rows.append(f"<!-- {name}: {len(questions)} questions in {seconds:.0f} s, "
                f"{embedder.texts - embedded_before} units embedded, load average "
                f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} -->")
    return rows


def relevant_passages(library: Library, dataset: evaluation.Dataset, query_id: str,
                      by_corpus_id: dict[str, int]) -> set[int]:
    """The passages of the documents judged relevant to the query."""
    out: set[int] = set()
    for corpus_id, grade in dataset.qrels[query_id].items():
        if grade > 0 and corpus_id in by_corpus_id:
            out |= set(check_store.passages_of_place(library.db, by_corpus_id[corpus_id], None))
    return out


def support_row(name: str, library: Library, server: FakeOllama, questions: Sequence[str],
                kind: str, k: int) -> str:
    library.set_setting("ollama-host", server.host)
    library.set_setting("prompt-sources", kind)
    library.set_setting("max-context", "4096")
    sentences = flagged = sources = 0
    start = time.perf_counter()
    for question in questions:
        for event in library.ask(question, k=k, save=False):
            if isinstance(event, AnswerDone):
                sources += len(event.answer.sources)
                for s in event.answer.support:
                    sentences += 1
                    flagged += bool(s.not_found_in)
                break
    per = (time.perf_counter() - start) * 1000 / max(1, len(questions))
    load = os.getloadavg()
    return (f"| {name} | {kind} | {len(questions)} | {sources / max(1, len(questions)):.1f} | "
            f"{sentences} | {flagged} | {flagged / max(1, sentences):.1%} | {per:.0f} | "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |")


def guide_questions(library: Library) -> list[tuple[str, set[int]]]:
    """The guide's checks, saved in the library (once), as (question, the page's passages)."""
    (document,) = [d for d in library.documents()]
    if not library.checks():
        for question, words in GUIDE_CHECKS:
            page = library.db.execute(
                "SELECT page_start FROM passages WHERE document_id = ? AND instr(text, ?) > 0 "
                "ORDER BY ordinal LIMIT 1", (document.id, words)).fetchone()
            if page is None:
                raise SystemExit(f"The guide no longer says '{words}': update GUIDE_CHECKS.")
            library.add_check(question, f"{document.id}:{page[0]}")
    return [(check.question, set(check_store.passages_of_place(library.db, place.document_id,
                                                               place.page)))
            for check, place in library.checks()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", action="append", default=[], metavar="NAME=DIR",
                        help="a copy of an evaluation library (it is written to: settings)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--budget", type=int, action="append", default=[])
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--k", type=int, default=6, help="sources per answer (passages)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3]
                        / "shared" / "data")
    args = parser.parse_args()
    budgets = args.budget or [2000, 4000]
    named = dict(item.split("=", 1) for item in args.library) or {"scifact": "", "cranfield": ""}
    fit_rows: list[str] = []
    support_rows: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="folio-brief-"))
    try:
        with Engine() as engine, FakeOllama(["llama3.2:3b"]) as server:
            for name, folder in named.items():
                dataset = evaluation.load(args.data / name, "test")
                if folder:
                    library = Library.open(Path(folder).expanduser(), engine)
                else:  # a copy: the settings this bench sets stay out of the shared cache
                    cached = evaluation.library_for(dataset, engine=engine)
                    cached.close()
                    root = Path(cached.root)
                    shutil.copytree(root, scratch / name)
                    library = Library.open(scratch / name, engine)
                with library:
                    ids = {c: d for d, c in evaluation.corpus_ids_of(library).items()}
                    chosen = list(dataset.queries.items())[:args.queries]
                    questions = [(text, relevant_passages(library, dataset, qid, ids))
                                 for qid, text in chosen]
                    embedder = CachedEmbedder(library.searcher().require_embedder())
                    fit_rows += fit_table(name, library, questions, budgets, args.candidates,
                                          embedder)
                    print("\n".join(fit_rows[-len(budgets) * 2 - 1:]), flush=True)
                    for kind in KINDS:
                        support_rows.append(support_row(
                            name, library, server, [q for q, _ in questions[:args.answers]],
                            kind, args.k))
                        print(support_rows[-1], flush=True)
            with Library.open(scratch / "guide", engine) as guide:
                guide.ensure_sample()
                questions = guide_questions(guide)
                embedder = CachedEmbedder(guide.searcher().require_embedder())
                fit_rows += fit_table("guide checks", guide, questions, budgets,
                                      args.candidates, embedder)
                for kind in KINDS:
                    support_rows.append(support_row("guide checks", guide, server,
                                                    [q for q, _ in questions], kind, args.k))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n| set | budget (tokens of sources) | prompt sources | questions | right document "
          "in the prompt | recall of relevant documents | sources that fit | tokens a source "
          "| the same sources as briefs |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(fit_rows))
    print(f"\n| set | prompt sources | questions | sources ({args.k} asked; brief: twice) "
          "| answer sentences | flagged | share | ms per answer | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(support_rows))


if __name__ == "__main__":
    main()
