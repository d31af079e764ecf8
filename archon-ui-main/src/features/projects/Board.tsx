/** Kanban board (todo, doing, review, done) with drag and drop (dnd-kit: pointer and keyboard). */
import { useState, type ReactNode } from "react";
import {
  closestCorners,
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  useDroppable,
  useSensor,
  useSensors,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
} from "@dnd-kit/core";
import { arrayMove, SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ErrorState, Loading } from "../../components/States";
import { columnsOf, listTasks, moveTask, projectKeys } from "./api";
import { TaskDialog } from "./TaskDialog";
import { STATUSES, STATUS_LABELS, type Task, type TaskStatus } from "./types";

type Columns = Record<TaskStatus, Task[]>;
const COLUMN_PREFIX = "column:";

export function findColumn(cols: Columns, id: string): TaskStatus | null {
  if (id.startsWith(COLUMN_PREFIX)) return id.slice(COLUMN_PREFIX.length) as TaskStatus;
  return STATUSES.find((s) => cols[s].some((t) => t.id === id)) ?? null;
}

/** Cache update after a move: statuses and orders as the board now shows them. */
export function tasksFromColumns(all: Task[], cols: Columns): Task[] {
  const placed = new Map<string, Task>();
  for (const s of STATUSES) cols[s].forEach((t, i) => placed.set(t.id, { ...t, status: s, task_order: i, position: i }));
  return all.map((t) => placed.get(t.id) ?? t);
}

export function Board({ projectId }: { projectId: string }) {
  const queryClient = useQueryClient();
  const tasks = useQuery({ queryKey: projectKeys.tasks(projectId), queryFn: () => listTasks(projectId) });
  const [dragCols, setDragCols] = useState<Columns | null>(null);
  const [activeId, setActiveId] = useState<string | null>(null);
  const [editing, setEditing] = useState<Task | null>(null);
  const [creating, setCreating] = useState<TaskStatus | null>(null);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const move = useMutation({
    mutationFn: (v: { id: string; status: TaskStatus; position: number }) => moveTask(v.id, v.status, v.position),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: projectKeys.tasks(projectId) });
      void queryClient.invalidateQueries({ queryKey: projectKeys.list() });
    },
  });

  if (tasks.isPending) return <Loading label="Loading tasks…" />;
  if (tasks.isError) return <ErrorState error={tasks.error} onRetry={() => void tasks.refetch()} />;
  const columns = dragCols ?? columnsOf(tasks.data);
  const active = activeId ? tasks.data.find((t) => t.id === activeId) : undefined;

  const onDragStart = (e: DragStartEvent) => {
    setActiveId(String(e.active.id));
    setDragCols(columnsOf(tasks.data));
  };
  const onDragOver = ({ active: a, over }: DragOverEvent) => {
    if (!over || !dragCols) return;
    const from = findColumn(dragCols, String(a.id));
    const to = findColumn(dragCols, String(over.id));
    if (!from || !to || from === to) return;
    setDragCols((cols) => {
      if (!cols) return cols;
      const item = cols[from].find((t) => t.id === a.id);
      if (!item) return cols;
      const target = cols[to];
      const overIndex = target.findIndex((t) => t.id === over.id);
      const index = overIndex === -1 ? target.length : overIndex;
      return { ...cols, [from]: cols[from].filter((t) => t.id !== a.id), [to]: [...target.slice(0, index), { ...item, status: to }, ...target.slice(index)] };
    });
  };
  const onDragEnd = ({ active: a, over }: DragEndEvent) => {
    setActiveId(null);
    const cols = dragCols;
    if (!cols || !over) {
      setDragCols(null);
      return;
    }
    const id = String(a.id);
    const status = findColumn(cols, id);
    if (!status) {
      setDragCols(null);
      return;
    }
    let list = cols[status];
    const oldIndex = list.findIndex((t) => t.id === id);
    const overIndex = list.findIndex((t) => t.id === over.id);
    if (overIndex !== -1 && overIndex !== oldIndex) list = arrayMove(list, oldIndex, overIndex);
    const finalCols = { ...cols, [status]: list };
    const position = list.findIndex((t) => t.id === id);
    const original = tasks.data.find((t) => t.id === id);
    const originalCols = columnsOf(tasks.data);
    const unchanged = original?.status === status && originalCols[status].findIndex((t) => t.id === id) === position;
    if (!unchanged) {
      queryClient.setQueryData<Task[]>(projectKeys.tasks(projectId), (old) => (old ? tasksFromColumns(old, finalCols) : old));
      move.mutate({ id, status, position });
    }
    setDragCols(null);
  };

  return (
    <div className="space-y-3">
      {move.error && <ErrorState error={move.error} />}
      <DndContext
        sensors={sensors}
        collisionDetection={closestCorners}
        onDragStart={onDragStart}
        onDragOver={onDragOver}
        onDragEnd={onDragEnd}
        onDragCancel={() => {
          setActiveId(null);
          setDragCols(null);
        }}
        accessibility={{
          screenReaderInstructions: { draggable: "To move a task, press space or enter, use the arrow keys to choose a column and place, then press space or enter again. Escape cancels." },
        }}
      >
        <div className="grid gap-3 md:grid-cols-2 xl:grid-cols-4">
          {STATUSES.map((s) => (
            <Column key={s} status={s} tasks={columns[s]} onOpen={setEditing} onAdd={() => setCreating(s)} />
          ))}
        </div>
        <DragOverlay>{active ? <TaskCardBody task={active} /> : null}</DragOverlay>
      </DndContext>
      {editing && <TaskDialog projectId={projectId} task={editing} allTasks={tasks.data} onClose={() => setEditing(null)} />}
      {creating && <TaskDialog projectId={projectId} initialStatus={creating} allTasks={tasks.data} onClose={() => setCreating(null)} />}
    </div>
  );
}

