import { screen } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { jsonResponse, renderWithClient } from "../test/utils";
import { Layout } from "./Layout";

afterEach(() => vi.unstubAllGlobals());

it("shows a banner while the API is unreachable and clears it when it comes back", async () => {
  let up = false;
  vi.stubGlobal("fetch", vi.fn(async () => {
    if (!up) throw new TypeError("Failed to fetch");
    return jsonResponse({ status: "healthy" });
  }));
  renderWithClient(
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<p>home</p>} />
      </Route>
    </Routes>,
  );
  expect(await screen.findByTestId("backend-down")).toHaveTextContent(/Retrying automatically/);
  up = true;
  await vi.waitFor(() => expect(screen.queryByTestId("backend-down")).toBeNull(), { timeout: 5000, interval: 100 });
  expect(screen.getByRole("navigation", { name: "Main" })).toBeInTheDocument();
  expect(screen.getByRole("button", { name: /Switch to (dark|light) theme/ })).toBeInTheDocument();
});
