/** Where the API lives: a user override, the server's /config.json, or the same host on port 8080. */

const OVERRIDE_KEY = "archon.apiUrl";

export interface RuntimeConfig {
  /** Base URL of the REST API without a trailing slash; "" means same origin (dev proxy). */
  apiUrl: string;
}

let current: RuntimeConfig = { apiUrl: defaultApiUrl(8080) };

function defaultApiUrl(port: number): string {
  const { protocol, hostname } = window.location;
  return `${protocol}//${hostname}:${port}`;
}

function clean(url: string): string {
  return url.replace(/\/+$/, "");
}

/** Load /config.json once at start-up; a missing or broken file keeps the default. */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  const override = readOverride();
  let fromServer: RuntimeConfig | null = null;
  try {
    const res = await fetchImpl("/config.json", { headers: { accept: "application/json" } });
    if (res.ok) {
      const body: unknown = await res.json();
      fromServer = parseConfig(body);
    }
  } catch {
    // No config file (e.g. served by another static server): fall back to the default port.
  }
  current = { apiUrl: override ?? fromServer?.apiUrl ?? defaultApiUrl(8080) };
  return current;
}

export function parseConfig(body: unknown): RuntimeConfig | null {
  if (typeof body !== "object" || body === null) return null;
  const record = body as Record<string, unknown>;
  if (typeof record.apiUrl === "string") return { apiUrl: clean(record.apiUrl) };
  if (typeof record.apiPort === "number") return { apiUrl: defaultApiUrl(record.apiPort) };
  return null;
}

export function getConfig(): RuntimeConfig {
  return current;
}

export function readOverride(): string | null {
  const value = window.localStorage.getItem(OVERRIDE_KEY);
  return value ? clean(value) : null;
}

/** Persist (or clear with null) a user-chosen API URL; takes effect at once. */
export function setApiUrlOverride(url: string | null): void {
  if (url) {
    window.localStorage.setItem(OVERRIDE_KEY, clean(url));
    current = { apiUrl: clean(url) };
  } else {
    window.localStorage.removeItem(OVERRIDE_KEY);
  }
}

/** ws:// or wss:// URL for an API path, carrying the API key as ?token= (browsers cannot set headers). */
export function wsUrl(path: string, token: string | null): string {
  const base = current.apiUrl || `${window.location.protocol}//${window.location.host}`;
  const url = new URL(base + path);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (token) url.searchParams.set("token", token);
  return url.toString();
}
