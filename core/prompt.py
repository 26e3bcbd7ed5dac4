"""The prompts sent to the model: numbered sources that fit its context, and follow-up rewriting.

Ollama silently drops the start of a prompt longer than `num_ctx`, which would cut the rules and
the best sources. So the prompt is counted, only the best sources that fit are kept, and
`num_ctx` is set explicitly to cover the prompt plus room for the answer.

A source carries its evidence brief (`prompt-sources brief`, the default; core/brief.py: the
passage's sentences that matter for the question, with its section), which lets about twice the
sources fit in the same tokens, or its whole passage (`passages`); the source's number, page and
passage are the same either way.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tokenizers import Tokenizer

from core import brief
from core.answer_types import Source, Turn
from core.citations import strip_markers
from core.embedding import Embedder, bundled_tokenizer_dir
from core.resources import resource_path

# Token counts come from the bundled WordPiece tokenizer: chat models' BPE vocabularies count
# English prose within about 10% of it and other scripts differently, so the margin is generous.
TOKEN_MARGIN = 1.3
ANSWER_RESERVE = 1024  # tokens left for the answer
MIN_CONTEXT = 4096  # also the size of the follow-up rewrite, so both share one loaded model
DEFAULT_MAX_CONTEXT = 8192  # a larger context costs memory and time on a laptop
HISTORY_TURNS = 3  # earlier turns the answer sees
HISTORY_ANSWER_CHARS = 1200  # an earlier answer is shortened to this in the prompt
PASSAGES, BRIEF = "passages", "brief"  # what a source carries (the prompt-sources setting)
SOURCE_KINDS = (PASSAGES, BRIEF)
BRIEF_SOURCES = 2  # a brief prompt is offered this many times the sources a passage one is


def sources_wanted(k: int, kind: str) -> int:
    """How many passages to retrieve for a prompt of k passages' worth of sources."""
    return k * BRIEF_SOURCES if kind == BRIEF else k


@functools.cache
def template(name: str) -> str:
    return resource_path("prompts", name).read_text(encoding="utf-8")


