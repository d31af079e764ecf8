// End-to-end: the built dashboard in Debian's Chromium against a real `archon serve` and a local docs site.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { artifact, ensureBuilt, freePort, launchBrowser, startBackend, startDocsSite } from "./harness.mjs";

let backend;
let docs;
let docsUrl;
let browser;
let page;
let paths = new Set();
const consoleErrors = [];

async function apiJson(path, init = {}) {
  const res = await fetch(backend.apiUrl + path, {
    ...init,
    headers: { "content-type": "application/json", ...(init.headers ?? {}) },
  });
  const body = await res.json().catch(() => null);
  assert.ok(res.ok, `${init.method ?? "GET"} ${path} -> ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The reason a flow must be skipped: the first endpoint it needs that the backend does not have yet. */
function missing(...needed) {
  const gone = needed.filter((p) => !paths.has(p));
  return gone.length ? `endpoint ${gone.join(", ")} not available in this backend yet` : null;
}

/** Every form control and button on the page has an accessible name. */
async function assertLabelled(where) {
  const unlabelled = await page.evaluate(() => {
    const named = (el) =>
      (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim());
    return [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
      .filter((el) => !named(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
  assert.deepEqual(unlabelled, [], `unlabelled controls on ${where}`);
}

async function shot(name) {
  await page.screenshot({ path: artifact(name), fullPage: true });
}

before(async () => {
  ensureBuilt();
  const docsPort = await freePort();
  docs = await startDocsSite(docsPort);
  docsUrl = `http://127.0.0.1:${docsPort}/docs/index.html`;
  backend = await startBackend({ docsPort });
  const openapi = await apiJson("/openapi.json");
  paths = new Set(Object.keys(openapi.paths));
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  page.on("dialog", (d) => {
    consoleErrors.push(`unexpected dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  docs?.close();
});

test("every route loads and is deep-linkable", async () => {
  for (const [path, heading] of [["/", "Knowledge base"], ["/search", "Search playground"], ["/projects", "Projects"], ["/mcp", "MCP server"], ["/settings", "Settings"]]) {
    await page.goto(backend.uiUrl + path);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    await page.waitForLoadState("networkidle");
    await assertLabelled(path);
  }
  await page.goto(backend.uiUrl + "/no/such/page");
  await page.getByText("Page not found").waitFor();
  assert.equal(await page.getByTestId("backend-down").count(), 0);
});

test("crawl a local docs site and watch it finish", { timeout: 180_000 }, async (t) => {
  const why = missing("/api/knowledge-items/crawl", "/api/knowledge-items");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/");
  await page.getByRole("button", { name: "+ Add knowledge" }).click();
  const dialog = page.getByRole("dialog", { name: "Add knowledge" });
  await dialog.getByLabel("URL").fill(docsUrl);
  await dialog.getByLabel("Crawl type").selectOption("recursive");
  await dialog.getByLabel("Max depth").fill("2");
  await dialog.getByLabel("Max pages").fill("20");
  await dialog.getByLabel("Tags").fill("widgets, e2e");
  await assertLabelled("the crawl tab");
  await dialog.getByRole("button", { name: "Start crawl" }).click();
  const card = page.getByTestId("progress-card").first();
  await card.waitFor();
  await shot("01-knowledge-crawl-progress.png");
  await page.waitForSelector('[data-testid="progress-card"][data-status="completed"]', { timeout: 150_000 });
  const source = page.getByTestId("source-card").first();
  await source.waitFor({ timeout: 20_000 });
  // The list refreshes itself when the job completes (job event + knowledge stream).
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="page-count"]')?.textContent?.replace(/\D/g, "")) >= 3, null, { timeout: 20_000 });
  const pages = Number((await source.getByTestId("page-count").textContent())?.replace(/\D/g, ""));
  assert.ok(pages >= 3, `expected at least 3 pages, saw ${pages}`);
  await shot("02-knowledge-base.png");
});

test("upload files (picker and drag and drop) and render planted payloads inert", { timeout: 120_000 }, async (t) => {
  const why = missing("/api/documents/upload");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/");
  await page.getByRole("button", { name: "+ Add knowledge" }).click();
  const dialog = page.getByRole("dialog", { name: "Add knowledge" });
  await dialog.getByRole("tab", { name: "Upload files" }).click();
  const payload = [
    "# Payload notes",
    "See [the quuxle link](javascript:window.__xss=1) and [docs](https://example.com/docs).",
    "<script>window.__xss=3</script>",
    '<img src=x onerror="window.__xss=2">',
    "![pic](javascript:window.__xss=4)",
  ].join("\n\n");
  await dialog.getByLabel("Files to upload").setInputFiles({ name: "payloads.md", mimeType: "text/markdown", buffer: Buffer.from(payload) });
  // The second file arrives by drag and drop onto the drop zone.
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["Plain notes about the quuxle engine and its gears."], "notes.txt", { type: "text/plain" }));
    return dt;
  });
  await dialog.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer });
  await dialog.getByRole("list", { name: "Selected files" }).getByText("notes.txt").waitFor();
  await assertLabelled("the upload tab");
  await dialog.getByRole("button", { name: "Upload 2 files" }).click();
  await page.waitForSelector('[data-testid="progress-card"][data-status="completed"] >> text=2 files', { timeout: 90_000 });
  const card = page.getByTestId("source-card").filter({ hasText: "Payload notes" });
  await card.waitFor({ timeout: 20_000 });
  await card.getByRole("button", { name: /^Inspect/ }).click();
  const inspector = page.getByRole("dialog");
  await inspector.getByRole("button", { name: /Payload notes/ }).click();
  await inspector.getByTestId("page-content").getByText("quuxle link").waitFor();
  assert.equal(await page.locator("a[href^='javascript:' i]").count(), 0, "no javascript: links");
  assert.equal(await inspector.getByTestId("page-content").locator("img, script").count(), 0, "no injected elements");
  assert.equal(await page.evaluate(() => window.__xss), undefined, "payload did not run");
  await shot("03-upload-inspector.png");
  await inspector.getByRole("button", { name: "Close dialog" }).click();
});

test("search the crawled docs", { timeout: 60_000 }, async (t) => {
  const why = missing("/api/rag/query");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/search");
  await page.getByLabel("Query").fill("how do I install the frobnicator with pip");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const first = page.getByTestId("search-result").first();
  await first.waitFor();
  assert.match((await first.textContent()) ?? "", /frobnicat/i);
  assert.match(page.url(), /[?&]q=how/); // the query is in the URL: deep-linkable
  await shot("04-search.png");
  if (paths.has("/api/rag/code-examples")) {
    await page.getByLabel("Search code examples").check();
    await page.getByLabel("Query").fill("render a widget panel with retries");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const code = page.getByTestId("code-result").first();
    await code.waitFor();
    assert.match((await code.textContent()) ?? "", /frobnicate\(spec, retries=5\)/);
    assert.ok((await code.locator("span[class^='hljs-']").count()) > 0, "code results are highlighted");
  }
});

test("inspect a source: pages, chunks, highlighted code, inert payloads", { timeout: 60_000 }, async (t) => {
  const why = missing("/api/knowledge-items/{source_id}/pages", "/api/knowledge-items/{source_id}/chunks", "/api/knowledge-items/{source_id}/code-examples");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/");
  await page.getByTestId("source-card").filter({ hasText: "/docs/index.html" }).getByRole("button", { name: /^Inspect/ }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("tab", { name: /^Chunks/ }).click();
  await dialog.getByTestId("chunk").first().waitFor();
  await dialog.getByRole("tab", { name: /^Code examples/ }).click();
  await dialog.getByTestId("code-example").first().waitFor();
  assert.ok((await dialog.locator("code.hljs span[class^='hljs-']").count()) > 0, "code is syntax highlighted");
  await shot("05-source-inspector-code.png");
  await dialog.getByRole("tab", { name: /^Pages/ }).click();
  await dialog.getByRole("button", { name: /Untrusted content notes/ }).click();
  const content = dialog.getByTestId("page-content");
  await content.getByText("zorblax").waitFor();
  assert.equal(await page.locator("a[href^='javascript:' i]").count(), 0, "no javascript: links");
  assert.equal(await page.locator("#main img").count(), 0, "no injected images");
  assert.equal(await page.evaluate(() => window.__xss), undefined, "payload did not run");
  await shot("06-source-inspector-page.png");
});

test("refresh, edit and delete sources", { timeout: 90_000 }, async (t) => {
  const why = missing("/api/knowledge-items/{source_id}", "/api/knowledge-items/{source_id}/refresh");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/");
  const crawled = page.getByTestId("source-card").filter({ hasText: "/docs/index.html" });
  await crawled.getByRole("button", { name: /^Refresh/ }).click();
  await page.waitForSelector('[data-testid="progress-card"][data-status="completed"] >> text=Refresh:', { timeout: 60_000 });

  const notes = page.getByTestId("source-card").filter({ hasText: "notes.txt" });
  await notes.getByRole("button", { name: /^Edit/ }).click();
  const edit = page.getByRole("dialog", { name: "Edit source" });
  await edit.getByLabel("Title").fill("Gear notes");
  await edit.getByLabel("Tags").fill("gears, notes");
  await edit.getByRole("button", { name: "Save" }).click();
  const renamed = page.getByTestId("source-card").filter({ hasText: "Gear notes" });
  await renamed.getByText("#gears").waitFor();

  await renamed.getByRole("button", { name: /^Delete/ }).click();
  const confirm = page.getByRole("dialog", { name: "Delete source" });
  await confirm.getByText(/cannot be undone/).waitFor();
  await confirm.getByRole("button", { name: "Delete" }).click();
  await renamed.waitFor({ state: "detached" });
  const list = await apiJson("/api/knowledge-items");
  assert.ok(!list.items.some((s) => s.title === "Gear notes"), "the source is gone on the server");
  await page.getByRole("button", { name: "Clear finished" }).click();
  await page.getByTestId("progress-card").first().waitFor({ state: "detached" });
});

test("create a project, move a task on the board, see agent changes live", { timeout: 90_000 }, async (t) => {
  const why = missing("/api/projects", "/api/projects/{project_id}/tasks", "/api/tasks/{task_id}/move");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/projects");
  await page.getByRole("button", { name: "+ New project" }).click();
  await page.getByLabel("Title").fill("E2E Launch");
  await page.getByLabel("Description").fill("Created by the dashboard end-to-end test");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByRole("heading", { level: 1, name: "E2E Launch" }).waitFor();
  const projectId = decodeURIComponent(page.url().split("/projects/")[1]);

  await page.getByRole("button", { name: "Add task to To do" }).click();
  await page.getByLabel("Title").fill("Write the release notes");
  await assertLabelled("the task dialog");
  await page.getByRole("button", { name: "Create task" }).click();
  const todo = page.getByTestId("column-todo");
  await todo.getByText("Write the release notes").waitFor();

  // Drag the task's handle into the Doing column.
  const handle = page.getByRole("button", { name: "Move task: Write the release notes" });
  const target = page.getByTestId("column-doing");
  const from = await handle.boundingBox();
  const to = await target.boundingBox();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + 20, from.y + 10, { steps: 5 });
  await page.mouse.move(to.x + to.width / 2, to.y + 60, { steps: 15 });
  await page.mouse.up();
  await target.getByText("Write the release notes").waitFor();
  let tasks = [];
  for (let i = 0; i < 40; i++) {
    tasks = (await apiJson(`/api/projects/${projectId}/tasks`)).tasks;
    if (tasks[0]?.status === "doing") break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(tasks[0]?.status, "doing", "the move reached the server");

  // A change made by someone else (an agent through MCP uses the same service) shows up without a reload.
  if (paths.has("/api/tasks")) {
    await apiJson(`/api/projects/${projectId}/tasks`, { method: "POST", body: JSON.stringify({ title: "Agent wrote this task", status: "review", assignee: "Archon" }) });
    await page.getByTestId("column-review").getByText("Agent wrote this task").waitFor({ timeout: 15_000 });
  }
  // The keyboard works too: focus the handle, Space, arrow right, Space.
  await handle.focus();
  await page.keyboard.press("Space");
  await page.locator("[aria-pressed='true']", { hasText: "⠿" }).waitFor(); // picked up
  await page.keyboard.press("ArrowRight");
  await page.getByTestId("column-review").getByRole("button", { name: "Move task: Write the release notes" }).waitFor();
  await page.keyboard.press("Space");
  await page.getByTestId("column-review").getByText("Write the release notes").waitFor();
  await shot("07-project-board.png");
});

test("project documents: edit, version history, restore", { timeout: 60_000 }, async (t) => {
  const why = missing("/api/projects/{project_id}/docs", "/api/projects/{project_id}/docs/{doc_id}/versions/{version}/restore");
  if (why) return t.skip(why);
  await page.getByRole("tab", { name: "Documents" }).click();
  await page.getByRole("button", { name: "+ New document" }).click();
  await page.getByLabel("Title").fill("Release plan");
  await page.getByLabel("Type").selectOption("spec");
  await page.getByLabel("Content", { exact: true }).fill("# Plan\n\nFirst draft of the plan.");
  await page.getByRole("button", { name: "Create document" }).click();
  await page.getByRole("button", { name: "Save document" }).waitFor();
  await page.getByLabel("Content", { exact: true }).fill("# Plan\n\nSecond draft, with [a link](javascript:window.__xss=9).");
  await page.getByRole("button", { name: "Save document" }).click();
  await page.getByRole("status").getByText("Saved.").waitFor();
  await page.getByRole("button", { name: "Version history" }).click();
  await page.getByRole("button", { name: "Restore version 1" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("textarea")].some((t) => t.value.includes("First draft")));
  await page.getByRole("group", { name: "Content view" }).getByRole("button", { name: "Preview" }).click();
  await page.getByLabel("Content preview").getByText("First draft of the plan.").waitFor();
  assert.equal(await page.locator("a[href^='javascript:' i]").count(), 0);
  await page.getByRole("button", { name: "Restore version 2" }).waitFor(); // v3 (the restore) is current
  await page.getByRole("button", { name: "View version 2" }).click();
  await page.getByLabel("Version 2 content").getByText("Second draft").waitFor();
  await shot("08-project-documents.png");
});

test("save a setting", { timeout: 60_000 }, async (t) => {
  const why = missing("/api/settings");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/settings");
  const rate = page.getByLabel("Requests per second per host");
  await rate.fill("7");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByTestId("settings-saved").waitFor();
  const body = await apiJson("/api/settings");
  assert.equal((body.settings ?? body).crawl_per_host_rate, 7);
  await page.reload();
  assert.equal(await page.getByLabel("Requests per second per host").inputValue(), "7");
  // An API key is stored but never shown again: only its last 4 characters.
  if (paths.has("/api/credentials")) {
    const secret = "sk-e2e-canary-secret-9876";
    await page.getByLabel("OPENROUTER_API_KEY", { exact: true }).fill(secret);
    await page.getByRole("button", { name: "Save OPENROUTER_API_KEY" }).click();
    await page.getByText(/ends in 9876/).waitFor();
    assert.equal(await page.getByLabel("OPENROUTER_API_KEY", { exact: true }).inputValue(), "");
    await page.reload();
    await page.getByText(/ends in 9876/).waitFor();
    assert.ok(!(await page.content()).includes(secret), "the secret never comes back to the page");
  }
  await assertLabelled("/settings with data");
  await shot("09-settings.png");
});

test("switching the embedding model shows re-embed progress and search keeps working", { timeout: 120_000 }, async (t) => {
  const why = missing("/api/settings", "/api/rag/query");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/settings");
  await page.getByLabel("Embedding model").fill("hash-v2");
  await page.getByRole("button", { name: "Save settings" }).click();
  const card = page.getByTestId("progress-card").filter({ hasText: "Re-embedding" });
  await card.waitFor();
  await page.waitForSelector('[data-testid="progress-card"][data-status="completed"] >> text=Re-embedding', { timeout: 90_000 });
  await shot("10-settings-reembed.png");
  await page.goto(backend.uiUrl + "/search?q=frobnicate+retries+backoff&mode=hybrid");
  assert.match((await page.getByTestId("search-result").first().textContent()) ?? "", /frobnicat/i);
});

test("MCP page shows status, client config and tools", { timeout: 30_000 }, async (t) => {
  const why = missing("/api/mcp/status", "/api/mcp/config", "/api/mcp/tools");
  if (why) return t.skip(why);
  await page.goto(backend.uiUrl + "/mcp");
  await page.getByTestId("mcp-running").getByText("Running").waitFor();
  await page.getByTestId("mcp-snippet").waitFor();
  assert.ok((await page.getByRole("list", { name: "MCP tools" }).getByRole("listitem").count()) > 0);
  await page.getByRole("log", { name: "MCP log entries" }).getByText(/listener started|serving on port/).first().waitFor();
  if (paths.has("/api/mcp/stop") && paths.has("/api/mcp/start")) {
    await page.getByRole("button", { name: "Stop HTTP listener" }).click();
    await page.getByTestId("mcp-running").getByText("Stopped").waitFor();
    await page.getByRole("button", { name: "Start HTTP listener" }).click();
    await page.getByTestId("mcp-running").getByText("Running").waitFor();
  }
  await shot("11-mcp.png");
});

test("dark theme", async () => {
  await page.goto(backend.uiUrl + "/");
  await page.getByRole("heading", { level: 1, name: "Knowledge base" }).waitFor();
  await page.getByTestId("source-card").first().waitFor();
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains("dark")), true);
  await shot("12-knowledge-dark.png");
  await page.getByRole("button", { name: "Switch to light theme" }).click();
});

test("no page errors or unexpected dialogs", () => {
  assert.deepEqual(consoleErrors, []);
});

test("the banner shows when the API goes down and clears when it is back", { timeout: 180_000 }, async () => {
  await page.goto(backend.uiUrl + "/projects");
  await page.getByTestId("project-card").first().waitFor();
  // Stop the whole server; the page already loaded stays up and must say what is wrong.
  await backend.halt();
  await page.getByTestId("backend-down").waitFor({ timeout: 30_000 });
  await shot("13-backend-unreachable.png");
  await backend.start(); // same data directory and ports
  await page.getByTestId("backend-down").waitFor({ state: "detached", timeout: 30_000 });
  // Everything was refetched: the data is there again without a reload.
  await page.getByTestId("project-card").filter({ hasText: "E2E Launch" }).waitFor();
});
