/** The user's Archon API key (ARCHON_API_KEY), kept in localStorage and sent as a bearer token. */

const KEY = "archon.apiKey";
const listeners = new Set<() => void>();

export function getApiKey(): string | null {
  return window.localStorage.getItem(KEY) || null;
}

export function setApiKey(value: string | null): void {
  if (value) window.localStorage.setItem(KEY, value);
  else window.localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn());
}

export function subscribeApiKey(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