function Column({ status, tasks, onOpen, onAdd }: { status: TaskStatus; tasks: Task[]; onOpen: (t: Task) => void; onAdd: () => void }) {
  const { setNodeRef, isOver } = useDroppable({ id: `${COLUMN_PREFIX}${status}` });
  const headingId = `column-${status}-title`;
  return (
    <section
      ref={setNodeRef}
      aria-labelledby={headingId}
      data-testid={`column-${status}`}
      className={`flex min-h-64 flex-col rounded-lg bg-slate-100 p-2 dark:bg-slate-900 ${isOver ? "ring-2 ring-indigo-400" : ""}`}
    >
      <div className="mb-2 flex items-center justify-between px-1">
        <h2 id={headingId} className="text-sm font-semibold">
          {STATUS_LABELS[status]} <span className="text-slate-500">({tasks.length})</span>
        </h2>
        <button type="button" className="btn-ghost" onClick={onAdd} aria-label={`Add task to ${STATUS_LABELS[status]}`}>+ Add</button>
      </div>
      <SortableContext items={tasks.map((t) => t.id)} strategy={verticalListSortingStrategy}>
        <ul className="flex flex-1 flex-col gap-2" aria-label={`${STATUS_LABELS[status]} tasks`}>
          {tasks.map((t) => <SortableTask key={t.id} task={t} onOpen={onOpen} />)}
        </ul>
      </SortableContext>
    </section>
  );
}

function SortableTask({ task, onOpen }: { task: Task; onOpen: (t: Task) => void }) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({ id: task.id });
  return (
    <li
      ref={setNodeRef}
      style={{ transform: CSS.Transform.toString(transform), transition }}
      className={isDragging ? "opacity-40" : ""}
      data-testid="task-card"
      data-task-title={task.title}
    >
      <TaskCardBody
        task={task}
        onOpen={() => onOpen(task)}
        handle={
          <button type="button" className="cursor-grab touch-none rounded px-1 text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700" aria-label={`Move task: ${task.title}`} {...attributes} {...listeners}>
            ⠿
          </button>
        }
      />
    </li>
  );
}

const PRIORITY_STYLE: Record<string, string> = {
  critical: "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100",
  high: "bg-orange-100 text-orange-800 dark:bg-orange-900 dark:text-orange-100",
  medium: "bg-yellow-100 text-yellow-800 dark:bg-yellow-900 dark:text-yellow-100",
  low: "",
};

function TaskCardBody({ task, onOpen, handle }: { task: Task; onOpen?: () => void; handle?: ReactNode }) {
  return (
    <div className="flex gap-1 rounded-md border border-slate-200 bg-white p-2 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-800">
      {handle}
      <div className="min-w-0 flex-1">
        <button type="button" className="w-full text-left font-medium hover:underline" onClick={onOpen}>{task.title}</button>
        <div className="mt-1 flex flex-wrap gap-1 text-xs">
          {task.priority && <span className={`badge ${PRIORITY_STYLE[task.priority] ?? ""}`}>{task.priority}</span>}
          {task.feature && <span className="badge">{task.feature}</span>}
          {task.assignee && <span className="badge">@{task.assignee}</span>}
        </div>
      </div>
    </div>
  );
}
