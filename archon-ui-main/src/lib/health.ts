/** Backend reachability: polls /health; the layout shows a banner while it fails and refetches on recovery. */
import { useEffect, useRef } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { apiUrl } from "./api";

export interface Health {
  status: string;
  services?: Record<string, string>;
  uptime_seconds?: number;
}

export const healthKey = ["health"] as const;

async function fetchHealth(): Promise<Health> {
  let res: Response;
  try {
    res = await fetch(apiUrl("/health"), { headers: { accept: "application/json" } });
  } catch {
    throw new Error("unreachable");
  }
  const body = (await res.json().catch(() => ({ status: `HTTP ${res.status}` }))) as Health;
  if (!res.ok) throw new Error(body.status || `HTTP ${res.status}`);
  return body;
}

export function useBackendHealth() {
  const queryClient = useQueryClient();
  const query = useQuery({
    queryKey: healthKey,
    queryFn: fetchHealth,
    retry: false,
    // Poll slowly while healthy and quickly while down so the banner clears soon after recovery.
    refetchInterval: (q) => (q.state.status === "error" ? 2000 : 10_000),
    refetchIntervalInBackground: false,
  });
  const wasDown = useRef(false);
  const down = query.isError;
  useEffect(() => {
    if (down) wasDown.current = true;
    else if (wasDown.current && query.isSuccess) {
      wasDown.current = false;
      // Back up: refresh everything that may have failed while it was down.
      void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== healthKey[0] });
    }
  }, [down, query.isSuccess, queryClient]);
  return { down, reason: query.error?.message ?? null, health: query.data ?? null };
}
