/** Edit a source's title, tags, knowledge type and update frequency. */
import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Modal } from "../../components/Modal";
import { splitList } from "../../lib/format";
import { knowledgeKeys, updateSource } from "./api";
import { KNOWLEDGE_TYPES, type Source, type SourceEdit } from "./types";

export function EditSourceDialog({ source, onClose }: { source: Source; onClose: () => void }) {
  const [title, setTitle] = useState(source.title ?? "");
  const [tags, setTags] = useState((source.tags ?? []).join(", "));
  const [type, setType] = useState(source.knowledge_type);
  const [freq, setFreq] = useState<string>(source.update_frequency_days == null ? "" : String(source.update_frequency_days));
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: (edit: SourceEdit) => updateSource(source.source_id, edit),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: knowledgeKeys.all });
      onClose();
    },
  });
  return (
    <Modal title="Edit source" onClose={onClose}>
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate({ title, tags: splitList(tags), knowledge_type: type, update_frequency_days: freq === "" ? null : Number(freq) });
        }}
      >
        <div><label className="label" htmlFor="edit-title">Title</label><input id="edit-title" className="input" value={title} onChange={(e) => setTitle(e.target.value)} /></div>
        <div><label className="label" htmlFor="edit-tags">Tags</label><input id="edit-tags" className="input" value={tags} onChange={(e) => setTags(e.target.value)} /></div>
        <div>
          <label className="label" htmlFor="edit-type">Knowledge type</label>
          <select id="edit-type" className="input" value={type} onChange={(e) => setType(e.target.value)}>
            {KNOWLEDGE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div><label className="label" htmlFor="edit-freq">Update frequency (days, empty = never)</label><input id="edit-freq" className="input" type="number" min={1} max={365} value={freq} onChange={(e) => setFreq(e.target.value)} /></div>
        {save.error && <p role="alert" className="text-sm text-red-600">{(save.error as Error).message}</p>}
        <div className="flex justify-end gap-2">
          <button type="button" className="btn-secondary" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn-primary" disabled={save.isPending}>Save</button>
        </div>
      </form>
    </Modal>
  );
}
