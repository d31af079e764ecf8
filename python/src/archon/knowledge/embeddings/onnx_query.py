"""The local model's fast query path: the same network exported once to ONNX and run by onnxruntime.

sentence-transformers spends most of a one-query encode in its pipeline and torch dispatch (~26 ms for
~12 word pieces on one thread here; the arithmetic is ~0.25 GFLOP). The exported graph, with
onnxruntime's BERT fusions (attention, skip-layer-norm, bias-GELU), computes the same fp32 vectors
(cosine >= 0.9999 to sentence-transformers', checked on probe sentences at export and at every load)
in ~9 ms. Stored document vectors therefore stay valid: only the runtime differs, never the model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Bump when the exported graph or the meta file changes: old exports are then ignored and rebuilt.
EXPORT_VERSION = 1
MIN_COSINE = 0.9999
_GROUP = 8  # texts per onnxruntime call: grouped by length so padding stays small
_VERSIONED = ("torch", "transformers", "sentence-transformers", "onnxruntime", "tokenizers")
PROBES = (
    "how do I run coroutines concurrently",
    "pg_stat_activity asyncio.gather --force-with-lease useEffect",
    "x",
    " ",
    "Ünïcödé text, 中文, emoji 🚀 and punctuation!?",
    "a long passage " * 200,  # past the 256 word-piece window: truncation must match
)


class FastPathUnavailable(Exception):
    """The fast query path cannot be built or loaded here; callers keep the sentence-transformers path."""


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def export_folder(cache_dir: Path, model_name: str, model_path: str) -> Path:
    """Where the export of `model_path` lives: keyed by the model files and the library versions."""
    digest = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    for package in _VERSIONED:
        digest.update(f"{package}={_version(package)};".encode())
    root = Path(model_path)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)
    return cache_dir / f"{safe}-{digest.hexdigest()[:16]}"


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


class OnnxQueryEncoder:
    """onnxruntime session + the model's fast tokenizer, one intra-op thread (query-sized work)."""

    def __init__(self, folder: Path) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise FastPathUnavailable(f"onnxruntime is not installed: {exc}") from exc
        try:
            meta = json.loads((folder / "meta.json").read_text())
            options = ort.SessionOptions()
            # One thread: on a busy 2-core machine a second intra-op thread only waits for a core, and
            # concurrent queries are coalesced into one call anyway.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            self._session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                                 providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # a truncated or foreign file: rebuild or fall back, never crash a search
            raise FastPathUnavailable(f"could not load {folder}: {exc}") from exc
        self.max_tokens = int(meta["max_seq_length"])
        self.dimensions = int(meta["dimensions"])
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()  # tokenizer.json pads to 128; padding is done per group below
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.verify(np.asarray(meta["probe_vectors"], dtype=np.float32))

    def verify(self, expected: np.ndarray) -> None:
        """Raise FastPathUnavailable unless the probes encode to the reference vectors."""
        worst = float(np.min(_cosines(self.encode(list(PROBES)), expected)))
        if worst < MIN_COSINE:
            raise FastPathUnavailable(f"ONNX vectors differ from sentence-transformers' (cosine {worst:.6f})")

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32, one row per text, in order)."""
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), _GROUP):
            rows = order[start:start + _GROUP]
            out[rows] = self._run([encodings[i] for i in rows])
        return out


def export(model_path: str, folder: Path) -> None:
    """Export the sentence-transformers model at `model_path` to `folder` (atomically; needs torch + onnx)."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers import AutoModel
    except ImportError as exc:
        raise FastPathUnavailable(f"cannot export without torch/transformers: {exc}") from exc
    if not (Path(model_path) / "tokenizer.json").is_file():
        raise FastPathUnavailable(f"{model_path} has no tokenizer.json (a fast tokenizer is needed)")
    folder.parent.mkdir(parents=True, exist_ok=True)  # fails fast (read-only data dir) before loading models
    reference = SentenceTransformer(model_path, device="cpu")
    probes = reference.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
    # Eager attention traces to the plain MatMul/Softmax pattern onnxruntime's optimizer fuses.
    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    tmp.chmod(0o755)
    try:
        ids = torch.ones(2, 16, dtype=torch.long)
        axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}}
        # The tracer warns about transformers' padding check (a shape comparison that is False for every
        # input here, since the mask always has the tokens' length) and about negative gather indices
        # (there are none); the probe check below is what proves the graph right for any batch and length.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_mean_pooled(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                              str(tmp / "raw.onnx"), dynamo=False, opset_version=17,
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["embedding"], dynamic_axes=axes)
        _optimize(tmp / "raw.onnx", tmp / "model.onnx", model.config)
        (tmp / "raw.onnx").unlink()
        shutil.copyfile(Path(model_path) / "tokenizer.json", tmp / "tokenizer.json")
        meta = {"export_version": EXPORT_VERSION, "max_seq_length": int(reference.max_seq_length or 256),
                "dimensions": int(probes.shape[1]), "probe_vectors": probes.tolist(),
                "versions": {p: _version(p) for p in _VERSIONED}}
        (tmp / "meta.json").write_text(json.dumps(meta))
        OnnxQueryEncoder(tmp)  # verifies the probes before the export becomes visible
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same export first: keep theirs
            if not (folder / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _optimize(source: Path, target: Path, config: Any) -> None:
    """onnxruntime's transformer fusions for BERT-style models; other models are kept as exported."""
    if getattr(config, "model_type", "") != "bert":
        shutil.copyfile(source, target)
        return
    from onnxruntime.transformers import optimizer

    # Its modules log each fusion at INFO under top-level names ("fusion_base", ...): ~40 lines, once.
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        optimized = optimizer.optimize_model(str(source), model_type="bert", num_heads=config.num_attention_heads,
                                             hidden_size=config.hidden_size, opt_level=1, use_gpu=False)
        optimized.save_model_to_file(str(target))
    finally:
        logging.disable(previous)


def _mean_pooled(model: Any) -> Any:
    """The transformer, mean pooling over real tokens and L2 normalisation: sentence-transformers' pipeline."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooled()


def prepare(cache_dir: Path, model_name: str, model_path: str) -> OnnxQueryEncoder:
    """The encoder for `model_path`, exporting it into `cache_dir` first if needed (once per install)."""
    folder = export_folder(cache_dir, model_name, model_path)
    if (folder / "meta.json").is_file():
        try:
            return OnnxQueryEncoder(folder)
        except FastPathUnavailable as exc:
            log.warning("ONNX query model at %s is unusable (%s); exporting it again", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
    log.info("exporting %s to ONNX for fast query embeddings (once, into %s)", model_name, folder)
    export(model_path, folder)
    encoder = OnnxQueryEncoder(folder)
    clean_old_exports(cache_dir, folder)
    return encoder


def clean_old_exports(cache_dir: Path, keep: Path) -> None:
    """Remove exports of other library or model versions (90 MB each) next to `keep`."""
    prefix = keep.name.rsplit("-", 1)[0] + "-"
    for path in cache_dir.glob(f"{prefix}*"):
        if path != keep and path.is_dir() and not path.name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)
