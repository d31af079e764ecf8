/** Settings: connection, API keys (masked, with test buttons), providers and models, RAG switches, crawl settings. */
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ConfirmDialog } from "../../components/Modal";
import { ErrorState, Loading } from "../../components/States";
import { getConfig, readOverride, setApiUrlOverride } from "../../lib/config";
import { ProgressCard } from "../knowledge/ProgressCard";
import { addJob } from "../knowledge/activeJobs";
import { createCredential, deleteCredential, getSettings, listCredentials, saveSettings, settingsKeys, testCredential, updateCredential, type Credential, type CredentialTest, type RagSettings } from "./api";
import { changedFields, SECTIONS, type FieldSpec } from "./fields";

const PROVIDER_KEYS = ["OPENAI_API_KEY", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"];

export function SettingsPage() {
  return (
    <section aria-labelledby="settings-title" className="space-y-6">
      <h1 id="settings-title" className="text-2xl font-bold">Settings</h1>
      <Credentials />
      <RuntimeSettings />
      <Connection />
    </section>
  );
}

function Credentials() {
  const creds = useQuery({ queryKey: settingsKeys.credentials(), queryFn: listCredentials });
  const [extra, setExtra] = useState("");
  const [extraKeys, setExtraKeys] = useState<string[]>([]);
  if (creds.isPending) return <section className="card"><Loading label="Loading API keys…" /></section>;
  const byKey = new Map((creds.data ?? []).map((c) => [c.key, c]));
  const keys = [...new Set([...PROVIDER_KEYS, ...byKey.keys(), ...extraKeys])];
  return (
    <section aria-labelledby="creds-title" className="card space-y-3">
      <h2 id="creds-title" className="font-semibold">API keys</h2>
      <p className="text-sm text-slate-500">Stored encrypted on the server; only the last 4 characters are ever shown.</p>
      {creds.isError && <ErrorState error={creds.error} onRetry={() => void creds.refetch()} />}
      <ul className="divide-y divide-slate-200 dark:divide-slate-800">
        {keys.map((k) => <CredentialRow key={k} name={k} credential={byKey.get(k)} />)}
      </ul>
      <form className="flex items-end gap-2" onSubmit={(e) => { e.preventDefault(); const k = extra.trim().toUpperCase(); if (k) { setExtraKeys((x) => [...x, k]); setExtra(""); } }}>
        <div>
          <label className="label" htmlFor="cred-new-name">Other key name</label>
          <input id="cred-new-name" className="input font-mono" pattern="[A-Za-z][A-Za-z0-9_]{1,63}" value={extra} onChange={(e) => setExtra(e.target.value)} placeholder="MY_PROVIDER_API_KEY" />
        </div>
        <button type="submit" className="btn-secondary">Add key</button>
      </form>
    </section>
  );
}

function CredentialRow({ name, credential }: { name: string; credential?: Credential }) {
  const queryClient = useQueryClient();
  const [value, setValue] = useState("");
  const [result, setResult] = useState<CredentialTest | null>(null);
  const [confirm, setConfirm] = useState(false);
  const invalidate = () => void queryClient.invalidateQueries({ queryKey: settingsKeys.credentials() });
  const save = useMutation({
    mutationFn: () => (credential ? updateCredential(name, value) : createCredential(name, value)),
    onSuccess: () => { setValue(""); setResult(null); invalidate(); },
  });
  const test = useMutation({ mutationFn: () => testCredential(name), onSuccess: setResult });
  const remove = useMutation({ mutationFn: () => deleteCredential(name), onSuccess: () => { setConfirm(false); invalidate(); } });
  const inputId = `cred-${name}`;
  return (
    <li className="py-3" data-testid="credential-row">
      <form className="flex flex-wrap items-end gap-2" onSubmit={(e) => { e.preventDefault(); if (value) save.mutate(); }}>
        <div className="min-w-64 flex-1">
          <label className="label font-mono" htmlFor={inputId}>{name}</label>
          <input
            id={inputId}
            className="input"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder={credential?.has_value ? `•••• ${credential.last4 ?? ""} (enter a new value to replace)` : "not set"}
          />
        </div>
        <button type="submit" className="btn-primary" disabled={!value || save.isPending} aria-label={`Save ${name}`}>Save</button>
        <button type="button" className="btn-secondary" disabled={!credential?.has_value || test.isPending} onClick={() => test.mutate()} aria-label={`Test ${name}`}>
          {test.isPending ? "Testing…" : "Test"}
        </button>
        <button type="button" className="btn-ghost text-red-600" disabled={!credential} onClick={() => setConfirm(true)} aria-label={`Delete ${name}`}>Delete</button>
      </form>
      <p className="mt-1 text-xs" aria-live="polite">
        {credential?.has_value && <span className="text-slate-500">Set, ends in {credential.last4}{credential.decryptable === false ? " (cannot be decrypted with the current key)" : ""}. </span>}
        {result && <span className={result.ok ? "text-green-700 dark:text-green-400" : "text-red-600"}>{result.ok ? "✓ Works" : "✗ Failed"}: {result.message}</span>}
        {(save.error || test.error) && <span role="alert" className="text-red-600">{((save.error || test.error) as Error).message}</span>}
      </p>
      {confirm && <ConfirmDialog title="Delete API key" message={<>Delete the stored <code>{name}</code>?</>} confirmLabel="Delete" busy={remove.isPending}
        error={remove.error ? (remove.error as Error).message : null} onConfirm={() => remove.mutate()} onCancel={() => setConfirm(false)} />}
    </li>
  );
}

function RuntimeSettings() {
  const queryClient = useQueryClient();
  const settings = useQuery({ queryKey: settingsKeys.rag(), queryFn: getSettings });
  const [draft, setDraft] = useState<RagSettings | null>(null);
  const [reembed, setReembed] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (patch: RagSettings) => saveSettings(patch),
    onSuccess: ({ settings: next, progressId }) => {
      queryClient.setQueryData(settingsKeys.rag(), { settings: next, progressId });
      setDraft(null);
      if (progressId) {
        setReembed(progressId);
        addJob(progressId, "Re-embedding with the new model");
      }
    },
  });
  if (settings.isPending) return <section className="card"><Loading label="Loading settings…" /></section>;
  if (settings.isError) return <section className="card"><ErrorState error={settings.error} onRetry={() => void settings.refetch()} /></section>;
  const saved = settings.data.settings;
  const running = reembed ?? settings.data.progressId;
  const values = draft ?? saved;
  const dirty = draft !== null && Object.keys(changedFields(saved, draft)).length > 0;
  const set = (name: string, value: string | number | boolean | null) => setDraft({ ...(draft ?? saved), [name]: value });
  return (
    <form
      aria-label="Runtime settings"
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        if (draft) save.mutate(changedFields(saved, draft) as RagSettings);
      }}
    >
      {running && <ProgressCard job={{ progressId: running, label: "Re-embedding with the new model", startedAt: "" }} />}
      {SECTIONS.map((section) => {
        const fields = section.fields.filter((f) => f.name in saved);
        if (!fields.length) return null;
        return (
          <fieldset key={section.id} className="card">
            <legend className="px-1 font-semibold">{section.title}</legend>
            {section.description && <p className="mb-3 text-sm text-slate-500">{section.description}</p>}
            <div className="grid gap-3 md:grid-cols-2">
              {fields.map((f) => <SettingField key={f.name} spec={f} value={values[f.name] ?? null} onChange={(v) => set(f.name, v)} />)}
            </div>
          </fieldset>
        );
      })}
      {save.error && <ErrorState error={save.error} />}
      {save.isSuccess && !dirty && <p role="status" className="text-sm text-green-700 dark:text-green-400" data-testid="settings-saved">Settings saved.</p>}
      <div className="sticky bottom-0 flex justify-end gap-2 border-t border-slate-200 bg-slate-50 py-2 dark:border-slate-800 dark:bg-slate-950">
        <button type="button" className="btn-secondary" disabled={!dirty} onClick={() => setDraft(null)}>Discard changes</button>
        <button type="submit" className="btn-primary" disabled={!dirty || save.isPending}>{save.isPending ? "Saving…" : "Save settings"}</button>
      </div>
    </form>
  );
}

