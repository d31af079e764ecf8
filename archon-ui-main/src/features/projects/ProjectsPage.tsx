/** Project list with per-status task counts, and project creation. */
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Modal } from "../../components/Modal";
import { Empty, ErrorState, Loading } from "../../components/States";
import { createProject, listProjects, projectKeys } from "./api";
import { STATUSES, STATUS_LABELS } from "./types";

export function ProjectsPage() {
  const projects = useQuery({ queryKey: projectKeys.list(), queryFn: listProjects });
  const [creating, setCreating] = useState(false);
  return (
    <section aria-labelledby="projects-title" className="space-y-5">
      <div className="flex items-center justify-between">
        <h1 id="projects-title" className="text-2xl font-bold">Projects</h1>
        <button type="button" className="btn-primary" onClick={() => setCreating(true)}>+ New project</button>
      </div>
      {projects.isPending ? (
        <Loading label="Loading projects…" />
      ) : projects.isError ? (
        <ErrorState error={projects.error} onRetry={() => void projects.refetch()} />
      ) : projects.data.length === 0 ? (
        <Empty title="No projects yet">Create one to plan work with your AI assistant.</Empty>
      ) : (
        <ul className="grid gap-4 md:grid-cols-2 xl:grid-cols-3" aria-label="Projects">
          {[...projects.data].sort((a, b) => Number(!!b.pinned) - Number(!!a.pinned)).map((p) => (
            <li key={p.id} className="card" data-testid="project-card">
              <h2 className="font-semibold">
                <Link to={`/projects/${encodeURIComponent(p.id)}`} className="hover:underline">{p.title}{p.pinned && <span className="badge ml-2">pinned</span>}</Link>
              </h2>
              {p.description && <p className="mt-1 line-clamp-2 text-sm text-slate-500">{p.description}</p>}
              <dl className="mt-3 grid grid-cols-4 gap-1 text-center text-xs">
                {STATUSES.map((s) => (
                  <div key={s} className="rounded bg-slate-100 p-1 dark:bg-slate-800">
                    <dt className="text-slate-500">{STATUS_LABELS[s]}</dt>
                    <dd className="text-base font-semibold">{p.task_counts?.[s] ?? 0}</dd>
                  </div>
                ))}
              </dl>
            </li>
          ))}
        </ul>
      )}
      {creating && <CreateProjectDialog onClose={() => setCreating(false)} />}
    </section>
  );
}

function CreateProjectDialog({ onClose }: { onClose: () => void }) {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [repo, setRepo] = useState("");
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () => createProject({ title: title.trim(), description, ...(repo ? { github_repo: repo } : {}) }),
    onSuccess: (p) => {
      void queryClient.invalidateQueries({ queryKey: projectKeys.list() });
      navigate(`/projects/${encodeURIComponent(p.id)}`);
    },
  });
  return (
    <Modal title="New project" onClose={onClose}>
      <form className="space-y-3" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <div><label className="label" htmlFor="project-title">Title</label><input id="project-title" className="input" required value={title} onChange={(e) => setTitle(e.target.value)} /></div>
        <div><label className="label" htmlFor="project-desc">Description</label><textarea id="project-desc" className="input" rows={3} value={description} onChange={(e) => setDescription(e.target.value)} /></div>
        <div><label className="label" htmlFor="project-repo">GitHub repository (optional)</label><input id="project-repo" className="input" type="url" value={repo} onChange={(e) => setRepo(e.target.value)} placeholder="https://github.com/owner/repo" /></div>
        {create.error && <p role="alert" className="text-sm text-red-600">{(create.error as Error).message}</p>}
        <div className="flex justify-end gap-2">
          <button type="button" className="btn-secondary" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn-primary" disabled={create.isPending}>Create project</button>
        </div>
      </form>
    </Modal>
  );
}
