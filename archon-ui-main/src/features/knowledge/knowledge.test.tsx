import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { FakeSocket, jsonResponse, renderWithClient } from "../../test/utils";
import { CrawlForm } from "./AddKnowledgeDialog";
import { ProgressCard } from "./ProgressCard";
import { knowledgeKeys } from "./api";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
  window.localStorage.clear();
  FakeSocket.instances = [];
});

it("sends every crawl option and remembers the job", async () => {
  const fetchMock = vi.fn(async () => jsonResponse({ progressId: "job-1" }));
  vi.stubGlobal("fetch", fetchMock);
  const done = vi.fn();
  renderWithClient(<CrawlForm onDone={done} />);
  const user = userEvent.setup({ delay: null });
  await user.type(screen.getByLabelText("URL"), "https://docs.example.com/");
  await user.selectOptions(screen.getByLabelText("Crawl type"), "sitemap");
  await user.selectOptions(screen.getByLabelText("Render mode"), "browser");
  await user.clear(screen.getByLabelText("Max depth"));
  await user.type(screen.getByLabelText("Max depth"), "2");
  await user.type(screen.getByLabelText("Include patterns"), "*/api/*\n*/guide/*");
  await user.type(screen.getByLabelText("Tags"), "python, docs");
  await user.selectOptions(screen.getByLabelText("Robots.txt"), "false");
  await user.click(screen.getByRole("button", { name: "Start crawl" }));
  await waitFor(() => expect(done).toHaveBeenCalled());
  const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
  expect(url).toMatch(/\/api\/knowledge-items\/crawl$/);
  expect(JSON.parse(String(init.body))).toEqual({
    url: "https://docs.example.com/", knowledge_type: "technical", tags: ["python", "docs"], crawl_type: "sitemap", max_depth: 2,
    max_pages: 500, include_patterns: ["*/api/*", "*/guide/*"], exclude_patterns: [], respect_robots: false, render: "browser",
    update_frequency_days: 7, extract_code_examples: true,
  });
  expect(JSON.parse(window.localStorage.getItem("archon.activeJobs") ?? "[]")[0].progressId).toBe("job-1");
});

it("leaves render mode and robots.txt to the server's settings unless chosen", async () => {
  const fetchMock = vi.fn(async () => jsonResponse({ progressId: "job-2" }));
  vi.stubGlobal("fetch", fetchMock);
  const done = vi.fn();
  renderWithClient(<CrawlForm onDone={done} />);
  const user = userEvent.setup({ delay: null });
  await user.type(screen.getByLabelText("URL"), "https://docs.example.com/");
  await user.click(screen.getByRole("button", { name: "Start crawl" }));
  await waitFor(() => expect(done).toHaveBeenCalled());
  const body = JSON.parse(String((fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1].body));
  expect(body).not.toHaveProperty("render");
  expect(body).not.toHaveProperty("respect_robots");
});

it("shows the server's validation message", async () => {
  vi.stubGlobal("fetch", vi.fn(async () => jsonResponse({ detail: [{ loc: ["body", "url"], msg: "URL is blocked" }] }, 422)));
  renderWithClient(<CrawlForm onDone={() => undefined} />);
  const user = userEvent.setup({ delay: null });
  await user.type(screen.getByLabelText("URL"), "http://10.0.0.1/");
  await user.click(screen.getByRole("button", { name: "Start crawl" }));
  expect(await screen.findByRole("alert", {}, { timeout: 5000 })).toHaveTextContent("url: URL is blocked");
});

it("follows a job over the WebSocket, reconnects, and stops at the final message", async () => {
  vi.stubGlobal("fetch", vi.fn(async () => jsonResponse({ error: "not_found", detail: "no job" }, 404)));
  vi.stubGlobal("WebSocket", FakeSocket);
  const { client } = renderWithClient(<ProgressCard job={{ progressId: "p1", label: "docs", startedAt: "" }} />);
  await waitFor(() => expect(FakeSocket.instances).toHaveLength(1));
  const first = FakeSocket.instances[0]!;
  expect(first.url).toMatch(/\/api\/crawl-progress\/p1$/);
  act(() => {
    first.open();
    first.send({ type: "crawl_progress", data: { progressId: "p1", status: "running", percentage: 40, processedPages: 4, totalPages: 10, log: "fetched /a" } });
  });
  expect(await screen.findByText("40%")).toBeInTheDocument();
  expect(screen.getByText("4 / 10")).toBeInTheDocument();
  // The connection drops: the hook reconnects after its backoff and keeps the state it had.
  act(() => first.drop());
  await waitFor(() => expect(FakeSocket.instances).toHaveLength(2), { timeout: 2000 });
  const second = FakeSocket.instances[1]!;
  act(() => {
    second.open();
    second.send({ type: "crawl_completed", data: { progressId: "p1", status: "completed", percentage: 100, processedPages: 10 } });
  });
  expect(await screen.findByText("100%")).toBeInTheDocument();
  expect(second.closed).toBe(true);
  expect(client.getQueryData(knowledgeKeys.progress("p1"))).toMatchObject({ status: "completed", log: "fetched /a" });
  expect(screen.getByRole("button", { name: "Dismiss docs" })).toBeInTheDocument();
});

it("cancels a running job", async () => {
  const fetchMock = vi.fn(async (url: string, _init?: RequestInit) =>
    url.includes("/stop/") ? jsonResponse({ progressId: "p2", status: "cancelled" }) : jsonResponse({ progressId: "p2", status: "running", percentage: 10 }));
  vi.stubGlobal("fetch", fetchMock);
  vi.stubGlobal("WebSocket", FakeSocket);
  renderWithClient(<ProgressCard job={{ progressId: "p2", label: "big site", startedAt: "" }} />);
  const user = userEvent.setup({ delay: null });
  await user.click(await screen.findByRole("button", { name: "Cancel" }));
  await waitFor(() => expect(fetchMock.mock.calls.some(([u, init]) => String(u).endsWith("/api/knowledge-items/stop/p2") && init?.method === "POST")).toBe(true));
  expect(await screen.findByRole("button", { name: "Cancelling…" })).toBeDisabled();
});
