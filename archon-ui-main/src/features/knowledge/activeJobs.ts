/** Progress ids the user started from this browser, kept across reloads until dismissed. */
import { useSyncExternalStore } from "react";

const KEY = "archon.activeJobs";
export interface ActiveJob {
  progressId: string;
  label: string;
  startedAt: string;
}

const listeners = new Set<() => void>();
let cache: ActiveJob[] | null = null;

function read(): ActiveJob[] {
  if (cache) return cache;
  try {
    const parsed: unknown = JSON.parse(window.localStorage.getItem(KEY) ?? "[]");
    cache = Array.isArray(parsed) ? (parsed as ActiveJob[]).filter((j) => typeof j?.progressId === "string") : [];
  } catch {
    cache = [];
  }
  return cache;
}

function write(jobs: ActiveJob[]): void {
  cache = jobs;
  window.localStorage.setItem(KEY, JSON.stringify(jobs));
  listeners.forEach((fn) => fn());
}

export function addJob(progressId: string, label: string): void {
  write([{ progressId, label, startedAt: new Date().toISOString() }, ...read().filter((j) => j.progressId !== progressId)].slice(0, 20));
}

export function removeJob(progressId: string): void {
  write(read().filter((j) => j.progressId !== progressId));
}

export function useActiveJobs(): ActiveJob[] {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    read,
  );
}
