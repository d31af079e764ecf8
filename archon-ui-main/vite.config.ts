/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// Dev mode: the dashboard talks to the API through Vite's proxy (same origin, so no CORS/CSP concerns).
const apiTarget = process.env.ARCHON_API_URL ?? "http://127.0.0.1:8080";

/** Serves /config.json in dev the way archon's static server does in production. */
function devConfig(): Plugin {
  return {
    name: "archon-dev-config",
    configureServer(server) {
      server.middlewares.use("/config.json", (_req, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ apiUrl: "" }));
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), tailwindcss(), devConfig()],
  server: {
    port: 3737,
    proxy: {
      "/api": { target: apiTarget, ws: true, changeOrigin: true },
      "/health": { target: apiTarget, changeOrigin: true },
    },
  },
  build: { chunkSizeWarningLimit: 1500 },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    testTimeout: 20_000,
  },
});
