/** Markdown editor: a labelled textarea with a Write/Preview switch (preview uses the safe renderer). */
import { useId, useState } from "react";
import { Markdown } from "./Markdown";

interface Props {
  label: string;
  value: string;
  onChange: (value: string) => void;
  rows?: number;
}

export function MarkdownEditor({ label, value, onChange, rows = 8 }: Props) {
  const id = useId();
  const [preview, setPreview] = useState(false);
  return (
    <div>
      <div className="mb-1 flex items-center justify-between">
        <label className="label mb-0" htmlFor={id}>{label}</label>
        <div role="group" aria-label={`${label} view`} className="flex gap-1 text-xs">
          <button type="button" className="btn-ghost" aria-pressed={!preview} onClick={() => setPreview(false)}>Write</button>
          <button type="button" className="btn-ghost" aria-pressed={preview} onClick={() => setPreview(true)}>Preview</button>
        </div>
      </div>
      {preview ? (
        <div className="min-h-24 rounded-md border border-slate-300 p-2 dark:border-slate-600" aria-label={`${label} preview`}>
          {value ? <Markdown>{value}</Markdown> : <p className="text-sm text-slate-500">Nothing to preview</p>}
        </div>
      ) : (
        <textarea id={id} className="input font-mono" rows={rows} value={value} onChange={(e) => onChange(e.target.value)} />
      )}
    </div>
  );
}
