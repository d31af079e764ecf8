/** Project documents: list, markdown editor, version history with restore. */
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Markdown } from "../../components/Markdown";
import { MarkdownEditor } from "../../components/MarkdownEditor";
import { ConfirmDialog } from "../../components/Modal";
import { Empty, ErrorState, Loading } from "../../components/States";
import { formatDate, splitList } from "../../lib/format";
import { createDoc, deleteDoc, getVersion, listDocs, listVersions, projectKeys, restoreVersion, updateDoc, versionNumber } from "./api";
import { DOC_TYPES, type DocVersion, type ProjectDoc } from "./types";

export function DocumentsPanel({ projectId }: { projectId: string }) {
  const docs = useQuery({ queryKey: projectKeys.docs(projectId), queryFn: () => listDocs(projectId) });
  const [selected, setSelected] = useState<string | "new" | null>(null);
  if (docs.isPending) return <Loading label="Loading documents…" />;
  if (docs.isError) return <ErrorState error={docs.error} onRetry={() => void docs.refetch()} />;
  const doc = docs.data.find((d) => d.id === selected);
  return (
    <div className="grid gap-4 md:grid-cols-[16rem_1fr]">
      <aside aria-label="Documents">
        <button type="button" className="btn-primary mb-2 w-full justify-center" onClick={() => setSelected("new")}>+ New document</button>
        {docs.data.length === 0 ? (
          <p className="text-sm text-slate-500">No documents yet.</p>
        ) : (
          <ul className="space-y-1">
            {docs.data.map((d) => (
              <li key={d.id}>
                <button type="button" aria-current={d.id === selected} className={`w-full rounded px-2 py-1 text-left text-sm ${d.id === selected ? "bg-indigo-100 dark:bg-indigo-950" : "hover:bg-slate-100 dark:hover:bg-slate-800"}`} onClick={() => setSelected(d.id)}>
                  {d.title} <span className="badge">{d.document_type}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </aside>
      <div>
        {selected === "new" ? (
          <DocEditor key="new" projectId={projectId} onSaved={(d) => setSelected(d.id)} />
        ) : doc ? (
          <DocEditor key={doc.id} projectId={projectId} doc={doc} onSaved={() => undefined} onDeleted={() => setSelected(null)} />
        ) : (
          <Empty title="Select a document or create one" />
        )}
      </div>
    </div>
  );
}

function DocEditor({ projectId, doc, onSaved, onDeleted }: { projectId: string; doc?: ProjectDoc; onSaved: (d: ProjectDoc) => void; onDeleted?: () => void }) {
  const [title, setTitle] = useState(doc?.title ?? "");
  const [type, setType] = useState(doc?.document_type ?? "note");
  const [tags, setTags] = useState((doc?.tags ?? []).join(", "));
  const [content, setContent] = useState(doc?.content ?? "");
  const [showHistory, setShowHistory] = useState(false);
  // When the document changes on the server (a restore, an agent's edit), take the new content
  // unless the user has unsaved edits.
  const [synced, setSynced] = useState(doc);
  if (doc && synced && doc.updated_at !== synced.updated_at) {
    const dirty = title !== synced.title || content !== (synced.content ?? "") || type !== synced.document_type || tags !== (synced.tags ?? []).join(", ");
    setSynced(doc);
    if (!dirty) {
      setTitle(doc.title);
      setContent(doc.content ?? "");
      setType(doc.document_type);
      setTags((doc.tags ?? []).join(", "));
    }
  }
  const [confirmDelete, setConfirmDelete] = useState(false);
  const queryClient = useQueryClient();
  const invalidate = () => void queryClient.invalidateQueries({ queryKey: projectKeys.docs(projectId) });
  const save = useMutation({
    mutationFn: () => {
      const input = { title: title.trim(), document_type: type, tags: splitList(tags), content };
      return doc ? updateDoc(projectId, doc.id, input) : createDoc(projectId, { ...input, author: "User" });
    },
    onSuccess: (d) => {
      invalidate();
      onSaved(d);
    },
  });
  const remove = useMutation({ mutationFn: () => deleteDoc(projectId, doc!.id), onSuccess: () => { invalidate(); onDeleted?.(); } });
  return (
    <form className="space-y-3" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <div className="grid gap-3 md:grid-cols-3">
        <div className="md:col-span-2"><label className="label" htmlFor="doc-title">Title</label><input id="doc-title" className="input" required value={title} onChange={(e) => setTitle(e.target.value)} /></div>
        <div>
          <label className="label" htmlFor="doc-type">Type</label>
          <select id="doc-type" className="input" value={type} onChange={(e) => setType(e.target.value)}>
            {DOC_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
      </div>
      <div><label className="label" htmlFor="doc-tags">Tags</label><input id="doc-tags" className="input" value={tags} onChange={(e) => setTags(e.target.value)} /></div>
      <MarkdownEditor label="Content" value={content} onChange={setContent} rows={14} />
      {save.error && <p role="alert" className="text-sm text-red-600">{(save.error as Error).message}</p>}
      {save.isSuccess && <p role="status" className="text-sm text-green-700 dark:text-green-400">Saved.</p>}
      <div className="flex flex-wrap justify-between gap-2">
        <div className="flex gap-2">
          {doc && <button type="button" className="btn-secondary" aria-expanded={showHistory} onClick={() => setShowHistory(!showHistory)}>Version history</button>}
          {doc && <button type="button" className="btn-ghost text-red-600" onClick={() => setConfirmDelete(true)}>Delete</button>}
        </div>
        <button type="submit" className="btn-primary" disabled={save.isPending}>{doc ? "Save document" : "Create document"}</button>
      </div>
      {doc && showHistory && <VersionHistory projectId={projectId} doc={doc} />}
      {confirmDelete && doc && (
        <ConfirmDialog title="Delete document" message={<>Delete <strong>{doc.title}</strong> and its version history?</>} confirmLabel="Delete" busy={remove.isPending}
          error={remove.error ? (remove.error as Error).message : null} onConfirm={() => remove.mutate()} onCancel={() => setConfirmDelete(false)} />
      )}
    </form>
  );
}

function VersionHistory({ projectId, doc }: { projectId: string; doc: ProjectDoc }) {
  const queryClient = useQueryClient();
  const versions = useQuery({ queryKey: projectKeys.versions(projectId, doc.id), queryFn: () => listVersions(projectId, doc.id) });
  const [viewing, setViewing] = useState<number | null>(null);
  const version = useQuery({
    queryKey: [...projectKeys.versions(projectId, doc.id), viewing],
    queryFn: () => getVersion(projectId, doc.id, viewing!),
    enabled: viewing !== null,
  });
  const restore = useMutation({
    mutationFn: (v: number) => restoreVersion(projectId, doc.id, v),
    onSuccess: () => {
      setViewing(null);
      void queryClient.invalidateQueries({ queryKey: projectKeys.docs(projectId) });
    },
  });
  if (versions.isPending) return <Loading label="Loading versions…" />;
  if (versions.isError) return <ErrorState error={versions.error} />;
  const sorted = [...versions.data].sort((a, b) => versionNumber(b) - versionNumber(a));
  return (
    <section aria-labelledby="versions-title" className="card">
      <h3 id="versions-title" className="mb-2 font-semibold">Version history</h3>
      <ul className="divide-y divide-slate-200 text-sm dark:divide-slate-800">
        {sorted.map((v: DocVersion, i) => {
          const n = versionNumber(v);
          return (
            <li key={n} className="flex flex-wrap items-center justify-between gap-2 py-1.5">
              <span>v{n}{i === 0 ? " (current)" : ""} · {formatDate(v.created_at)}{v.author ? ` · ${v.author}` : ""}{v.change_summary ? ` · ${v.change_summary}` : ""}</span>
              <span className="flex gap-1">
                <button type="button" className="btn-ghost" onClick={() => setViewing(viewing === n ? null : n)} aria-label={`View version ${n}`}>View</button>
                {i > 0 && <button type="button" className="btn-secondary" disabled={restore.isPending} onClick={() => restore.mutate(n)} aria-label={`Restore version ${n}`}>Restore</button>}
              </span>
            </li>
          );
        })}
      </ul>
      {restore.error && <p role="alert" className="text-sm text-red-600">{(restore.error as Error).message}</p>}
      {viewing !== null && (
        <div className="mt-3 rounded border border-slate-200 p-3 dark:border-slate-700" aria-label={`Version ${viewing} content`}>
          {version.isPending ? <Loading /> : version.isError ? <ErrorState error={version.error} /> : <Markdown>{version.data.content ?? ""}</Markdown>}
        </div>
      )}
    </section>
  );
}
