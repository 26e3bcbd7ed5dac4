"""Passages or evidence briefs in the prompt: how often the right document is among the sources
that fit in a fixed budget, what a source costs, which units a brief keeps scored by words (as
the prompt does) against words and the model's cosine, and what the support check says of
answers.

Run: .venv/bin/python tests/bench/brief.py [--library scifact=DIR --library cranfield=DIR]
         [--queries 100] [--answers 50] [--budget 2000 --budget 4000] [--split train|test]
         [--stem-match 0 --stem-match 1]

Each set's questions of --split (../shared/data/NAME/qrels/SPLIT.tsv; train by default, the
split choices are made on; a set with one split, Cranfield, uses its test.tsv whatever --split
says; SciFact's test questions only report) are searched once (hybrid, the best --candidates
passages); for each budget (tokens of sources) the real prompt builder keeps the best sources
that fit under `passages` and under `brief` (core/prompt.py, core/brief.py). A question is a hit
when a passage of a relevant document is among them; recall is the share of its relevant
documents that are. "Same sources as briefs" are the tokens the sources that fit as passages
take as briefs (the tokens saved at equal sources). Without --library the cached evaluation
library of the current code is used (built when missing: minutes).

Three kinds: `passages`; `brief`, units scored by words (what the answer prompt sends); and
`brief (cosine)`, scored by words and the bundled model's cosine (half each, what the brief did
before). Each --stem-match X adds a row of `brief` with brief.STEM_MATCH set to X (the weight of
a question word held only in another form). For the --k * 2 sources of a default answer: the
time each scoring takes, and how often the words keep the unit the cosine scores best and the
units it keeps. On the guide's checks,
"answer kept": of the sources holding the words that answer, the share whose brief keeps them.

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

from core import brief, evaluation, prompt
from core.answer_types import AnswerDone, Source
from core.embedding import Embedder
from core.engine import Engine
from core.library import Library
from core.store import checks as check_store
from core.types import Hit
from tests.ollama_server import FakeOllama

COSINE = "brief (cosine)"  # a brief scored by words and the model's cosine
KINDS = (prompt.PASSAGES, prompt.BRIEF, COSINE)
SENT_KINDS = (prompt.PASSAGES, prompt.BRIEF)  # what `prompt-sources` can send
STEM_KIND = "brief, stem match "  # + a value of brief.STEM_MATCH tried (--stem-match)

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
    if kind.startswith(STEM_KIND):  # the brief with another weight of a word in another form
        shipped, brief.STEM_MATCH = brief.STEM_MATCH, float(kind.removeprefix(STEM_KIND))
        try:
            return prompt.build_answer_prompt(question, sources, [], limit, limit, prompt.BRIEF)
        finally:
            brief.STEM_MATCH = shipped
    if kind == COSINE:
        return prompt.build_answer_prompt(question, sources, [], limit, limit, prompt.BRIEF,
                                          brief_embedder=embedder)
    return prompt.build_answer_prompt(question, sources, [], limit, limit, kind)


@dataclass
class Agreement:
    """The words' brief against the cosine's, over the sources of a default answer."""

    sources: int = 0  # with two units or more
    best_same: int = 0  # the words' best unit is the cosine's
    cosine_best_kept: int = 0  # the words' brief keeps the cosine's best unit
    cosine_units_kept: list[float] = field(default_factory=list)  # share of the cosine's units
    words_ms: list[float] = field(default_factory=list)  # per question, all its sources
    cosine_ms: list[float] = field(default_factory=list)
    answer_kept: dict[str, list[bool]] = field(default_factory=dict)  # by scoring

    def add(self, question: str, sources: Sequence[Source], embedder: CachedEmbedder,
            answer_words: str | None) -> None:
        start = time.perf_counter()
        brief.briefs(question, sources)
        self.words_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        brief.briefs(question, sources, embedder.inner)  # uncached: the model's real time
        self.cosine_ms.append((time.perf_counter() - start) * 1000)
        split = [brief.units(s.hit.text.strip()) for s in sources
                 if len(s.hit.text.strip()) >= brief.WHOLE_BELOW_CHARS]
        split = [pieces for pieces in split if len(pieces) > 1]
        if not split:
            return
        vectors = embedder.embed_passages([u.meaning() for pieces in split for u in pieces])
        query = embedder.embed_query(question)
        assert vectors is not None
        cosines = vectors @ query / np.maximum(
            np.linalg.norm(vectors, axis=1) * float(np.linalg.norm(query)), 1e-9)
        at = 0
        for pieces in split:
            ours = [float(c) for c in cosines[at:at + len(pieces)]]
            at += len(pieces)
            words, both = brief.choose(question, pieces, None), brief.choose(question, pieces, ours)
            self.sources += 1
            self.best_same += _best(question, pieces, None) == _best(question, pieces, ours)
            self.cosine_best_kept += _best(question, pieces, ours) in words
            self.cosine_units_kept.append(len(set(words) & set(both)) / len(both))
            if answer_words and answer_words in " ".join(p.text for p in pieces):
                for name, kept in (("words", words), ("cosine", both)):
                    self.answer_kept.setdefault(name, []).append(
                        any(answer_words in pieces[i].text for i in kept))

    def row(self, name: str) -> str:
        answer = " / ".join(f"{sum(v)}/{len(v)}" for _, v in sorted(
            self.answer_kept.items(), key=lambda kv: kv[0] != "words")) or "-"
        return (f"| {name} | {len(self.words_ms)} | {self.sources} | "
                f"{self.best_same / max(1, self.sources):.3f} | "
                f"{self.cosine_best_kept / max(1, self.sources):.3f} | "
                f"{statistics.fmean(self.cosine_units_kept or [0.0]):.3f} | {answer} | "
                f"{statistics.median(self.words_ms):.1f} | "
                f"{statistics.median(self.cosine_ms):.0f} | {_load()} |")


def _best(question: str, pieces: Sequence[brief.Unit], cosines: Sequence[float] | None) -> int:
    """The unit a brief keeps first (choose's best, as its scores order them)."""
    scores = brief.unit_scores(question, pieces, cosines)
    return max(range(len(pieces)), key=lambda i: (scores[i], -i))


def _load() -> str:
    load = os.getloadavg()
    return f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"


def fit_table(name: str, library: Library, questions: Sequence[tuple[str, set[int]]],
              budgets: Sequence[int], candidates: int, embedder: CachedEmbedder,
              agreement: Agreement, answered: int,
              answer_words: Sequence[str] | None = None,
              stem_matches: Sequence[float] = ()) -> list[str]:
    """questions: (text, the passage ids that count as the right place); the two scorings are
    compared on each question's first `answered` sources (answer_words: each question's words
    that answer it; stem_matches: other values of brief.STEM_MATCH, a row each)."""
    kinds = (*KINDS, *(f"{STEM_KIND}{x:g}" for x in stem_matches))
    tallies = {(b, k): Tally() for b in budgets for k in kinds}
    start = time.perf_counter()
    embedded_before = embedder.texts
    for number, (text, wanted) in enumerate(questions):
        hits: list[Hit] = list(library.search(text, k=candidates).hits)
        sources = [Source(n, h) for n, h in enumerate(hits, start=1)]
        agreement.add(text, sources[:answered], embedder,
                      answer_words[number] if answer_words else None)
        bare = prompt.build_answer_prompt(text, [], []).tokens
        for budget in budgets:
            fitted: dict[str, prompt.Prompt] = {}
            for kind in kinds:
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
    rows = [tallies[(b, k)].row(name, b, k) for b in budgets for k in kinds]
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
    parser.add_argument("--stem-match", type=float, action="append", default=[],
                        help="another value of brief.STEM_MATCH: a brief row each")
    parser.add_argument("--split", choices=("train", "test"), default="train",
                        help="the questions: train to choose, test to report (a set with one "
                             "split uses it)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3]
                        / "shared" / "data")
    args = parser.parse_args()
    budgets = args.budget or [2000, 4000]
    named = dict(item.split("=", 1) for item in args.library) or {"scifact": "", "cranfield": ""}
    fit_rows: list[str] = []
    support_rows: list[str] = []
    agreement_rows: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="folio-brief-"))
    try:
        with Engine() as engine, FakeOllama(["llama3.2:3b"]) as server:
            for name, folder in named.items():
                split = args.split if (args.data / name / "qrels" / f"{args.split}.tsv"
                                       ).exists() else "test"
                dataset = evaluation.load(args.data / name, split)
                label = f"{name} {split}"
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
                    agreement = Agreement()
                    fit_rows += fit_table(label, library, questions, budgets, args.candidates,
                                          embedder, agreement, args.k * 2,
                                          stem_matches=args.stem_match)
                    agreement_rows.append(agreement.row(label))
                    kinds = len(KINDS) + len(args.stem_match)
                    print("\n".join(fit_rows[-len(budgets) * kinds - 1:]), flush=True)
                    print(agreement_rows[-1], flush=True)
                    for kind in SENT_KINDS:
                        support_rows.append(support_row(
                            label, library, server, [q for q, _ in questions[:args.answers]],
                            kind, args.k))
                        print(support_rows[-1], flush=True)
            with Library.open(scratch / "guide", engine) as guide:
                guide.ensure_sample()
                questions = guide_questions(guide)
                embedder = CachedEmbedder(guide.searcher().require_embedder())
                agreement = Agreement()
                fit_rows += fit_table("guide checks", guide, questions, budgets,
                                      args.candidates, embedder, agreement, args.k * 2,
                                      [words for _, words in GUIDE_CHECKS], args.stem_match)
                agreement_rows.append(agreement.row("guide checks"))
                for kind in SENT_KINDS:
                    support_rows.append(support_row("guide checks", guide, server,
                                                    [q for q, _ in questions], kind, args.k))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n| set | budget (tokens of sources) | prompt sources | questions | right document "
          "in the prompt | recall of relevant documents | sources that fit | tokens a source "
          "| the same sources as briefs |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(fit_rows))
    print(f"\n| set | questions | sources (the first {args.k * 2} of each) | best unit the same "
          "| the cosine's best unit kept | share of the cosine's units kept | answer kept "
          "(words / cosine) | words ms a question (median) | words + cosine ms | load average |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(agreement_rows))
    print(f"\n| set | prompt sources | questions | sources ({args.k} asked; brief: twice) "
          "| answer sentences | flagged | share | ms per answer | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(support_rows))


if __name__ == "__main__":
    main()
