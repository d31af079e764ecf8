/** Applies project stream events (task/document changes from any client, e.g. an MCP agent) to the cache. */
import type { QueryClient } from "@tanstack/react-query";
import { projectKeys } from "./api";
import type { StreamEvent, Task } from "./types";

export function applyStreamEvent(qc: QueryClient, projectId: string, event: StreamEvent): void {
  if (!event || typeof event.type !== "string") return;
  const type = event.type;
  if (type.startsWith("task")) {
    const task = (event.data && ((event.data.task as Task | undefined) ?? (event.data as unknown as Task))) || null;
    if (task?.id) {
      qc.setQueryData<Task[]>(projectKeys.tasks(projectId), (old) => {
        if (!old) return old;
        if (type.includes("delet") || type.includes("archiv")) return old.filter((t) => t.id !== task.id);
        const exists = old.some((t) => t.id === task.id);
        return exists ? old.map((t) => (t.id === task.id ? { ...t, ...task } : t)) : task.title ? [...old, task] : old;
      });
    }
    // Positions of the other tasks may have shifted too: refetch the authoritative order.
    void qc.invalidateQueries({ queryKey: projectKeys.tasks(projectId) });
    void qc.invalidateQueries({ queryKey: projectKeys.list() });
  } else if (type.startsWith("doc") || type.startsWith("document") || type.startsWith("version")) {
    void qc.invalidateQueries({ queryKey: projectKeys.docs(projectId) });
  } else {
    // project_updated, sources_changed, resync (the server dropped events): refetch the whole project.
    void qc.invalidateQueries({ queryKey: projectKeys.detail(projectId) });
    if (type === "project_deleted" || type === "resync") void qc.invalidateQueries({ queryKey: projectKeys.list() });
  }
}
