// End-to-end harness: a local docs site, the real Archon backend (`archon serve`), and Debian's Chromium.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const UI_DIR = resolve(here, "..");
export const REPO = resolve(UI_DIR, "..");
export const ARTIFACTS = join(REPO, "test-artifacts");
const ARCHON = join(REPO, "python", ".venv", "bin", "archon");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createNetServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Build dist/ when it is missing or older than the sources (`make install-ui` normally did it already). */
export function ensureBuilt() {
  const index = join(UI_DIR, "dist", "index.html");
  const newest = (dir) =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(UI_DIR, "src"))) return;
  const r = spawnSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: UI_DIR, stdio: "inherit" });
  if (r.status !== 0) throw new Error("vite build failed");
}

// --- a small documentation site ------------------------------------------------------------
const layout = (title, body) =>
  `<!doctype html><html><head><title>${title}</title></head><body>` +
  `<nav><a href="/docs/index.html">Home</a> | <a href="/docs/install.html">Install</a> | <a href="/docs/api.html">API</a></nav>` +
  `<main role="main"><h1>${title}</h1>${body}</main><footer>Widget Toolkit footer</footer></body></html>`;

export const DOCS = {
  "/docs/index.html": layout(
    "Widget Toolkit Documentation",
    `<p>The Widget Toolkit builds dashboards from small widgets.</p>
     <ul><li><a href="/docs/install.html">Installing the frobnicator</a></li>
     <li><a href="/docs/api.html">The frobnicate API reference</a></li>
     <li><a href="/docs/security.html">Untrusted content notes</a></li></ul>`,
  ),
  "/docs/install.html": layout(
    "Installing the frobnicator",
    `<p>Install the frobnicator package with pip before creating any widget.</p>
     <h2>Requirements</h2><p>Python 3.11 or newer and a working compiler for the quantum flux extension.</p>
     <pre><code class="language-bash">pip install frobnicator==2.4.1
frobnicator --version
frobnicator init --project my-dashboard</code></pre>`,
  ),
  "/docs/api.html": layout(
    "The frobnicate API reference",
    `<p>Call <code>frobnicate()</code> to turn a widget spec into a rendered panel.</p>
     <h2>frobnicate(spec, *, retries=3)</h2><p>Renders the widget and retries transient failures with exponential backoff.</p>
     <pre><code class="language-python">from frobnicator import frobnicate, WidgetSpec

def render_panel(name: str) -> str:
    spec = WidgetSpec(name=name, width=4, height=2)
    return frobnicate(spec, retries=5)
</code></pre>`,
  ),
  // Planted payloads: the dashboard must render these as inert text.
  "/docs/security.html": layout(
    "Untrusted content notes",
    `<p>This page carries payloads that must never run in the dashboard.</p>
     <p><a href="javascript:window.__xss=1">click the zorblax link</a></p>
     <p>&lt;img src=x onerror="window.__xss=2"&gt; and &lt;script&gt;window.__xss=3&lt;/script&gt; as text.</p>`,
  ),
};

export function startDocsSite(port) {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const body = path === "/" ? DOCS["/docs/index.html"] : DOCS[path];
    if (!body) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(body);
  });
  return new Promise((res) => server.listen(port, "127.0.0.1", () => res(server)));
}

// --- the backend ----------------------------------------------------------------------------
export async function startBackend({ docsPort }) {
  if (!existsSync(ARCHON)) throw new Error(`${ARCHON} is missing: run make install-python`);
  const [api, mcp, ui] = [await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), "archon-e2e-"));
  const env = {
    ...process.env,
    ARCHON_DATA_DIR: dataDir,
    ARCHON_HOST: "127.0.0.1",
    BACKEND_PORT: String(api),
    MCP_PORT: String(mcp),
    FRONTEND_PORT: String(ui),
    EMBEDDING_PROVIDER: "hash",
    ARCHON_CRAWL_ALLOWED_HOSTS: `127.0.0.1,127.0.0.1:${docsPort}`,
    ARCHON_CORS_ORIGINS: `http://127.0.0.1:${ui},http://localhost:${ui}`,
    CRAWL4_AI_BASE_DIRECTORY: dataDir,
    CRAWL4AI_NO_CLOUD_NOTICE: "1",
    LITELLM_LOCAL_MODEL_COST_MAP: "True",
    HF_HUB_OFFLINE: "1",
    LOG_LEVEL: "WARNING",
  };
  delete env.ARCHON_API_KEY;
  delete env.DATABASE_URL;
  const logs = [];
  const keep = (chunk) => {
    logs.push(chunk.toString());
    if (logs.length > 400) logs.shift();
  };
  const backend = {
    proc: null,
    dataDir,
    apiUrl: `http://127.0.0.1:${api}`,
    uiUrl: `http://127.0.0.1:${ui}`,
    logs,
    /** Start `archon serve` and wait until the API and the dashboard answer. */
    async start() {
      const proc = spawn(ARCHON, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
      proc.stdout.on("data", keep);
      proc.stderr.on("data", keep);
      backend.proc = proc;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`archon serve exited with ${proc.exitCode}:\n${logs.join("")}`);
        try {
          const [h, u] = await Promise.all([fetch(`${backend.apiUrl}/health`), fetch(`${backend.uiUrl}/config.json`)]);
          if (h.ok && u.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`archon serve did not become healthy in 120 s:\n${logs.join("")}`);
    },
    /** SIGTERM and wait for the exit (SIGKILL after 20 s); the data directory stays. */
    async halt() {
      const proc = backend.proc;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
    },
    async stop() {
      await backend.halt();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await backend.start();
  } catch (err) {
    await backend.stop();
    throw err;
  }
  return backend;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
