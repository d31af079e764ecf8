"""Project-scoped search end to end: links made through the projects API steer /api/rag/query's project_id."""

from __future__ import annotations

from typing import Any

import httpx

from tests.knowledge.search_corpus import BIZ, DOCS, load_corpus
from tests.projects.conftest import make_project


async def test_rag_query_scoped_by_project_links_made_over_rest(client: httpx.AsyncClient, app: Any) -> None:
    await load_corpus(app.state.runtime)
    pid = (await make_project(client, "Sales site"))["id"]

    async def sources_found() -> set[str]:
        response = await client.post("/api/rag/query", json={"query": "asyncio gather concurrently pricing",
                                                              "project_id": pid, "match_count": 50})
        assert response.status_code == 200, response.text
        return {r["source_id"] for r in response.json()["results"]}

    assert await sources_found() == set()  # nothing linked yet: a scoped search finds nothing
    linked = await client.post(f"/api/projects/{pid}/sources", json={"source_id": BIZ, "relation": "business"})
    assert linked.status_code == 201
    assert await sources_found() == {BIZ}
    await client.post(f"/api/projects/{pid}/sources", json={"source_id": DOCS})
    assert await sources_found() == {BIZ, DOCS}
    assert (await client.delete(f"/api/projects/{pid}/sources/{BIZ}")).status_code == 200
    assert await sources_found() == {DOCS}