function SettingField({ spec, value, onChange }: { spec: FieldSpec; value: string | number | boolean | null; onChange: (v: string | number | boolean | null) => void }) {
  const id = `setting-${spec.name}`;
  if (spec.kind === "bool") {
    return (
      <label className="flex items-center gap-2 text-sm" htmlFor={id}>
        <input id={id} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} /> {spec.label}
      </label>
    );
  }
  return (
    <div>
      <label className="label" htmlFor={id}>{spec.label}</label>
      {spec.kind === "select" ? (
        <select id={id} className="input" value={String(value ?? "")} onChange={(e) => onChange(e.target.value)}>
          {spec.options?.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
      ) : (
        <input
          id={id}
          className="input"
          type={spec.kind === "number" ? "number" : "text"}
          step={spec.step ?? (spec.kind === "number" ? 1 : undefined)}
          value={value === null || value === undefined ? "" : String(value)}
          onChange={(e) => {
            const raw = e.target.value;
            if (raw === "" && spec.nullable) onChange(null);
            else onChange(spec.kind === "number" ? Number(raw) : raw);
          }}
        />
      )}
      {spec.hint && <p className="mt-0.5 text-xs text-slate-500">{spec.hint}</p>}
    </div>
  );
}

function Connection() {
  const [url, setUrl] = useState(readOverride() ?? "");
  const [saved, setSaved] = useState(false);
  const queryClient = useQueryClient();
  return (
    <form
      className="card space-y-2"
      aria-labelledby="conn-title"
      onSubmit={(e) => {
        e.preventDefault();
        setApiUrlOverride(url.trim() || null);
        setSaved(true);
        if (!url.trim()) window.location.reload(); // back to the server's /config.json
        else void queryClient.invalidateQueries();
      }}
    >
      <h2 id="conn-title" className="font-semibold">Connection</h2>
      <p className="text-sm text-slate-500">This browser talks to the API at <code>{getConfig().apiUrl || window.location.origin}</code>.</p>
      <label className="label" htmlFor="api-url">API URL override (empty: use the server's setting)</label>
      <div className="flex gap-2">
        <input id="api-url" className="input" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="http://localhost:8080" />
        <button type="submit" className="btn-secondary">Apply</button>
      </div>
      {saved && <p role="status" className="text-xs text-green-700">Applied.</p>}
    </form>
  );
}
