/** App shell: navigation, theme switch, API key, and the "backend unreachable" banner. */
import { useState, useSyncExternalStore } from "react";
import { NavLink, Outlet } from "react-router";
import { useBackendHealth } from "../lib/health";
import { useTheme } from "../lib/theme";
import { getApiKey, setApiKey, subscribeApiKey } from "../lib/apiKey";
import { getConfig } from "../lib/config";
import { Modal } from "./Modal";
import { useQueryClient } from "@tanstack/react-query";

const NAV = [
  { to: "/", label: "Knowledge", end: true },
  { to: "/search", label: "Search", end: false },
  { to: "/projects", label: "Projects", end: false },
  { to: "/mcp", label: "MCP", end: false },
  { to: "/settings", label: "Settings", end: false },
];

export function Layout() {
  const [theme, toggleTheme] = useTheme();
  const { down, reason } = useBackendHealth();
  const [keyOpen, setKeyOpen] = useState(false);
  const hasKey = useSyncExternalStore(subscribeApiKey, () => getApiKey() !== null);
  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:bg-white focus:p-2">
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-4 px-4 py-2">
          <span className="text-lg font-bold text-indigo-600 dark:text-indigo-400">Archon</span>
          <nav aria-label="Main" className="flex flex-wrap gap-1">
            {NAV.map((item) => (
              <NavLink
                key={item.to}
                to={item.to}
                end={item.end}
                className={({ isActive }) =>
                  `rounded-md px-3 py-1.5 text-sm ${isActive ? "bg-indigo-100 font-semibold text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200" : "hover:bg-slate-100 dark:hover:bg-slate-800"}`
                }
              >
                {item.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-2">
            <button type="button" className="btn-ghost" onClick={() => setKeyOpen(true)} aria-label="Set API key">
              {hasKey ? "API key ✓" : "API key"}
            </button>
            <button
              type="button"
              className="btn-ghost"
              onClick={toggleTheme}
              aria-label={theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}
            >
              {theme === "dark" ? "Light theme" : "Dark theme"}
            </button>
          </div>
        </div>
      </header>
      {down && (
        <div role="alert" data-testid="backend-down" className="bg-amber-100 px-4 py-2 text-center text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">
          Cannot reach the Archon API at {getConfig().apiUrl || "this origin"} ({reason}). Retrying automatically…
        </div>
      )}
      <main id="main" className="mx-auto max-w-7xl px-4 py-6">
        <Outlet />
      </main>
      {keyOpen && <ApiKeyDialog onClose={() => setKeyOpen(false)} />}
    </div>
  );
}

function ApiKeyDialog({ onClose }: { onClose: () => void }) {
  const [value, setValue] = useState(getApiKey() ?? "");
  const queryClient = useQueryClient();
  const save = (key: string | null) => {
    setApiKey(key);
    void queryClient.invalidateQueries();
    onClose();
  };
  return (
    <Modal title="Archon API key" onClose={onClose}>
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          save(value.trim() || null);
        }}
      >
        <p className="text-sm text-slate-500">
          Needed only when the server sets ARCHON_API_KEY. Stored in this browser and sent as a bearer token.
        </p>
        <label className="label" htmlFor="api-key-input">API key</label>
        <input id="api-key-input" className="input" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
        <div className="flex justify-end gap-2">
          <button type="button" className="btn-secondary" onClick={() => save(null)}>Clear</button>
          <button type="submit" className="btn-primary">Save</button>
        </div>
      </form>
    </Modal>
  );
}
