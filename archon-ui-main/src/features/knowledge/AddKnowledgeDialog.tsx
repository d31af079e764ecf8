/** "Add knowledge": crawl a URL (every crawl option) or upload files (several, drag and drop). */
import { useId, useRef, useState, type ReactNode } from "react";
import { useMutation } from "@tanstack/react-query";
import { Modal } from "../../components/Modal";
import { formatBytes, splitList } from "../../lib/format";
import { startCrawl, uploadDocuments } from "./api";
import { addJob } from "./activeJobs";
import { CRAWL_TYPES, KNOWLEDGE_TYPES, RENDER_MODES, type CrawlRequest, type KnowledgeType } from "./types";

type Tab = "crawl" | "upload";

export function AddKnowledgeDialog({ onClose }: { onClose: () => void }) {
  const [tab, setTab] = useState<Tab>("crawl");
  return (
    <Modal title="Add knowledge" onClose={onClose} wide>
      <div role="tablist" aria-label="How to add knowledge" className="mb-4 flex gap-2 border-b border-slate-200 dark:border-slate-700">
        {(["crawl", "upload"] as const).map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-controls={`panel-${t}`}
            aria-selected={tab === t}
            className="tab"
            onClick={() => setTab(t)}
          >
            {t === "crawl" ? "Crawl a website" : "Upload files"}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "crawl" ? <CrawlForm onDone={onClose} /> : <UploadForm onDone={onClose} />}
      </div>
    </Modal>
  );
}

export const DEFAULT_CRAWL: CrawlRequest = {
  url: "",
  knowledge_type: "technical",
  tags: [],
  crawl_type: "auto",
  max_depth: 3,
  max_pages: 500,
  include_patterns: [],
  exclude_patterns: [],
  update_frequency_days: 7,
  extract_code_examples: true,
};

function Field({ label, children, hint }: { label: string; children: (id: string) => ReactNode; hint?: string }) {
  const id = useId();
  return (
    <div>
      <label className="label" htmlFor={id}>{label}</label>
      {children(id)}
      {hint && <p className="mt-0.5 text-xs text-slate-500">{hint}</p>}
    </div>
  );
}

