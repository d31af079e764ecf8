import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jsonResponse, renderWithClient } from "../../test/utils";
import { findProgressId } from "./api";
import { changedFields } from "./fields";
import { SettingsPage } from "./SettingsPage";

afterEach(() => vi.unstubAllGlobals());

it("finds the re-embed job and the changed fields", () => {
  expect(findProgressId({ settings: {}, embedding: { reembed_progress_id: "r1" } })).toBe("r1");
  expect(findProgressId({ settings: {} })).toBeNull();
  expect(changedFields({ a: 1, b: true }, { a: 2, b: true })).toEqual({ a: 2 });
});

it("masks keys and saves only the changed settings", async () => {
  const calls: [string, RequestInit | undefined][] = [];
  vi.stubGlobal("fetch", vi.fn(async (url: string, init?: RequestInit) => {
    calls.push([url, init]);
    if (url.endsWith("/api/credentials")) return jsonResponse([{ key: "OPENAI_API_KEY", category: "api_keys", has_value: true, last4: "wxyz", decryptable: true }]);
    if (url.endsWith("/api/settings") && init?.method === "PUT") return jsonResponse({ settings: { crawl_per_host_rate: 7, use_reranking: false }, embedding: { reembed_progress_id: null } });
    if (url.endsWith("/api/settings")) return jsonResponse({ settings: { crawl_per_host_rate: 5, use_reranking: false }, embedding: { reembed_progress_id: null } });
    return jsonResponse({ status: "healthy" });
  }));
  renderWithClient(<SettingsPage />);
  const key = await screen.findByLabelText("OPENAI_API_KEY");
  expect(key).toHaveAttribute("type", "password");
  expect(key).toHaveValue("");
  expect(screen.getByText(/ends in wxyz/)).toBeInTheDocument();
  const rate = await screen.findByLabelText("Requests per second per host");
  const user = userEvent.setup({ delay: null });
  await user.clear(rate);
  await user.type(rate, "7");
  await user.click(screen.getByRole("button", { name: "Save settings" }));
  await waitFor(() => expect(screen.getByTestId("settings-saved")).toBeInTheDocument());
  const put = calls.find(([, init]) => init?.method === "PUT");
  expect(JSON.parse(String(put?.[1]?.body))).toEqual({ crawl_per_host_rate: 7 });
});
