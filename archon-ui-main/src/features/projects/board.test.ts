import { QueryClient } from "@tanstack/react-query";
import { columnsOf, projectKeys } from "./api";
import { findColumn, tasksFromColumns } from "./Board";
import { applyStreamEvent } from "./stream";
import type { Task } from "./types";

const task = (id: string, status: Task["status"], order: number, extra: Partial<Task> = {}): Task => ({ id, project_id: "p", title: id, status, task_order: order, ...extra });

describe("board columns", () => {
  it("groups top-level live tasks by status in order", () => {
    const cols = columnsOf([task("b", "todo", 2), task("a", "todo", 1), task("c", "done", 0), task("sub", "todo", 0, { parent_task_id: "a" }), task("old", "doing", 0, { archived: true })]);
    expect(cols.todo.map((t) => t.id)).toEqual(["a", "b"]);
    expect(cols.done.map((t) => t.id)).toEqual(["c"]);
    expect(cols.doing).toEqual([]);
  });
  it("finds a task's column and renumbers after a move", () => {
    const all = [task("a", "todo", 0), task("b", "todo", 1)];
    const cols = { todo: [all[1]!], doing: [all[0]!], review: [], done: [] };
    expect(findColumn(cols, "a")).toBe("doing");
    expect(findColumn(cols, "column:review")).toBe("review");
    const moved = tasksFromColumns(all, cols);
    expect(moved.find((t) => t.id === "a")).toMatchObject({ status: "doing", task_order: 0 });
    expect(moved.find((t) => t.id === "b")).toMatchObject({ status: "todo", task_order: 0 });
  });
});

describe("project stream events", () => {
  it("writes a task changed elsewhere into the cache", () => {
    const qc = new QueryClient();
    qc.setQueryData(projectKeys.tasks("p"), [task("a", "todo", 0)]);
    applyStreamEvent(qc, "p", { type: "task_updated", data: { task: task("a", "review", 0) } as never });
    applyStreamEvent(qc, "p", { type: "task_created", data: task("n", "todo", 1) as never });
    expect(qc.getQueryData<Task[]>(projectKeys.tasks("p"))?.map((t) => [t.id, t.status])).toEqual([["a", "review"], ["n", "todo"]]);
    applyStreamEvent(qc, "p", { type: "task_deleted", data: { id: "a" } });
    expect(qc.getQueryData<Task[]>(projectKeys.tasks("p"))?.map((t) => t.id)).toEqual(["n"]);
  });
});
