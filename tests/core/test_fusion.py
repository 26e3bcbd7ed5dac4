"""Fusion of the keyword and meaning sides: z-score fusion (Fusion.ZSCORE) on a real library,
against the order written out here from each side's hits."""

from __future__ import annotations

import dataclasses
import statistics

import pytest

from core import search as search_module
from core.library import Library
from core.search import Fusion, SearchMode, SearchParams
from tests.core.test_search import TOPICS

# test_search's topics, and a second harbour page that alone says "diesel"
DOCS = {**TOPICS, "fuel.md": "# Harbour guide, part two\n\n## Fuel\n\nThe fuel berth by the harbour "
                            "office sells diesel from eight in the morning; pay at the office."}

ZSCORE = dataclasses.replace(search_module.DEFAULT_PARAMS, fusion=Fusion.ZSCORE)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    docs = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    library = Library.open(tmp_path_factory.mktemp("lib"))
    assert all(o.status.value == "added" for o in library.add([docs]))
    return library


def z_order(keyword: list[tuple[int, float]], semantic: list[tuple[int, float]],
            params: SearchParams) -> list[tuple[int, float]]:
    """(passage id, fused score) best first, written out: each side's scores (BM25; 1 -
    cosine distance) as (score - mean) / population sd of that side's hits, a passage a side
    did not return at that side's lowest, the keyword side weighted keyword_share; a side
    whose hits all score the same gives them 1 and the rest 0."""
    sides = []
    for share, hits in ((params.keyword_share, keyword),
                        (1 - params.keyword_share, semantic)):
        values = [s for _, s in hits] if hits is keyword else [1 - d for _, d in hits]
        mean, sd = statistics.fmean(values), statistics.pstdev(values)
        if sd == 0:
            sides.append((share, {pid: 1.0 for pid, _ in hits}, 0.0))
            continue
        z = {pid: (v - mean) / sd for (pid, _), v in zip(hits, values, strict=True)}
        sides.append((share, z, min(z.values())))
    ids = dict.fromkeys([*(p for p, _ in keyword), *(p for p, _ in semantic)])
    fused = {pid: sum(share * z.get(pid, low) for share, z, low in sides) for pid in ids}
    return sorted(fused.items(), key=lambda row: -row[1])


QUERIES = ["harbour office diesel", "what does a night in the harbour cost",
           "battery warranty months", "how long must dough rise"]


@pytest.mark.parametrize("query", QUERIES)
def test_zscore_fusion_orders_hits_by_the_sum_of_standard_scores(library: Library,
                                                                 query: str) -> None:
    searcher = library.searcher()
    keyword, semantic = searcher.hybrid_sides(query, ZSCORE.candidates, None, ZSCORE)
    assert keyword and semantic and len(keyword) < len(semantic)  # some passages meaning-only
    expected = z_order(keyword, semantic, ZSCORE)
    hits = library.search(query, k=len(expected), params=ZSCORE).hits
    assert [h.passage_id for h in hits] == [pid for pid, _ in expected]
    assert [h.score for h in hits] == pytest.approx([score for _, score in expected], abs=1e-9)


def test_zscore_fusion_finds_what_each_side_finds(library: Library) -> None:
    """A word only one passage holds, and a paraphrase sharing no word, are both first."""
    top = library.search("diesel", k=3, params=ZSCORE).hits[0]
    assert top.title == "Harbour guide, part two" and top.keyword_rank == 1
    query = "Where can guests tie up their yacht overnight, and what is the fee?"
    assert all("buoys" not in h.text for h in library.search(query, mode=SearchMode.KEYWORD).hits)
    top = library.search(query, k=3, params=ZSCORE).hits[0]
    assert top.title == "Harbour guide" and "yellow buoys" in top.text


def test_zscore_fusion_does_not_depend_on_a_sides_scale() -> None:
    """Scores of one side multiplied and shifted fuse to the same order; a side whose hits all
    score the same (one hit, say) counts them as found, the rest not."""
    keyword = [(1, 9.0), (2, 7.5), (3, 2.0), (4, 1.0)]
    semantic = [(3, 0.20), (5, 0.30), (1, 0.50), (6, 0.55)]
    plain = [row[0] for row in search_module.fuse(keyword, semantic, ZSCORE)]
    scaled = [(pid, 100 * s + 3) for pid, s in keyword]
    assert [row[0] for row in search_module.fuse(scaled, semantic, ZSCORE)] == plain
    assert plain == [pid for pid, _ in z_order(keyword, semantic, ZSCORE)]
    flat = [(pid, 0.4) for pid, _ in semantic]
    # 5 and 6, found by meaning only, pass 4, the keyword side's last (as low as not found)
    assert [row[0] for row in search_module.fuse(keyword, flat, ZSCORE)] == [1, 2, 3, 5, 6, 4]
    one = [row[0] for row in search_module.fuse([(6, 3.0)], semantic, ZSCORE)]
    assert one == [pid for pid, _ in z_order([(6, 3.0)], semantic, ZSCORE)] == [3, 5, 6, 1]


def test_zscore_statistics_are_those_of_the_top_normalise_depth() -> None:
    """With normalise_depth=2 the mean and sd are the first two hits' alone; the hits past
    them are scored on that scale. Written out: keyword 9, 7 (mean 8, sd 1) give 1, -1, and
    4, 1 past them -4, -7 (the floor); 1 - distance 0.8, 0.6 (mean 0.7, sd 0.1) give 1, -1,
    and 0.1 -6 (the floor); each side counts half."""
    params = dataclasses.replace(ZSCORE, normalise_depth=2, keyword_share=0.5)
    keyword = [(1, 9.0), (2, 7.0), (3, 4.0), (4, 1.0)]
    semantic = [(2, 0.2), (5, 0.4), (1, 0.9)]
    fused = search_module.fuse(keyword, semantic, params)
    assert [(pid, k, s) for pid, _, k, s in fused] == [
        (2, 2, 1), (1, 1, 3), (5, None, 2), (3, 3, None), (4, 4, None)]
    assert [score for _, score, _, _ in fused] == pytest.approx([
        0.5 * -1 + 0.5 * 1,  # 2
        0.5 * 1 + 0.5 * -6,  # 1
        0.5 * -7 + 0.5 * -1,  # 5: not found by keyword, so at its floor
        0.5 * -4 + 0.5 * -6,  # 3: not found by meaning
        0.5 * -7 + 0.5 * -6])  # 4


def test_zscore_top_depth_all_equal_scores_them_1_and_lower_hits_past_depth_0() -> None:
    """Keyword's first two score 3 (no spread): they and hit 6, past depth but scoring 3 too,
    are 1; hit 3, scoring 2, is 0, as is a passage keyword did not return. Meaning's 0.8, 0.6
    (mean 0.7, sd 0.1) give 1, -1, and 0.4 -3 (the floor)."""
    params = dataclasses.replace(ZSCORE, normalise_depth=2, keyword_share=0.5)
    keyword = [(1, 3.0), (2, 3.0), (6, 3.0), (3, 2.0)]
    semantic = [(3, 0.2), (4, 0.4), (5, 0.6)]
    fused = {pid: score for pid, score, _, _ in search_module.fuse(keyword, semantic, params)}
    assert fused == pytest.approx({
        1: 0.5 * 1 + 0.5 * -3, 2: 0.5 * 1 + 0.5 * -3, 6: 0.5 * 1 + 0.5 * -3,
        3: 0.5 * 0 + 0.5 * 1, 4: 0.5 * 0 + 0.5 * -1, 5: 0.5 * 0 + 0.5 * -3})
