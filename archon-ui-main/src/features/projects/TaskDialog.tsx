/** Create or edit a task: markdown description, status, assignee, priority, feature, subtasks, linked sources. */
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { MarkdownEditor } from "../../components/MarkdownEditor";
import { ConfirmDialog, Modal } from "../../components/Modal";
import { knowledgeKeys, listSources } from "../knowledge/api";
import { createTask, deleteTask, projectKeys, updateTask } from "./api";
import { PRIORITIES, STATUSES, STATUS_LABELS, type Priority, type Task, type TaskInput, type TaskStatus } from "./types";

interface Props {
  projectId: string;
  task?: Task;
  initialStatus?: TaskStatus;
  allTasks: Task[];
  onClose: () => void;
}

/** Source ids from a task's `sources` (plain ids or `{source_id}` objects). */
export function sourceIds(task?: Task): string[] {
  return (task?.sources ?? [])
    .map((s) => (typeof s === "string" ? s : s && typeof s === "object" ? String((s as { source_id?: string }).source_id ?? "") : ""))
    .filter(Boolean);
}

export function TaskDialog({ projectId, task, initialStatus, allTasks, onClose }: Props) {
  const [title, setTitle] = useState(task?.title ?? "");
  const [description, setDescription] = useState(task?.description ?? "");
  const [status, setStatus] = useState<TaskStatus>(task?.status ?? initialStatus ?? "todo");
  const [assignee, setAssignee] = useState(task?.assignee ?? "User");
  const [priority, setPriority] = useState<Priority>(task?.priority ?? "medium");
  const [feature, setFeature] = useState(task?.feature ?? "");
  const [sources, setSources] = useState<string[]>(sourceIds(task));
  const [subtask, setSubtask] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  const queryClient = useQueryClient();
  const filters = { text: "", knowledge_type: "", tag: "", page: 1, per_page: 100 };
  const knowledge = useQuery({ queryKey: knowledgeKeys.list(filters), queryFn: () => listSources(filters) });
  const invalidate = () => {
    void queryClient.invalidateQueries({ queryKey: projectKeys.tasks(projectId) });
    void queryClient.invalidateQueries({ queryKey: projectKeys.list() });
  };
  const save = useMutation({
    mutationFn: (input: TaskInput) => (task ? updateTask(task.id, input) : createTask(projectId, input)),
    onSuccess: () => {
      invalidate();
      onClose();
    },
  });
  const remove = useMutation({ mutationFn: () => deleteTask(task!.id), onSuccess: () => { invalidate(); onClose(); } });
  const addSub = useMutation({
    mutationFn: () => createTask(projectId, { title: subtask.trim(), parent_task_id: task!.id, status: "todo", assignee, priority: "medium" }),
    onSuccess: () => {
      setSubtask("");
      invalidate();
    },
  });
  const toggleSub = useMutation({ mutationFn: (t: Task) => updateTask(t.id, { status: t.status === "done" ? "todo" : "done" }), onSuccess: invalidate });
  const subtasks = task ? allTasks.filter((t) => t.parent_task_id === task.id) : [];

  return (
    <Modal title={task ? "Edit task" : "New task"} onClose={onClose} wide>
      <form
        className="grid gap-3 md:grid-cols-3"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate({ title: title.trim(), description, status, assignee: assignee || null, priority, feature: feature || null, sources });
        }}
      >
        <div className="md:col-span-3"><label className="label" htmlFor="task-title">Title</label><input id="task-title" className="input" required maxLength={500} value={title} onChange={(e) => setTitle(e.target.value)} /></div>
        <div className="md:col-span-3"><MarkdownEditor label="Description" value={description} onChange={setDescription} /></div>
        <div>
          <label className="label" htmlFor="task-status">Status</label>
          <select id="task-status" className="input" value={status} onChange={(e) => setStatus(e.target.value as TaskStatus)}>
            {STATUSES.map((s) => <option key={s} value={s}>{STATUS_LABELS[s]}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="task-priority">Priority</label>
          <select id="task-priority" className="input" value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
            {PRIORITIES.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="task-assignee">Assignee</label>
          <input id="task-assignee" className="input" list="assignees" value={assignee} onChange={(e) => setAssignee(e.target.value)} />
          <datalist id="assignees"><option value="User" /><option value="Archon" /><option value="AI IDE Agent" /></datalist>
        </div>
        <div><label className="label" htmlFor="task-feature">Feature</label><input id="task-feature" className="input" value={feature} onChange={(e) => setFeature(e.target.value)} /></div>
        <fieldset className="md:col-span-2">
          <legend className="label">Linked sources</legend>
          <div className="max-h-28 overflow-y-auto rounded border border-slate-300 p-2 text-sm dark:border-slate-600">
            {knowledge.data?.items.length ? (
              knowledge.data.items.map((s) => (
                <label key={s.source_id} className="flex items-center gap-2">
                  <input
                    type="checkbox"
                    checked={sources.includes(s.source_id)}
                    onChange={(e) => setSources((prev) => (e.target.checked ? [...prev, s.source_id] : prev.filter((x) => x !== s.source_id)))}
                  />
                  {s.title || s.url || s.source_id}
                </label>
              ))
            ) : (
              <p className="text-slate-500">{knowledge.isPending ? "Loading sources…" : "No knowledge sources yet"}</p>
            )}
          </div>
        </fieldset>
        {task && (
          <section className="md:col-span-3" aria-labelledby="subtasks-title">
            <h3 id="subtasks-title" className="label">Subtasks</h3>
            <ul className="space-y-1 text-sm">
              {subtasks.map((t) => (
                <li key={t.id}>
                  <label className="flex items-center gap-2">
                    <input type="checkbox" checked={t.status === "done"} onChange={() => toggleSub.mutate(t)} />
                    <span className={t.status === "done" ? "line-through" : ""}>{t.title}</span>
                  </label>
                </li>
              ))}
              {subtasks.length === 0 && <li className="text-slate-500">No subtasks</li>}
            </ul>
            <div className="mt-2 flex gap-2">
              <label className="sr-only" htmlFor="subtask-title">New subtask</label>
              <input id="subtask-title" className="input" placeholder="New subtask" value={subtask} onChange={(e) => setSubtask(e.target.value)} />
              <button type="button" className="btn-secondary" disabled={!subtask.trim() || addSub.isPending} onClick={() => addSub.mutate()}>Add subtask</button>
            </div>
          </section>
        )}
        {(save.error || remove.error || addSub.error) && (
          <p role="alert" className="text-sm text-red-600 md:col-span-3">{((save.error || remove.error || addSub.error) as Error).message}</p>
        )}
        <div className="flex justify-between gap-2 md:col-span-3">
          <div>{task && <button type="button" className="btn-danger" onClick={() => setConfirmDelete(true)}>Delete</button>}</div>
          <div className="flex gap-2">
            <button type="button" className="btn-secondary" onClick={onClose}>Cancel</button>
            <button type="submit" className="btn-primary" disabled={save.isPending}>{task ? "Save task" : "Create task"}</button>
          </div>
        </div>
      </form>
      {confirmDelete && task && (
        <ConfirmDialog title="Delete task" message={<>Delete <strong>{task.title}</strong> and its subtasks?</>} confirmLabel="Delete task"
          busy={remove.isPending} error={remove.error ? (remove.error as Error).message : null} onConfirm={() => remove.mutate()} onCancel={() => setConfirmDelete(false)} />
      )}
    </Modal>
  );
}
