"""The evidence brief (core/brief.py): what a source carries in the prompt under prompt-sources brief."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core import answer, brief, prompt
from core.answer_types import AnswerDone, AnswerMode, Source
from core.chunking import split_sentences
from core.cli import main
from core.embedding import Embedder
from core.engine import Engine
from core.library import Library
from core.types import BUNDLED_MODEL, Hit
from tests.ollama_server import FakeOllama, first_sentence, parse_sources

HARBOUR = ("The harbour office opens at eight every morning and closes at six. "
           "Visitor moorings cost 25 euros a night, paid at the harbour office. "
           "The lighthouse on the point was painted white in 1921. "
           "Seagulls nest on the old breakwater every spring and are noisy at dawn. "
           "Fresh water and electricity are available on the visitor pontoon. "
           "The fish market behind the quay sells the morning catch until noon.")
MOORING = "Visitor moorings cost 25 euros a night, paid at the harbour office."
LIGHTHOUSE = "The lighthouse on the point was painted white in 1921."
SEAGULLS = "Seagulls nest on the old breakwater every spring and are noisy at dawn."
FISH = "The fish market behind the quay sells the morning catch until noon."

TABLE = ("The club rents three kinds of boat to members for the summer season.\n\n"
         "| Boat | Crew | Price a day |\n"
         "| --- | --- | --- |\n"
         "| Kestrel dinghy | 2 | 40 euros |\n"
         "| Osprey keelboat | 4 | 120 euros |\n"
         "| Heron canoe | 1 | 15 euros |\n\n"
         "Boats are returned to the slipway by sunset, washed and with their sails folded. "
         "The clubhouse bar serves tea and cake on Sunday afternoons during the regatta weeks.")


STAFF = ("The company's offices are grouped in four regions, each with its own manager, budget "
         "and yearly plan.\n\n"
         "| Region | Staff |\n"
         "| --- | --- |\n"
         "| North | 120 |\n"
         "| South | 85 |\n"
         "| East | 64 |\n"
         "| West | 47 |\n\n"
         "Headcount is reviewed every spring by the board, and new offices open only after it.")


def hit(text: str, passage_id: int = 1, page: int = 1, heading_path: str = "") -> Hit:
    return Hit(passage_id=passage_id, document_id=1, title="Harbour guide", page=page,
               page_end=page, page_label=None, heading_path=heading_path, text=text, score=1.0,
               keyword_rank=1, semantic_rank=1)


@pytest.fixture(scope="module")
def embedder(engine: Engine) -> Embedder:
    return engine.embedder(BUNDLED_MODEL)


@pytest.fixture(params=["words", "words and meaning"])
def scorer(request: pytest.FixtureRequest, embedder: Embedder) -> Embedder | None:
    """How units are scored: by words (what the answer prompt does) or by words and the bundled
    model's cosine (what tests/bench/brief.py compares it with)."""
    return embedder if request.param == "words and meaning" else None


def one_brief(question: str, text: str, embedder: Embedder | None) -> str:
    (made,) = brief.briefs(question, [Source(1, hit(text))], embedder)
    return made


def test_the_brief_keeps_the_sentence_with_the_question_s_terms_and_drops_the_others(
        scorer: Embedder | None) -> None:
    made = one_brief("How much does a visitor mooring cost a night?", HARBOUR, scorer)
    assert MOORING in made
    assert SEAGULLS not in made and FISH not in made and LIGHTHOUSE not in made
    assert len(made) < 0.6 * len(HARBOUR)
    # Verbatim, in the passage's order, what was left out marked.
    kept = [s for s in split_sentences(HARBOUR) if s in made]
    assert [made.index(s) for s in kept] == sorted(made.index(s) for s in kept)
    assert brief.GAP in made


def test_the_brief_keeps_the_numbers_the_question_asks_for(scorer: Embedder | None) -> None:
    assert LIGHTHOUSE in one_brief("What happened in 1921?", HARBOUR, scorer)
    made = one_brief("When was the lighthouse painted?", HARBOUR, scorer)
    assert LIGHTHOUSE in made and SEAGULLS not in made


