"""Injection-shaped tool arguments are data: no internal errors, no filter bypass."""

from __future__ import annotations

from typing import Any

from tests.conftest import LiveServer
from tests.mcp_server.conftest import error_text, http_session, structured

PAYLOADS = ["' OR 1=1--", "'; SELECT pg_sleep(5)--", "%", "_", "\\", '"', "*", "a:*", "!!", "(", "<script>", "\x00x"]


async def test_injection_payloads_never_break_a_tool(mcp_live: LiveServer) -> None:
    async with http_session(f"{mcp_live.url}/mcp") as session:
        pid = structured(await session.call_tool("create_project", {"title": "Inj"}))["id"]
        structured(await session.call_tool("create_task", {"project_id": pid, "title": "Only task"}))
        for payload in PAYLOADS:
            calls: list[tuple[str, dict[str, Any]]] = [
                ("list_tasks", {"project_id": pid, "text": payload}),
                ("list_tasks", {"assignee": payload}),
                ("search_knowledge", {"query": payload}),
                ("search_code_examples", {"query": payload}),
                ("get_task", {"task_id": payload}),
                ("read_page", {"url": payload}),
                ("list_documents", {"project_id": pid, "query": payload}),
            ]
            for name, args in calls:
                result = await session.call_tool(name, args)
                text = error_text(result) if result.is_error else ""
                assert "internal error" not in text and "Error executing tool" not in text, (name, payload, text)
                if name == "list_tasks" and not result.is_error:
                    assert structured(result)["total"] == 0, (name, payload)  # the filter held
