"""Pure ranking logic for search: reciprocal rank fusion, page grouping, identifier detection (IO-free)."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

MatchType = Literal["vector", "keyword", "both"]
K = TypeVar("K", bound=Hashable)

# A code identifier is a token an English stemmer would mangle or split: snake_case, dotted paths,
# --long-options, camelCase / PascalCase with an inner capital, call syntax, or ALL_CAPS constants.
_TOKEN = re.compile(r"[-\w.:/()]+")
_IDENT = re.compile(
    r"""^(?:
        -{1,2}[a-z][\w-]*            # --force-with-lease, -v
      | [a-z_]\w*_\w+                # pg_stat_activity, __init__
      | \w+(?:\.\w+)+(?:\(\))?       # asyncio.gather, os.path.join()
      | [a-z]+[A-Z]\w*               # useEffect, getElementById
      | [A-Z][a-z0-9]+[A-Z]\w*       # HttpResponse
      | \w+\(\)                      # print()
    )$""",
    re.VERBOSE,
)


def identifiers(query: str, *, limit: int = 8) -> list[str]:
    """Code identifiers in a query, in order, without duplicates (searched with the 'simple' configuration)."""
    found: list[str] = []
    for raw in _TOKEN.findall(query):
        token = raw.rstrip(".,:;") if raw.rstrip(".,:;").endswith("()") else raw.strip(".,:;/()")
        if not token or not _IDENT.match(token):
            continue
        token = token.removesuffix("()")
        if token not in found:
            found.append(token)
        if len(found) >= limit:
            break
    return found


@dataclass(frozen=True)
class FusionConfig:
    """Reciprocal rank fusion: score = sum(weight / (k + rank)) over the lists a result appears in."""

    k: float = 60.0
    vector_weight: float = 1.0
    keyword_weight: float = 1.0
    heading_weight: float = 0.0  # extra weight for a keyword hit whose match is in a heading or title
    partial_factor: float = 1.0  # keyword weight multiplier for hits matching only some of the query terms

    def __post_init__(self) -> None:
        if self.k <= 0:
            raise ValueError("k must be positive")
        if min(self.vector_weight, self.keyword_weight, self.heading_weight, self.partial_factor) < 0:
            raise ValueError("weights must not be negative")


@dataclass
class Fused(Generic[K]):
    key: K
    score: float
    match_type: MatchType
    vector_rank: int | None = None  # 1-based
    keyword_rank: int | None = None


def rrf(vector: Sequence[K], keyword: Sequence[K], *, config: FusionConfig = FusionConfig(),
        heading_hits: frozenset[K] | set[K] = frozenset(),
        partial_hits: frozenset[K] | set[K] = frozenset()) -> list[Fused[K]]:
    """Fuse two ranked lists (best first); ties keep the vector list's order, then the keyword list's."""
    fused: dict[K, Fused[K]] = {}
    for rank, key in enumerate(vector, start=1):
        if key not in fused:
            fused[key] = Fused(key, config.vector_weight / (config.k + rank), "vector", vector_rank=rank)
    for rank, key in enumerate(keyword, start=1):
        item = fused.get(key)
        bonus = config.heading_weight if key in heading_hits else 0.0
        weight = config.keyword_weight * (config.partial_factor if key in partial_hits else 1.0)
        gain = (weight + bonus) / (config.k + rank)
        if item is None:
            fused[key] = Fused(key, gain, "keyword", keyword_rank=rank)
        elif item.keyword_rank is None:
            item.score += gain
            item.keyword_rank = rank
            item.match_type = "both"
    order = {key: i for i, key in enumerate(fused)}
    return sorted(fused.values(), key=lambda f: (-f.score, order[f.key]))


def match_types(vector: Sequence[K], keyword: Sequence[K]) -> dict[K, MatchType]:
    """Which list(s) each key came from."""
    in_vector, in_keyword = set(vector), set(keyword)
    result: dict[K, MatchType] = {}
    for key in [*vector, *keyword]:
        result[key] = "both" if key in in_vector and key in in_keyword else (
            "vector" if key in in_vector else "keyword")
    return result


@dataclass
class PageGroup(Generic[K]):
    page: Hashable
    best: K
    score: float
    keys: list[K] = field(default_factory=list)


def group_pages(ranked: Sequence[tuple[K, Hashable, float]], *, limit: int,
                extra_chunk_weight: float = 0.1) -> list[PageGroup[K]]:
    """Collapse ranked (key, page, score) rows into distinct pages, best chunk first.

    A page scores its best chunk plus a small share of its other matching chunks: a page that
    answers in several places edges out one lucky chunk, but never outranks a much better chunk.
    """
    groups: dict[Hashable, PageGroup[K]] = {}
    for key, page, score in ranked:
        group = groups.get(page)
        if group is None:
            groups[page] = PageGroup(page, key, score, [key])
        else:
            group.keys.append(key)
            group.score += extra_chunk_weight * score
    order = {page: i for i, page in enumerate(groups)}
    return sorted(groups.values(), key=lambda g: (-g.score, order[g.page]))[:limit]