export function CrawlForm({ onDone }: { onDone: () => void }) {
  const [form, setForm] = useState(DEFAULT_CRAWL);
  const [tags, setTags] = useState("");
  const [include, setInclude] = useState("");
  const [exclude, setExclude] = useState("");
  const set = <K extends keyof CrawlRequest>(key: K, value: CrawlRequest[K]) => setForm((f) => ({ ...f, [key]: value }));
  const crawl = useMutation({
    mutationFn: (req: CrawlRequest) => startCrawl(req),
    onSuccess: (res, req) => {
      addJob(res.progressId, req.url);
      onDone();
    },
  });
  return (
    <form
      className="grid gap-3 sm:grid-cols-2"
      onSubmit={(e) => {
        e.preventDefault();
        crawl.mutate({ ...form, url: form.url.trim(), tags: splitList(tags), include_patterns: splitList(include), exclude_patterns: splitList(exclude) });
      }}
    >
      <div className="sm:col-span-2">
        <Field label="URL">
          {(id) => <input id={id} className="input" type="url" required placeholder="https://docs.example.com/" value={form.url} onChange={(e) => set("url", e.target.value)} />}
        </Field>
      </div>
      <Field label="Knowledge type">
        {(id) => (
          <select id={id} className="input" value={form.knowledge_type} onChange={(e) => set("knowledge_type", e.target.value as KnowledgeType)}>
            {KNOWLEDGE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        )}
      </Field>
      <Field label="Tags" hint="Comma separated, at most 10">
        {(id) => <input id={id} className="input" value={tags} onChange={(e) => setTags(e.target.value)} />}
      </Field>
      <Field label="Crawl type" hint="auto tries llms.txt, then sitemap.xml, then a recursive crawl">
        {(id) => (
          <select id={id} className="input" value={form.crawl_type} onChange={(e) => set("crawl_type", e.target.value as CrawlRequest["crawl_type"])}>
            {CRAWL_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        )}
      </Field>
      <Field label="Render mode" hint="browser runs JavaScript (slower)">
        {(id) => (
          <select id={id} className="input" value={form.render ?? ""} onChange={(e) => set("render", (e.target.value || undefined) as CrawlRequest["render"])}>
            <option value="">settings default</option>
            {RENDER_MODES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        )}
      </Field>
      <Field label="Max depth">
        {(id) => <input id={id} className="input" type="number" min={0} max={20} value={form.max_depth} onChange={(e) => set("max_depth", Number(e.target.value))} />}
      </Field>
      <Field label="Max pages">
        {(id) => <input id={id} className="input" type="number" min={1} max={100000} value={form.max_pages} onChange={(e) => set("max_pages", Number(e.target.value))} />}
      </Field>
      <Field label="Include patterns" hint="Glob patterns, one per line">
        {(id) => <textarea id={id} className="input" rows={2} value={include} onChange={(e) => setInclude(e.target.value)} placeholder="*/docs/*" />}
      </Field>
      <Field label="Exclude patterns" hint="Glob patterns, one per line">
        {(id) => <textarea id={id} className="input" rows={2} value={exclude} onChange={(e) => setExclude(e.target.value)} placeholder="*/changelog/*" />}
      </Field>
      <Field label="Update frequency (days)" hint="Empty: never refresh automatically">
        {(id) => (
          <input
            id={id}
            className="input"
            type="number"
            min={1}
            max={365}
            value={form.update_frequency_days ?? ""}
            onChange={(e) => set("update_frequency_days", e.target.value === "" ? null : Number(e.target.value))}
          />
        )}
      </Field>
      <Field label="Robots.txt">
        {(id) => (
          <select
            id={id}
            className="input"
            value={form.respect_robots === undefined ? "" : String(form.respect_robots)}
            onChange={(e) => set("respect_robots", e.target.value === "" ? undefined : e.target.value === "true")}
          >
            <option value="">settings default</option>
            <option value="true">respect</option>
            <option value="false">ignore</option>
          </select>
        )}
      </Field>
      <fieldset className="flex flex-col justify-end gap-1 text-sm">
        <legend className="sr-only">Crawl switches</legend>
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={form.extract_code_examples} onChange={(e) => set("extract_code_examples", e.target.checked)} /> Extract code examples
        </label>
      </fieldset>
      {crawl.error && <p role="alert" className="text-sm text-red-600 sm:col-span-2 dark:text-red-400">{(crawl.error as Error).message}</p>}
      <div className="flex justify-end gap-2 sm:col-span-2">
        <button type="submit" className="btn-primary" disabled={crawl.isPending}>{crawl.isPending ? "Starting…" : "Start crawl"}</button>
      </div>
    </form>
  );
}

export function UploadForm({ onDone }: { onDone: () => void }) {
  const [files, setFiles] = useState<File[]>([]);
  const [type, setType] = useState<KnowledgeType>("technical");
  const [tags, setTags] = useState("");
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const typeId = useId();
  const tagsId = useId();
  const addFiles = (list: FileList | null) => {
    if (!list) return;
    const incoming = Array.from(list);
    setFiles((prev) => [...prev, ...incoming.filter((f) => !prev.some((p) => p.name === f.name && p.size === f.size))]);
  };
  const upload = useMutation({
    mutationFn: () => uploadDocuments(files, type, splitList(tags)),
    onSuccess: (res) => {
      addJob(res.progressId, files.length === 1 ? files[0]!.name : `${files.length} files`);
      onDone();
    },
  });
  return (
    <form
      className="space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        if (files.length) upload.mutate();
      }}
    >
      <div
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          addFiles(e.dataTransfer.files);
        }}
        className={`rounded-lg border-2 border-dashed p-6 text-center text-sm ${dragging ? "border-indigo-500 bg-indigo-50 dark:bg-indigo-950" : "border-slate-300 dark:border-slate-600"}`}
      >
        <p>Drag and drop files here (PDF, DOCX, Markdown, text, HTML, reStructuredText), or</p>
        <button type="button" className="btn-secondary mt-2" onClick={() => input.current?.click()}>Choose files</button>
        <input
          ref={input}
          type="file"
          multiple
          className="sr-only"
          aria-label="Files to upload"
          accept=".pdf,.docx,.md,.markdown,.txt,.html,.htm,.rst"
          onChange={(e) => {
            addFiles(e.target.files);
            e.target.value = "";
          }}
        />
      </div>
      {files.length > 0 && (
        <ul className="space-y-1 text-sm" aria-label="Selected files">
          {files.map((f) => (
            <li key={`${f.name}-${f.size}`} className="flex items-center justify-between rounded bg-slate-100 px-2 py-1 dark:bg-slate-800">
              <span className="truncate">{f.name} <span className="text-slate-500">({formatBytes(f.size)})</span></span>
              <button type="button" className="btn-ghost" aria-label={`Remove ${f.name}`} onClick={() => setFiles((prev) => prev.filter((p) => p !== f))}>✕</button>
            </li>
          ))}
        </ul>
      )}
      <div className="grid gap-3 sm:grid-cols-2">
        <div>
          <label className="label" htmlFor={typeId}>Knowledge type</label>
          <select id={typeId} className="input" value={type} onChange={(e) => setType(e.target.value as KnowledgeType)}>
            {KNOWLEDGE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor={tagsId}>Tags</label>
          <input id={tagsId} className="input" value={tags} onChange={(e) => setTags(e.target.value)} placeholder="comma separated" />
        </div>
      </div>
      {upload.error && <p role="alert" className="text-sm text-red-600 dark:text-red-400">{(upload.error as Error).message}</p>}
      <div className="flex justify-end">
        <button type="submit" className="btn-primary" disabled={!files.length || upload.isPending}>
          {upload.isPending ? "Uploading…" : `Upload ${files.length || ""} file${files.length === 1 ? "" : "s"}`}
        </button>
      </div>
    </form>
  );
}
