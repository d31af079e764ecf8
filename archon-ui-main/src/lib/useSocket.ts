/** The one WebSocket hook: connects to an API path, hands each JSON message to `onMessage`
 * (which writes into the TanStack Query cache), and reconnects with exponential backoff. */
import { useEffect, useRef, useState } from "react";
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { getApiKey } from "./apiKey";
import { wsUrl } from "./config";

export type SocketStatus = "connecting" | "open" | "closed" | "done";

export interface SocketOptions<M> {
  /** API path such as `/api/crawl-progress/abc`; null disables the socket. */
  path: string | null;
  onMessage: (message: M, queryClient: QueryClient) => void;
  /** Return true for a final message: the socket closes and does not reconnect. */
  isFinal?: (message: M) => boolean;
  /** Called after every (re)connect, e.g. to refetch what may have been missed. */
  onOpen?: (queryClient: QueryClient) => void;
}

export const BACKOFF_START_MS = 500;
export const BACKOFF_MAX_MS = 10_000;

/** Delay before reconnect attempt `attempt` (0-based): doubling from 0.5 s, capped at 10 s, with jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function useSocket<M = unknown>({ path, onMessage, isFinal, onOpen }: SocketOptions<M>): SocketStatus {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<SocketStatus>("connecting");
  // Latest callbacks without reconnecting when the caller re-renders.
  const handlers = useRef({ onMessage, isFinal, onOpen });
  handlers.current = { onMessage, isFinal, onOpen };

  useEffect(() => {
    if (!path) {
      setStatus("closed");
      return;
    }
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let stopped = false;

    const connect = () => {
      setStatus("connecting");
      socket = new WebSocket(wsUrl(path, getApiKey()));
      socket.onopen = () => {
        attempt = 0;
        setStatus("open");
        handlers.current.onOpen?.(queryClient);
      };
      socket.onmessage = (event: MessageEvent) => {
        let message: M;
        try {
          message = JSON.parse(String(event.data)) as M;
        } catch {
          return; // not JSON: ignore rather than break the stream
        }
        handlers.current.onMessage(message, queryClient);
        if (handlers.current.isFinal?.(message)) {
          stopped = true;
          setStatus("done");
          socket?.close(1000);
        }
      };
      socket.onclose = () => {
        if (stopped) return;
        setStatus("closed");
        timer = setTimeout(connect, backoffDelay(attempt++));
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close(1000);
    };
  }, [path, queryClient]);

  return status;
}
