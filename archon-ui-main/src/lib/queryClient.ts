import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api";

/** Retries network failures (the backend may be restarting) but not 4xx answers. */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 3,
        refetchOnWindowFocus: true,
      },
    },
  });
}
