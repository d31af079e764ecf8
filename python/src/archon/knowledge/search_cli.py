"""`archon search`: runs one query through the search service and renders the ranked results as text."""

from __future__ import annotations

import json
from dataclasses import asdict

from archon.config import Settings
from archon.knowledge.search import SearchService
from archon.knowledge.search_models import ReturnMode, SearchFilters, SearchMode, SearchResponse
from archon.runtime import Runtime


def render(response: SearchResponse, *, snippet_chars: int = 240) -> str:
    """Human-readable ranked results: rank, score, match type, title, headings, url and a snippet."""
    lines = [f"{len(response.results)} result(s), {response.search_mode} search, {response.took_ms:.0f} ms"
             + (", reranked" if response.reranked else "")]
    lines += [f"note: {n}" for n in response.notices]
    for rank, r in enumerate(response.results, start=1):
        where = " > ".join(r.headings) if r.headings else r.title
        snippet = " ".join(r.content.split())
        snippet = snippet if len(snippet) <= snippet_chars else snippet[:snippet_chars - 1] + "…"
        lines += ["", f"{rank}. [{r.score:.4f} {r.match_type}] {where}", f"   {r.url}", f"   {snippet}"]
    return "\n".join(lines)


async def run_search(settings: Settings, query: str, *, sources: list[str], mode: SearchMode | None, limit: int,
                     return_mode: ReturnMode, as_json: bool) -> str:
    """Start a runtime without a worker, search once, return the rendered output."""
    runtime = await Runtime.start(settings, run_worker=False)
    try:
        response = await SearchService(runtime).query(
            query, match_count=limit, filters=SearchFilters(source_ids=tuple(sources)), search_mode=mode,
            return_mode=return_mode)
    finally:
        await runtime.stop()
    if as_json:
        return json.dumps(asdict(response), default=str, indent=2)
    return render(response)
