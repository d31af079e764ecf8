import { errorMessage } from "./api";
import { parseConfig, wsUrl, loadConfig } from "./config";
import { backoffDelay, BACKOFF_MAX_MS } from "./useSocket";

describe("errorMessage", () => {
  it("names the field of a FastAPI validation error", () => {
    const body = { detail: [{ loc: ["body", "knowledge_type"], msg: "Input should be 'technical', 'business' or 'general'" }] };
    expect(errorMessage(body, 422)).toBe("knowledge_type: Input should be 'technical', 'business' or 'general'");
  });
  it("names the field of an Archon validation error", () => {
    const body = { error: "url: address 127.0.0.1 is internal", detail: [{ field: "url", message: "address 127.0.0.1 is internal" }] };
    expect(errorMessage(body, 422)).toBe("url: address 127.0.0.1 is internal");
  });
  it("uses Archon's {error, detail} body", () => {
    expect(errorMessage({ error: "not_found", detail: "source abc not found" }, 404)).toBe("source abc not found");
  });
  it("explains a 401 without a body", () => {
    expect(errorMessage(null, 401)).toMatch(/API key/);
  });
});

describe("backoffDelay", () => {
  it("doubles from 0.5 s and caps at 10 s", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, mid))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(30, mid)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(0, () => 0)).toBe(400);
    expect(backoffDelay(0, () => 1)).toBe(600);
  });
});

describe("config", () => {
  beforeEach(() => window.localStorage.clear());
  it("reads apiPort or apiUrl from /config.json", () => {
    expect(parseConfig({ apiPort: 9000 })?.apiUrl).toBe(`${window.location.protocol}//${window.location.hostname}:9000`);
    expect(parseConfig({ apiUrl: "https://api.example.com/" })?.apiUrl).toBe("https://api.example.com");
    expect(parseConfig("nope")).toBeNull();
  });
  it("prefers the user's override and builds ws URLs with the token", async () => {
    window.localStorage.setItem("archon.apiUrl", "https://archon.example.com:8443");
    await loadConfig(async () => new Response(JSON.stringify({ apiPort: 1234 })));
    expect(wsUrl("/api/crawl-progress/a b", "s3cr/et")).toBe("wss://archon.example.com:8443/api/crawl-progress/a%20b?token=s3cr%2Fet");
  });
  it("falls back to port 8080 when /config.json is missing", async () => {
    await loadConfig(async () => new Response("not found", { status: 404 }));
    expect(wsUrl("/x", null)).toBe(`ws://${window.location.hostname}:8080/x`);
  });
});

describe("api", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    window.localStorage.clear();
  });
  it("sends the stored API key as a bearer token and raises ApiError with the message", async () => {
    const { api, ApiError } = await import("./api");
    const { setApiKey } = await import("./apiKey");
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ error: "unauthorized", detail: "send Authorization" }), { status: 401 }));
    vi.stubGlobal("fetch", fetchMock);
    setApiKey("k3y");
    const err = await api("/api/projects").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as InstanceType<typeof ApiError>).status).toBe(401);
    const init = (fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer k3y");
    setApiKey(null);
    await api("/api/projects").catch(() => undefined);
    const second = (fetchMock.mock.calls[1] as unknown as [string, RequestInit])[1];
    expect((second.headers as Record<string, string>).Authorization).toBeUndefined();
  });
  it("reports a network failure as unreachable", async () => {
    const { api, UnreachableError } = await import("./api");
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    await expect(api("/api/x")).rejects.toBeInstanceOf(UnreachableError);
  });
});
