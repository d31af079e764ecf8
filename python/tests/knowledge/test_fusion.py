from __future__ import annotations

import pytest

from archon.knowledge.fusion import FusionConfig, group_pages, identifiers, match_types, rrf


def test_rrf_rewards_items_in_both_lists() -> None:
    fused = rrf([1, 2, 3], [3, 4], config=FusionConfig(k=60))
    assert fused[0].key == 3 and fused[0].match_type == "both"
    assert fused[0].vector_rank == 3 and fused[0].keyword_rank == 1
    assert {f.key: f.match_type for f in fused} == {3: "both", 1: "vector", 2: "vector", 4: "keyword"}
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)


def test_rrf_weights_and_k_change_the_order() -> None:
    assert [f.key for f in rrf([1], [2], config=FusionConfig(vector_weight=1, keyword_weight=2))] == [2, 1]
    assert [f.key for f in rrf([1], [2], config=FusionConfig(vector_weight=2, keyword_weight=1))] == [1, 2]
    # with a small k the top rank dominates: rank 1 in one list beats ranks 3+3 in both
    small = rrf([1, 9, 2], [7, 8, 2], config=FusionConfig(k=1))
    assert small[0].key in (1, 7) and small[0].score == pytest.approx(0.5)
    large = rrf([1, 9, 2], [7, 8, 2], config=FusionConfig(k=1000))
    assert large[0].key == 2


def test_rrf_heading_hits_get_extra_weight() -> None:
    plain = rrf([1], [2], config=FusionConfig(heading_weight=0.5))
    boosted = rrf([1], [2], config=FusionConfig(heading_weight=0.5), heading_hits={2})
    assert [f.key for f in plain] == [1, 2]
    assert [f.key for f in boosted] == [2, 1]


def test_rrf_ties_keep_vector_order_and_ignore_duplicates() -> None:
    fused = rrf([5, 6, 5], [], config=FusionConfig())
    assert [f.key for f in fused] == [5, 6]


def test_fusion_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="k must be positive"):
        FusionConfig(k=0)
    with pytest.raises(ValueError, match="negative"):
        FusionConfig(keyword_weight=-1)


def test_group_pages_keeps_best_chunk_and_distinct_pages() -> None:
    ranked = [("c1", "p1", 0.9), ("c2", "p2", 0.8), ("c3", "p1", 0.7), ("c4", "p3", 0.1)]
    groups = group_pages(ranked, limit=2)
    assert [g.page for g in groups] == ["p1", "p2"]
    assert groups[0].best == "c1" and groups[0].keys == ["c1", "c3"]
    assert groups[0].score == pytest.approx(0.9 + 0.1 * 0.7)


def test_group_pages_extra_chunks_do_not_beat_a_much_better_page() -> None:
    ranked = [("a", "p1", 1.0)] + [(f"b{i}", "p2", 0.5) for i in range(4)]
    assert [g.page for g in group_pages(ranked, limit=5)] == ["p1", "p2"]


@pytest.mark.parametrize(("query", "expected"), [
    ("what does pg_stat_activity show", ["pg_stat_activity"]),
    ("asyncio.gather with return_exceptions", ["asyncio.gather", "return_exceptions"]),
    ("git push --force-with-lease vs --force", ["--force-with-lease", "--force"]),
    ("useEffect cleanup function", ["useEffect"]),
    ("call os.path.join() on windows", ["os.path.join"]),
    ("HttpResponse status codes and print()", ["HttpResponse", "print"]),
    ("how do I run tasks concurrently", []),
])
def test_identifiers_finds_code_tokens(query: str, expected: list[str]) -> None:
    assert identifiers(query) == expected


def test_match_types_marks_overlap() -> None:
    assert match_types([1, 2], [2, 3]) == {1: "vector", 2: "both", 3: "keyword"}


def test_rrf_partial_keyword_hits_can_weigh_less() -> None:
    config = FusionConfig(partial_factor=0.25)
    assert [f.key for f in rrf([1], [2], config=config)] == [1, 2]  # tie: vector order first
    assert [f.key for f in rrf([1], [2], config=FusionConfig(keyword_weight=2))] == [2, 1]
    assert [f.key for f in rrf([1], [2], config=FusionConfig(keyword_weight=2, partial_factor=0.25),
                               partial_hits={2})] == [1, 2]
