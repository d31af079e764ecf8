/** One project: kanban board (live over /api/projects/{id}/stream), tasks, documents. */
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ConfirmDialog } from "../../components/Modal";
import { ErrorState, Loading } from "../../components/States";
import { useSocket, type SocketStatus } from "../../lib/useSocket";
import { deleteProject, getProject, projectKeys } from "./api";
import { Board } from "./Board";
import { DocumentsPanel } from "./DocumentsPanel";
import { applyStreamEvent } from "./stream";
import type { StreamEvent } from "./types";

export function ProjectPage({ projectId }: { projectId: string }) {
  const project = useQuery({ queryKey: projectKeys.detail(projectId), queryFn: () => getProject(projectId) });
  const [tab, setTab] = useState<"board" | "docs">("board");
  const [deleting, setDeleting] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const live = useSocket<StreamEvent>({
    path: `/api/projects/${encodeURIComponent(projectId)}/stream`,
    onMessage: (event, qc) => applyStreamEvent(qc, projectId, event),
    // After a reconnect we may have missed events: refetch the board and documents.
    onOpen: (qc) => void qc.invalidateQueries({ queryKey: projectKeys.detail(projectId) }),
  });
  const remove = useMutation({
    mutationFn: () => deleteProject(projectId),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: projectKeys.list() });
      navigate("/projects");
    },
  });
  if (project.isPending) return <Loading label="Loading project…" />;
  if (project.isError) return <ErrorState error={project.error} onRetry={() => void project.refetch()} />;
  const p = project.data;
  return (
    <section aria-labelledby="project-title" className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm"><Link to="/projects" className="underline">Projects</Link> / {p.title}</nav>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 id="project-title" className="text-2xl font-bold">{p.title}</h1>
          {p.description && <p className="text-sm text-slate-500">{p.description}</p>}
        </div>
        <div className="flex items-center gap-2">
          <LiveBadge status={live} />
          <button type="button" className="btn-ghost text-red-600" onClick={() => setDeleting(true)}>Delete project</button>
        </div>
      </div>
      <div role="tablist" aria-label="Project sections" className="flex gap-2 border-b border-slate-200 dark:border-slate-700">
        <button type="button" role="tab" aria-selected={tab === "board"} className="tab" onClick={() => setTab("board")}>Board</button>
        <button type="button" role="tab" aria-selected={tab === "docs"} className="tab" onClick={() => setTab("docs")}>Documents</button>
      </div>
      <div role="tabpanel" aria-label={tab === "board" ? "Board" : "Documents"}>
        {tab === "board" ? <Board projectId={projectId} /> : <DocumentsPanel projectId={projectId} />}
      </div>
      {deleting && (
        <ConfirmDialog
          title="Delete project"
          message={<>Delete <strong>{p.title}</strong>? Its tasks and documents are deleted with it.</>}
          confirmLabel="Delete project"
          busy={remove.isPending}
          error={remove.error ? (remove.error as Error).message : null}
          onConfirm={() => remove.mutate()}
          onCancel={() => setDeleting(false)}
        />
      )}
    </section>
  );
}

function LiveBadge({ status }: { status: SocketStatus }) {
  const text = status === "open" ? "Live" : status === "connecting" ? "Connecting…" : "Offline, reconnecting…";
  return (
    <span className={`badge ${status === "open" ? "bg-green-100 text-green-800 dark:bg-green-900 dark:text-green-100" : ""}`} data-testid="live-status" aria-live="polite">
      {text}
    </span>
  );
}
