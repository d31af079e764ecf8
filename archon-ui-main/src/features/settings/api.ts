/** Settings and credentials API (issue 7 contract) and query keys. */
import { api } from "../../lib/api";

export type RagSettings = Record<string, string | number | boolean | null>;

export interface Credential {
  key: string;
  category: string;
  description?: string;
  has_value: boolean;
  last4: string | null;
  decryptable?: boolean;
  updated_at?: string | null;
}

export interface CredentialTest {
  key: string;
  ok: boolean;
  status_code?: number | null;
  message: string;
  latency_ms?: number;
}

export const settingsKeys = {
  all: ["settings"] as const,
  rag: () => [...settingsKeys.all, "rag"] as const,
  credentials: () => [...settingsKeys.all, "credentials"] as const,
};

function unwrapSettings(body: unknown): RagSettings {
  const rec = (body ?? {}) as Record<string, unknown>;
  return ((rec.settings && typeof rec.settings === "object" ? rec.settings : rec) ?? {}) as RagSettings;
}

/** Current settings and, while a re-embed runs, its progress id. */
export const getSettings = () =>
  api<unknown>("/api/settings").then((body) => ({ settings: unwrapSettings(body), progressId: findProgressId(body) }));

/** PUT the changed fields; returns the new settings and, when the embedding model changed, the re-embed job id. */
export async function saveSettings(patch: RagSettings): Promise<{ settings: RagSettings; progressId: string | null }> {
  const body = await api<unknown>("/api/settings", { method: "PUT", body: patch });
  return { settings: unwrapSettings(body), progressId: findProgressId(body) };
}

/** A re-embed job id anywhere in the answer (`progressId`, `reembed.progressId`, `reembed_progress_id`...). */
export function findProgressId(body: unknown, depth = 0): string | null {
  if (!body || typeof body !== "object" || depth > 3) return null;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (/progress_?id$/i.test(k) && typeof v === "string" && v) return v;
    const nested = findProgressId(v, depth + 1);
    if (nested) return nested;
  }
  return null;
}

export const listCredentials = () =>
  api<unknown>("/api/credentials").then((b) => (Array.isArray(b) ? b : ((b as { credentials?: Credential[]; items?: Credential[] })?.credentials ?? (b as { items?: Credential[] })?.items ?? [])) as Credential[]);

export const createCredential = (key: string, value: string, category = "api_keys") =>
  api<Credential>("/api/credentials", { method: "POST", body: { key, value, category } });
export const updateCredential = (key: string, value: string) =>
  api<Credential>(`/api/credentials/${encodeURIComponent(key)}`, { method: "PUT", body: { value } });
export const deleteCredential = (key: string) => api<unknown>(`/api/credentials/${encodeURIComponent(key)}`, { method: "DELETE" });
export const testCredential = (key: string) =>
  api<CredentialTest>(`/api/credentials/${encodeURIComponent(key)}/test`, { method: "POST", body: {} });