def test_a_table_row_is_kept_with_its_header_row(scorer: Embedder | None) -> None:
    made = one_brief("How much does the Osprey keelboat cost a day?", TABLE, scorer)
    lines = made.splitlines()
    assert "| Boat | Crew | Price a day |" in lines and "| --- | --- | --- |" in lines
    assert "| Osprey keelboat | 4 | 120 euros |" in lines
    assert lines.index("| Boat | Crew | Price a day |") < lines.index(
        "| Osprey keelboat | 4 | 120 euros |")
    assert "tea and cake" not in made
    assert made.count("| Boat | Crew | Price a day |") == 1


def test_a_table_row_is_scored_by_its_own_cells_not_the_header_every_row_shares() -> None:
    # "staff" is a header word: it is every row's, so it must not keep North, South and East.
    made = one_brief("How many staff work in the West?", STAFF, None)
    lines = made.splitlines()
    assert "| West | 47 |" in lines and "| Region | Staff |" in lines
    assert not {"| North | 120 |", "| South | 85 |", "| East | 64 |"} & set(lines)
    # The header still counts a little: a row scores above the same cells without it.
    row = next(u for u in brief.units(STAFF) if u.text == "| West | 47 |")
    bare = brief.Unit(row.text, row.line, row.scored)
    with_header, without = brief.unit_scores("How many staff work in the West?", [row, bare],
                                             None)
    assert with_header > without


@pytest.mark.parametrize(("asked", "held"), [
    ("cities", "city"), ("studies", "study"), ("runs", "run"), ("stops", "stopped"),
    ("provides", "provided")])
def test_a_question_word_in_another_form_counts_stem_match(asked: str, held: str) -> None:
    (unit,) = brief.units(f"The {held} here.")
    assert brief.unit_scores(f"Which {asked}?", [unit], None) == [
        pytest.approx(brief.STEM_MATCH)]
    (same,) = brief.units(f"The {asked} here.")
    assert brief.unit_scores(f"Which {asked}?", [same], None) == [1.0]


@pytest.mark.parametrize(("asked", "held"), [
    ("contract", "contrast"), ("province", "provide"), ("general", "generator"),
    ("parties", "partner")])
def test_an_unrelated_word_sharing_five_letters_counts_nothing(asked: str, held: str) -> None:
    (unit,) = brief.units(f"The {held} here.")
    assert brief.unit_scores(f"Which {asked}?", [unit], None) == [0.0]


def test_the_extractive_answer_meets_a_word_in_another_form_as_the_brief_does() -> None:
    # The same stem (core/stemming.py): "cities" finds "city", where five letters did not.
    text = "Rivers flood the plains in spring. The city walls are old."
    assert answer.best_sentence(text, answer.question_terms("the cities")) == (
        "The city walls are old.")
    assert answer.best_sentence("The contrast is sharp. The walls are old.",
                                answer.question_terms("contract walls")) == "The walls are old."


def test_a_brief_is_never_empty(scorer: Embedder | None) -> None:
    for question in ("Who won the 1954 football world cup?", "banana bread recipe", "?"):
        for text in (HARBOUR, TABLE, "Short note on knots.", "one sentence without end"):
            made = one_brief(question, text, scorer)
            assert made.strip()
            # It holds at least one whole unit of the passage, verbatim.
            assert any(u.text in made for u in brief.units(text)) or made == text.strip()


def test_a_short_passage_is_kept_whole_and_the_section_travels(scorer: Embedder | None) -> None:
    short = "Moorings cost 25 euros. Seagulls nest on the breakwater."
    assert one_brief("mooring price", short, scorer) == short
    source = Source(3, hit(HARBOUR, heading_path="Harbour guide › Arriving by sea › Moorings"))
    built = prompt.build_answer_prompt("How much is a mooring?", [source], [],
                                       kind=prompt.BRIEF, brief_embedder=scorer)
    block = built.messages[-1]["content"]
    assert 'section="Arriving by sea › Moorings"' in block
    (sent,) = parse_sources(block)
    assert sent.id == "1" and MOORING in sent.text and SEAGULLS not in sent.text


