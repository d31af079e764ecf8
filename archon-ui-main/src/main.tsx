import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClientProvider } from "@tanstack/react-query";
import { App } from "./App";
import { loadConfig } from "./lib/config";
import { applyTheme, initialTheme } from "./lib/theme";
import { createQueryClient } from "./lib/queryClient";
import "./index.css";

applyTheme(initialTheme());
const queryClient = createQueryClient();

void loadConfig().then(() => {
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </StrictMode>,
  );
});
