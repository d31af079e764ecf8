"""Sources and project documents as MCP resources, and list_changed when they change."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_types import ResourceListChangedNotification

from archon.config import Settings
from archon.knowledge.service import KnowledgeService
from archon.projects.service import DocumentService, ProjectService
from tests.conftest import LiveServer
from tests.mcp_server.conftest import http_session, sse_session, stdio_session


class ChangeWatcher:
    """A message handler that counts notifications/resources/list_changed."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceListChangedNotification):
            self.count += 1
            self.changed.set()

    async def wait(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.changed.wait()
        self.changed.clear()


async def _project_doc(app: Any) -> tuple[str, str]:
    db = app.state.runtime.db
    project = await ProjectService(db).create({"title": "Res"})
    doc = await DocumentService(db).create(project.id, {"title": "Design", "content": "Use queues."})
    return str(project.id), str(doc.id)


async def test_sources_and_documents_are_listed_and_readable(app: Any, mcp_live: LiveServer) -> None:
    await KnowledgeService(app.state.runtime).create_source(
        source_id="src_res0000000000001", source_type="url", url="http://127.0.0.1:9/x", title="X docs"
    )
    pid, did = await _project_doc(app)
    async with http_session(f"{mcp_live.url}/mcp") as session:
        uris = {str(r.uri): r for r in (await session.list_resources()).resources}
        assert "archon://sources/src_res0000000000001" in uris
        assert f"archon://projects/{pid}/documents/{did}" in uris
        assert uris[f"archon://projects/{pid}/documents/{did}"].name == "Design"
        doc = await session.read_resource(f"archon://projects/{pid}/documents/{did}")
        assert "Use queues." in doc.contents[0].text  # type: ignore[union-attr]
        source = await session.read_resource("archon://sources/src_res0000000000001")
        text = source.contents[0].text  # type: ignore[union-attr]
        assert "X docs" in text and "Untrusted" in text
        templates = {t.uri_template for t in (await session.list_resource_templates()).resource_templates}
        assert "archon://sources/{source_id}" in templates


async def test_knowledge_change_notifies_connected_sessions(app: Any, mcp_live: LiveServer) -> None:
    http_changes, sse_changes = ChangeWatcher(), ChangeWatcher()
    async with (
        http_session(f"{mcp_live.url}/mcp", message_handler=http_changes) as http,
        sse_session(f"{mcp_live.url}/sse", message_handler=sse_changes),
    ):
        assert http.server_capabilities.resources.list_changed  # type: ignore[union-attr]
        await _until_listening(app)
        knowledge = KnowledgeService(app.state.runtime)
        await knowledge.create_source(
            source_id="src_res0000000000002", source_type="url", url="http://127.0.0.1:9/y", title="Y"
        )
        await http_changes.wait()
        await sse_changes.wait()
        await knowledge.delete_source("src_res0000000000002")
        await http_changes.wait()
        # A document created through the projects service changes the resource list too.
        await _project_doc(app)
        await http_changes.wait()


async def test_stdio_session_hears_changes_made_by_another_process(app: Any, settings: Settings) -> None:
    changes = ChangeWatcher()
    async with stdio_session(settings, message_handler=changes) as session:
        await session.list_resources()
        # The stdio process LISTENs in its own process; retry the change until it has subscribed.
        async with asyncio.timeout(20):
            while changes.count == 0:
                await KnowledgeService(app.state.runtime).create_source(
                    source_id="src_res0000000000003", source_type="url", url="http://127.0.0.1:9/z", title="Z"
                )
                await asyncio.sleep(0.5)
        uris = {str(r.uri) for r in (await session.list_resources()).resources}
        assert "archon://sources/src_res0000000000003" in uris


async def _until_listening(app: Any) -> None:
    """The HTTP app's knowledge watcher has its LISTEN active (events before that are not seen)."""
    async with asyncio.timeout(10):
        while app.state.mcp.watcher is None or not app.state.mcp.watcher.listening.is_set():
            await asyncio.sleep(0.02)


async def test_modern_client_gets_list_changed_through_subscriptions_listen(
    app: Any, mcp_live: LiveServer, client: Any
) -> None:
    from mcp import Client
    from mcp.client.subscriptions import ResourcesListChanged

    async with Client(f"{mcp_live.url}/mcp") as modern:
        await _until_listening(app)
        async with modern.listen(resources_list_changed=True) as subscription:
            status = (await client.get("/api/mcp/status")).json()
            assert any(s["client"] == "subscriptions/listen" for s in status["connected_sessions"])
            await KnowledgeService(app.state.runtime).create_source(
                source_id="src_res0000000000004", source_type="url", url="http://127.0.0.1:9/m", title="M"
            )
            async with asyncio.timeout(10):
                event = await anext(aiter(subscription))
            assert isinstance(event, ResourcesListChanged)