def test_a_brief_prompt_holds_about_twice_the_sources() -> None:
    texts = [HARBOUR.replace("25", str(20 + i)) for i in range(12)]
    sources = [Source(i + 1, hit(t, passage_id=i + 1)) for i, t in enumerate(texts)]
    question = "How much does a visitor mooring cost?"
    bare = prompt.build_answer_prompt(question, [], []).tokens
    limit = bare + 900 + prompt.ANSWER_RESERVE
    whole = prompt.build_answer_prompt(question, sources, [], limit, limit)
    briefs = prompt.build_answer_prompt(question, sources, [], limit, limit, prompt.BRIEF)
    assert len(briefs.sources) >= 2 * len(whole.sources) >= 4
    assert prompt.sources_wanted(6, prompt.BRIEF) == 12 and prompt.sources_wanted(6, "passages") == 6


PAGES = (  # (heading, text) of each page
    ("The office", "The harbour office opens at eight every morning. Its staff sell charts and "
                   "tide tables."),
    ("Visitors", HARBOUR),
    ("The school", "The sailing school runs courses for beginners in July. Each course lasts "
                   "five days and ends with a short race around the bay."),
)


def harbour_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    for heading, text in PAGES:
        page = doc.new_page()
        page.insert_text((72, 80), heading, fontsize=20, fontname="hebo")
        page.insert_textbox(pymupdf.Rect(72, 100, 520, 700), text, fontsize=11)
    doc.save(path)
    return path


def test_citations_of_a_brief_answer_point_at_the_full_passage_and_its_page(
        tmp_path: Path, engine: Engine, fake_ollama: FakeOllama) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    harbour_pdf(docs / "harbour.pdf")
    (docs / "club.md").write_text("# Boat club\n\n" + TABLE, encoding="utf-8")
    with Library.open(tmp_path / "lib", engine) as library:
        library.add([docs])
        library.set_setting("prompt-sources", "brief")
        events = list(library.ask("How much does a visitor mooring cost a night?",
                                  host=fake_ollama.host, save=False))
    done = events[-1]
    assert isinstance(done, AnswerDone)
    answer = done.answer
    assert answer.mode is AnswerMode.GENERATED
    # The model saw the brief: source 1 is the mooring page's passage, without its seagulls.
    sent = parse_sources(fake_ollama.last_chat["messages"][-1]["content"])
    top = answer.sources[0].hit
    assert top.page == 2 and SEAGULLS in top.text
    assert MOORING in sent[0].text and SEAGULLS not in sent[0].text
    assert len(sent) == len(answer.sources)
    # Its answer restates the brief's first sentence; [1] still names passage 1, on page 2.
    assert answer.text.startswith(first_sentence(sent[0].text) + " [1]")
    cited = answer.citations[0]
    assert cited.n == 1 and cited.passage_id == top.passage_id and cited.page == 2
    assert cited.text == top.text  # the highlight is the whole passage, as in passages mode
    assert cited.rects and all(r.page == 2 for r in cited.rects)
    # core/support.py aligns it against the full passage, and finds it there.
    assert answer.support and not any(s.not_found_in for s in answer.support)
    assert answer.support[0].spans[0].text in " ".join(top.text.split())


def test_the_setting_round_trips_through_folio_config(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "l")
    assert main(["config", "prompt-sources", "--library", lib]) == 0
    assert capsys.readouterr().out.strip() == "brief"  # the default
    assert main(["config", "prompt-sources", "passages", "--library", lib]) == 0
    capsys.readouterr()
    assert main(["config", "prompt-sources", "--library", lib]) == 0
    assert capsys.readouterr().out.strip() == "passages"
    assert main(["config", "prompt-sources", "summary", "--library", lib]) == 1
    assert "prompt-sources must be 'passages' or 'brief'" in capsys.readouterr().err
    with Library.open(Path(lib)) as library:
        assert library.settings()["prompt-sources"] == "passages"
