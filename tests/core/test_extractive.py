"""Extractive answers (no model): whole sentences, a list with its lead-in, a table row with
its header, and nothing quoted that is off the question (issue 18)."""

from __future__ import annotations

from pathlib import Path

from core.answer import NOTHING_RELEVANT_TEXT, best_sentence, extractive_text, question_terms
from core.answer_types import AnswerDone, AnswerMode, Source
from core.library import Library
from core.types import Hit
from tests.ollama_server import refused_host


def hit(n: int, text: str, keyword: bool = True) -> Hit:
    return Hit(passage_id=n, document_id=1, title="Guide", page=1, page_end=1, page_label=None,
               heading_path="", text=text, score=1.0, keyword_rank=1 if keyword else None,
               semantic_rank=1)


LIST = ("Your library is one folder containing two things:\n\n• library.db, the SQLite database "
        "with the passages.\n\n• files/, the copies of your documents.\n\nBack it up by copying it.")
TABLE = ("| Action | Shortcut |\n| --- | --- |\n| Add documents | Ctrl+O |\n"
         "| Stop the answer | Esc |\n| Quit | Ctrl+Q |")


def test_a_lead_in_is_quoted_with_its_list_never_cut_at_the_colon() -> None:
    sentence = best_sentence(LIST, question_terms("What does the library folder contain?"))
    assert sentence == ("Your library is one folder containing two things: library.db, the "
                        "SQLite database with the passages; files/, the copies of your documents.")


def test_a_long_list_gives_its_items_alone_and_never_the_bare_lead_in() -> None:
    items = "\n".join(f"• Mode {i} finds passages in its own way, which takes a long sentence "
                      f"to say properly and clearly." for i in range(8))
    text = f"Folio has eight search modes:\n{items}\n• Hybrid runs both and merges the results."
    sentence = best_sentence(text, question_terms("What do the search modes do?"))
    assert not sentence.endswith(":") and sentence.startswith("Mode 0 finds")
    assert best_sentence(text, question_terms("What does hybrid do?")) == (
        "Hybrid runs both and merges the results.")


def test_a_table_row_is_quoted_with_its_header() -> None:
    sentence = best_sentence(TABLE, question_terms("Which shortcut stops the answer?"))
    assert sentence == "Action: Stop the answer; Shortcut: Esc"


def test_sources_below_the_minimum_relevance_are_not_quoted() -> None:
    sources = [Source(1, hit(1, "The fog signal sounded every thirty seconds.", keyword=False)),
               Source(2, hit(2, "The lamp was trimmed each evening.", keyword=False))]
    text = extractive_text("How often did the fog signal sound?", sources, [0.45, 0.12])
    assert "[1]" in text and "[2]" not in text
    assert extractive_text("What is the capital of Peru?", sources, [0.1, 0.05]) == (
        NOTHING_RELEVANT_TEXT)
    # Found by its words, with half of the question's words in the sentence: quoted.
    worded = [Source(1, hit(1, "Error BX-200 means the pump is dry."))]
    assert "[1]" in extractive_text("What does error BX-200 mean?", worded, [0.1])


def test_an_off_topic_question_quotes_nothing_from_a_real_library(library: Library,
                                                                  docs_dir: Path) -> None:
    notes = docs_dir / "keeper.md"
    notes.write_text("# The keeper's log\n\nThe fog signal sounded every thirty seconds while "
                     "the horizon could not be seen.\n\nSupplies came by boat every second week "
                     "when the sea allowed a landing at the jetty.\n", encoding="utf-8")
    library.add([notes])

    def answer(question: str) -> AnswerDone:
        events = list(library.ask(question, host=refused_host(), save=False))
        done = events[-1]
        assert isinstance(done, AnswerDone) and done.answer.mode is AnswerMode.EXTRACTIVE
        return done

    on_topic = answer("How often did the fog signal sound?").answer
    assert "every thirty seconds" in on_topic.text and on_topic.citations
    off_topic = answer("How do I replace the water filter in my fridge?").answer
    assert off_topic.text == NOTHING_RELEVANT_TEXT and not off_topic.citations
