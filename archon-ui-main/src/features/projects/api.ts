/** Projects, tasks and project documents: API calls and query keys. */
import { api } from "../../lib/api";
import type { DocVersion, Project, ProjectDoc, Task, TaskInput, TaskStatus } from "./types";

export const projectKeys = {
  all: ["projects"] as const,
  list: () => [...projectKeys.all, "list"] as const,
  detail: (id: string) => [...projectKeys.all, "detail", id] as const,
  tasks: (id: string) => [...projectKeys.detail(id), "tasks"] as const,
  docs: (id: string) => [...projectKeys.detail(id), "docs"] as const,
  versions: (id: string, docId: string) => [...projectKeys.docs(id), docId, "versions"] as const,
};

function items<T>(body: unknown, ...names: string[]): T[] {
  if (Array.isArray(body)) return body as T[];
  const rec = (body ?? {}) as Record<string, unknown>;
  for (const n of [...names, "items"]) if (Array.isArray(rec[n])) return rec[n] as T[];
  return [];
}

const enc = encodeURIComponent;

export const listProjects = () => api<unknown>("/api/projects").then((b) => items<Project>(b, "projects"));
export const getProject = (id: string) => api<Project>(`/api/projects/${enc(id)}`);
export const createProject = (input: { title: string; description?: string; github_repo?: string }) =>
  api<Project>("/api/projects", { method: "POST", body: input });
export const deleteProject = (id: string) => api<unknown>(`/api/projects/${enc(id)}`, { method: "DELETE", query: { confirm: true } });

export const listTasks = (projectId: string) =>
  api<unknown>(`/api/projects/${enc(projectId)}/tasks`, { query: { limit: 500 } }).then((b) => items<Task>(b, "tasks"));
export const createTask = (projectId: string, input: TaskInput) =>
  api<Task>(`/api/projects/${enc(projectId)}/tasks`, { method: "POST", body: { ...input } });
export const updateTask = (id: string, patch: TaskInput) => api<Task>(`/api/tasks/${enc(id)}`, { method: "PATCH", body: { ...patch } });
export const deleteTask = (id: string) => api<unknown>(`/api/tasks/${enc(id)}`, { method: "DELETE" });
/** One call moves a task to `status` at `position` (0-based) and renumbers the others server-side. */
export const moveTask = (id: string, status: TaskStatus, position: number) =>
  api<Task>(`/api/tasks/${enc(id)}/move`, { method: "POST", body: { status, position } });

export const listDocs = (projectId: string) => api<unknown>(`/api/projects/${enc(projectId)}/docs`, { query: { include_content: true } }).then((b) => items<ProjectDoc>(b, "docs", "documents"));
export const createDoc = (projectId: string, input: Partial<ProjectDoc>) =>
  api<ProjectDoc>(`/api/projects/${enc(projectId)}/docs`, { method: "POST", body: { ...input } });
export const updateDoc = (projectId: string, docId: string, input: Partial<ProjectDoc>) =>
  api<ProjectDoc>(`/api/projects/${enc(projectId)}/docs/${enc(docId)}`, { method: "PUT", body: { ...input } });
export const deleteDoc = (projectId: string, docId: string) =>
  api<unknown>(`/api/projects/${enc(projectId)}/docs/${enc(docId)}`, { method: "DELETE" });
export const listVersions = (projectId: string, docId: string) =>
  api<unknown>(`/api/projects/${enc(projectId)}/docs/${enc(docId)}/versions`).then((b) => items<DocVersion>(b, "versions"));
export const getVersion = (projectId: string, docId: string, version: number) =>
  api<DocVersion>(`/api/projects/${enc(projectId)}/docs/${enc(docId)}/versions/${version}`);
export const restoreVersion = (projectId: string, docId: string, version: number) =>
  api<ProjectDoc>(`/api/projects/${enc(projectId)}/docs/${enc(docId)}/versions/${version}/restore`, { method: "POST" });

export function versionNumber(v: DocVersion): number {
  return v.version ?? v.version_number ?? 0;
}

export function taskOrder(t: Task): number {
  return t.task_order ?? t.position ?? 0;
}

/** Group tasks into board columns, each sorted by its order (top-level, non-archived tasks only). */
export function columnsOf(tasks: Task[]): Record<TaskStatus, Task[]> {
  const cols: Record<TaskStatus, Task[]> = { todo: [], doing: [], review: [], done: [] };
  for (const t of tasks) if (!t.archived && !t.parent_task_id && cols[t.status]) cols[t.status].push(t);
  for (const list of Object.values(cols)) list.sort((a, b) => taskOrder(a) - taskOrder(b));
  return cols;
}
