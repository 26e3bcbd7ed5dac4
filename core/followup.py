"""Whether a question reads as a follow-up, so that searching without a model adds the history.

A model rewrites a follow-up into a standalone question. Without one, the earlier questions are
searched together with the new one, which helps "Does it cover frost?" and harms a new topic (a
question about a water filter drew sources about what was asked before). So only a question
that leans on what came before takes the history with it: one that points back (it, they,
that...), starts by continuing (and, but, what about...), trails off (an ellipsis), or is too
short to stand alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.answer_types import Turn
from core.prompt import heuristic_standalone

MAX_SHORT_WORDS = 3  # "Since when?", "And the price?", "How long?" cannot stand alone
# A pointing word among the first words points back ("Does it cover frost?", "How much did they
# cost?"); later, it mostly points inside the question ("...the dough, before it can rise?").
POINTING_WINDOW = 4
# Words that point back to something said before. Not "there" and "then", which more often
# start a question of their own ("Is there a warranty...?").
_POINTING_TEXT = """
it its itself they them their theirs themselves he him his she her hers this that these those
former latter same such
"""
POINTING = frozenset(_POINTING_TEXT.split())
CONTINUING = ("and", "but", "or", "also", "so", "plus", "what about", "how about", "what else",
              "anything else", "why not", "how come")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_ELLIPSIS = re.compile(r"^\s*(\.\.\.|…)|(\.\.\.|…)\s*\??\s*$")


def reads_as_follow_up(question: str) -> bool:
    """Whether question leans on the conversation before it (pronouns, continuing, ellipsis,
    very short)."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        return False
    if len(words) <= MAX_SHORT_WORDS or _ELLIPSIS.search(question):
        return True
    start = " ".join(words[:2])
    if any(start == c or start.startswith(c + " ") for c in CONTINUING):
        return True
    return any(re.split(r"['’]", w)[0] in POINTING for w in words[:POINTING_WINDOW])


def standalone_without_model(question: str, history: Sequence[Turn]) -> str:
    """What to search for question when no model can rewrite it: with the recent questions
    only when it reads as a follow-up."""
    if history and reads_as_follow_up(question):
        return heuristic_standalone(question, history)
    return question
