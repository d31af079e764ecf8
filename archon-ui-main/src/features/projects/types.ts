/** Shapes of the projects API (issue 6 contract). */

export const STATUSES = ["todo", "doing", "review", "done"] as const;
export type TaskStatus = (typeof STATUSES)[number];
export const STATUS_LABELS: Record<TaskStatus, string> = { todo: "To do", doing: "Doing", review: "Review", done: "Done" };
export const PRIORITIES = ["low", "medium", "high", "critical"] as const;
export type Priority = (typeof PRIORITIES)[number];
export const DOC_TYPES = ["spec", "design", "note", "prd", "api", "guide"] as const;

export interface Project {
  id: string;
  title: string;
  description?: string | null;
  github_repo?: string | null;
  pinned?: boolean;
  task_counts?: Partial<Record<TaskStatus, number>> | null;
  created_at?: string;
  updated_at?: string;
}

export interface Task {
  id: string;
  project_id: string;
  parent_task_id?: string | null;
  title: string;
  description?: string | null;
  status: TaskStatus;
  assignee?: string | null;
  priority?: Priority | null;
  feature?: string | null;
  task_order?: number;
  position?: number;
  sources?: unknown[] | null;
  code_examples?: unknown[] | null;
  archived?: boolean;
  created_at?: string;
  updated_at?: string;
}

export type TaskInput = Partial<Omit<Task, "id" | "project_id">> & { title?: string };

export interface ProjectDoc {
  id: string;
  project_id?: string;
  document_type: string;
  title: string;
  content: string;
  tags?: string[];
  author?: string | null;
  version?: number;
  current_version?: number;
  created_at?: string;
  updated_at?: string;
}

export interface DocVersion {
  id?: string;
  version?: number;
  version_number?: number;
  title?: string;
  content?: string;
  author?: string | null;
  change_summary?: string | null;
  created_at?: string;
}

export interface StreamEvent {
  type: string;
  data?: Record<string, unknown> & { id?: string };
}
