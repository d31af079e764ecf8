/** fetch wrapper: API base URL, bearer token, JSON, and errors that carry the server's message. */
import { getApiKey } from "./apiKey";
import { getConfig } from "./config";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Thrown when the API cannot be reached at all (network error, server down). */
export class UnreachableError extends Error {
  constructor(message = "The Archon API is unreachable") {
    super(message);
    this.name = "UnreachableError";
  }
}

export function apiUrl(path: string): string {
  return getConfig().apiUrl + path;
}

export function authHeaders(): Record<string, string> {
  const key = getApiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Turn FastAPI / Archon error bodies into one readable line. */
export function errorMessage(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const rec = body as Record<string, unknown>;
    const detail = rec.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: unknown) => {
          if (d && typeof d === "object") {
            // FastAPI's {loc, msg} or Archon's {field, message}.
            const item = d as { loc?: unknown[]; msg?: string; field?: string; message?: string };
            const field = item.field ?? (Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "");
            const msg = item.message ?? item.msg ?? "invalid";
            return field ? `${field}: ${msg}` : msg;
          }
          return String(d);
        })
        .join("; ");
    }
    if (typeof rec.error === "string") return rec.error;
  }
  if (status === 401) return "Unauthorized: set the API key (top bar)";
  return `Request failed with status ${status}`;
}

type Json = Record<string, unknown> | unknown[];

export interface RequestOptions {
  method?: string;
  body?: Json | FormData;
  signal?: AbortSignal;
  query?: Record<string, string | number | boolean | undefined | null | string[]>;
}

function withQuery(path: string, query: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((item) => params.append(k, item));
    else params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Call the API and parse JSON; throws ApiError (HTTP error) or UnreachableError (network). */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...authHeaders() };
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) body = options.body;
  else if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(withQuery(path, options.query)), {
      method: options.method ?? (body ? "POST" : "GET"),
      headers,
      body,
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new UnreachableError();
  }
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(parsed, res.status), parsed);
  return parsed as T;
}