@functools.cache
def _tokenizer() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(bundled_tokenizer_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(text: str) -> int:
    """An estimate of a chat model's token count for text, erring high."""
    wordpiece = len(_tokenizer().encode(text, add_special_tokens=False).ids)
    return math.ceil(max(wordpiece, len(text) / 4) * TOKEN_MARGIN)


_SOURCE_TAG = re.compile(r"<\s*(/?)\s*source", re.IGNORECASE)


def _attribute(value: str) -> str:
    """A title or page label (from the document's metadata: untrusted) as a safe attribute."""
    return value.replace('"', "'").replace("<", "‹").replace(">", "›").replace("\n", " ").strip()


def format_source(source: Source, text: str | None = None, section: str = "") -> str:
    """Source n as the prompt shows it: its passage, or text (its brief) under its section."""
    hit = source.hit
    # A passage cannot close its own tag or open another and pose as the prompt, in any case.
    text = _SOURCE_TAG.sub(lambda m: f"‹{m.group(1)}source", hit.text if text is None else text)
    page = hit.page_label or str(hit.page)
    if section:
        return template("source_brief.txt").format(
            n=source.n, title=_attribute(hit.title), page=_attribute(page),
            section=_attribute(section), text=text).strip()
    return template("source.txt").format(n=source.n, title=_attribute(hit.title),
                                         page=_attribute(page), text=text).strip()


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    sources: tuple[Source, ...]  # the sources that fit, numbered 1..n in rank order
    tokens: int  # estimated tokens of all messages
    num_ctx: int


def _history_messages(history: Sequence[Turn]) -> list[dict[str, str]]:
    messages = []
    for turn in history[-HISTORY_TURNS:]:
        # Its [n] pointed at that turn's sources, not at this one's: left in, they invite
        # wrong citations.
        answer = strip_markers(turn.answer)
        if len(answer) > HISTORY_ANSWER_CHARS:
            answer = answer[:HISTORY_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
        messages += [{"role": "user", "content": turn.question},
                     {"role": "assistant", "content": answer}]
    return messages


def build_answer_prompt(question: str, candidates: Sequence[Source], history: Sequence[Turn],
                        max_context: int = DEFAULT_MAX_CONTEXT,
                        model_context: int | None = None, kind: str = PASSAGES,
                        focus: str | None = None, *,
                        brief_embedder: Embedder | None = None) -> Prompt:
    """The best sources, in rank order, that fit in the context together with the rules,
    the recent turns and room for the answer; num_ctx set to what the prompt needs.

    kind BRIEF: each source carries its brief for focus (the question as searched, a
    follow-up's standalone form; default question) instead of its whole passage, scored by
    words (brief_embedder: by words and that model's cosine, seconds on CPU: for
    tests/bench/brief.py's comparison)."""
    limit = min(max_context, model_context or max_context)
    system = template("answer_system.txt").strip()
    history_msgs = _history_messages(history)
    empty_user = template("answer_user.txt").format(sources="", question=question)
    fixed = count_tokens(system) + count_tokens(empty_user) + 8 * (len(history_msgs) + 2)
    history_tokens = [count_tokens(m["content"]) for m in history_msgs]
    # Oldest turns go first when the rules and the question alone nearly fill the context.
    while history_msgs and fixed + sum(history_tokens) + ANSWER_RESERVE > limit // 2:
        history_msgs, history_tokens = history_msgs[2:], history_tokens[2:]
    used = fixed + sum(history_tokens)
    kept: list[Source] = []
    blocks: list[str] = []
    texts: list[str | None] = [None] * len(candidates)
    if kind == BRIEF:
        texts = list(brief.briefs(focus or question, candidates, brief_embedder))
    for candidate, text in zip(candidates, texts, strict=True):
        renumbered = Source(len(kept) + 1, candidate.hit)
        block = format_source(renumbered, text, brief.section_of(candidate)) if (
            text is not None) else format_source(renumbered)
        cost = count_tokens(block) + 2
        if used + cost + ANSWER_RESERVE > limit:
            break
        kept.append(renumbered)
        blocks.append(block)
        used += cost
    user = template("answer_user.txt").format(sources="\n\n".join(blocks), question=question)
    messages = [{"role": "system", "content": system}, *history_msgs,
                {"role": "user", "content": user}]
    return Prompt(messages, tuple(kept), used, context_size(used + ANSWER_RESERVE, limit))


def context_size(needed: int, limit: int) -> int:
    """The num_ctx to send: the smallest of a few fixed sizes that holds `needed` (at most limit).

    Few distinct values on purpose: Ollama reloads the model whenever num_ctx changes, which
    costs seconds on a laptop and loses its prompt cache.
    """
    size = MIN_CONTEXT
    while size < needed and size < limit:
        size *= 2
    return min(size, limit)


def build_rewrite_prompt(question: str, history: Sequence[Turn]) -> list[dict[str, str]]:
    lines = []
    for turn in history[-HISTORY_TURNS:]:
        answer = turn.answer[:400].rsplit(" ", 1)[0] if len(turn.answer) > 400 else turn.answer
        lines += [f"User: {turn.question}", f"Assistant: {answer}"]
    text = template("rewrite.txt").format(history="\n".join(lines), question=question)
    return [{"role": "user", "content": text}]


def clean_rewrite(reply: str, fallback: str) -> str:
    """The model's standalone question without quotes, labels or chatter; fallback if unusable."""
    text = reply.strip().splitlines()[0].strip() if reply.strip() else ""
    for label in ("Standalone question:", "Question:"):
        if text.lower().startswith(label.lower()):
            text = text[len(label):].strip()
    text = text.strip('"“”\'` ')
    return text if 3 <= len(text) <= 1000 else fallback


def heuristic_standalone(question: str, history: Sequence[Turn]) -> str:
    """Without a model: the recent questions before this one give its missing context."""
    earlier = [t.question for t in history[-2:]]
    return " ".join([*earlier, question])
