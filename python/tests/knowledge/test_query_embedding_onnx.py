"""The local model's ONNX query path gives sentence-transformers' vectors, so search results do not change."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archon.knowledge.embeddings.local import LocalEmbedder, _model_path
from archon.knowledge.embeddings.onnx_query import MIN_COSINE, FastPathUnavailable, OnnxQueryEncoder, prepare
from archon.knowledge.query_embedding import QueryEmbeddings
from archon.knowledge.search import QUERY_EMBEDDINGS, SearchService, forget_active_model
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.search_corpus import load_corpus

MODEL = "all-MiniLM-L6-v2"
QUERIES = [
    "how do I run coroutines concurrently", "remember answers of slow calls so they are not computed again",
    "show running queries on the database server", "push without overwriting a colleague's commits",
    "run code after a React component renders", "cancel a task that takes too long",
    "what does return_exceptions do in gather", "pg_stat_activity", "asyncio.gather", "--force-with-lease",
    "useEffect cleanup", "lru_cache maxsize", "print()", "x", "   ", "Ünïcödé, 中文 and emoji 🚀?",
    "how to read a file line by line in python without loading it all into memory " * 3,
    "a very long question that goes past the model's window " * 40,
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export for the module (the same code path as the first query of a server)."""
    folder = tmp_path_factory.mktemp("onnx")
    prepare(folder, MODEL, _model_path(MODEL))
    return folder


@pytest.fixture(scope="module")
def embedders(onnx_dir: Path) -> tuple[LocalEmbedder, LocalEmbedder]:
    fast = LocalEmbedder(MODEL, onnx_dir=onnx_dir)
    thread = fast.start_fast_path()
    assert thread is not None
    thread.join(120)
    assert fast.query_path == "onnx", fast.fast_error
    return fast, LocalEmbedder(MODEL)  # the second one: sentence-transformers only


async def test_onnx_vectors_match_sentence_transformers(embedders: tuple[LocalEmbedder, LocalEmbedder]) -> None:
    fast, reference = embedders
    expected = np.asarray(await reference.embed(QUERIES), dtype=np.float32)
    batched = np.asarray(await fast.embed_queries(QUERIES), dtype=np.float32)  # a coalesced burst
    single = np.asarray([(await fast.embed_queries([q]))[0] for q in QUERIES], dtype=np.float32)
    for got in (batched, single):
        assert got.shape == expected.shape == (len(QUERIES), 384)
        cosines = np.sum(got * expected, axis=1)
        assert float(cosines.min()) >= MIN_COSINE, dict(zip(QUERIES, cosines.tolist(), strict=True))
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


async def test_search_results_are_unchanged(embedders: tuple[LocalEmbedder, LocalEmbedder], database_url: str,
                                            tmp_path: Path) -> None:
    fast, reference = embedders
    rt = await Runtime.start(make_settings(database_url, tmp_path / "d", embedding_provider="local",
                                           embedding_onnx=False))
    try:
        rt.embedder = reference
        await load_corpus(rt)  # documents are embedded by sentence-transformers, as ingestion does
        service = SearchService(rt)
        answers: dict[str, list[list[tuple[int, float]]]] = {}
        for name, embedder in (("torch", reference), ("onnx", fast)):
            rt.embedder = embedder
            QUERY_EMBEDDINGS.clear()
            forget_active_model()
            runs = []
            for query in QUERIES[:13]:
                for mode in ("vector", "hybrid"):
                    response = await service.query(query, search_mode=mode, match_count=8)
                    runs.append([(r.chunk_id, r.score) for r in response.results])
            answers[name] = runs
        assert any(answers["torch"]), "the corpus must answer something"
        for torch_run, onnx_run in zip(answers["torch"], answers["onnx"], strict=True):
            assert [c for c, _ in onnx_run] == [c for c, _ in torch_run]
            assert np.allclose([s for _, s in onnx_run], [s for _, s in torch_run], atol=1e-4)
    finally:
        QUERY_EMBEDDINGS.clear()
        await rt.stop()


def test_an_export_is_reused_and_checked_on_load(onnx_dir: Path, tmp_path: Path) -> None:
    [folder] = [p for p in onnx_dir.iterdir() if p.is_dir()]
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    prepare(onnx_dir, MODEL, _model_path(MODEL))  # found, loaded, verified: no second export
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp
    assert [p for p in onnx_dir.iterdir() if p.is_dir()] == [folder]
    # A graph that no longer reproduces the reference vectors is refused (here: the references changed).
    tampered = tmp_path / "tampered"
    shutil.copytree(folder, tampered)
    meta = json.loads((tampered / "meta.json").read_text())
    meta["probe_vectors"] = [list(reversed(v)) for v in meta["probe_vectors"]]
    (tampered / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(FastPathUnavailable, match="differ"):
        OnnxQueryEncoder(tampered)
    (tampered / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(FastPathUnavailable, match="could not load"):
        OnnxQueryEncoder(tampered)


async def test_queries_fall_back_to_sentence_transformers(embedders: tuple[LocalEmbedder, LocalEmbedder],
                                                         tmp_path: Path) -> None:
    _, reference = embedders
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    broken = LocalEmbedder(MODEL, onnx_dir=blocker / "onnx")
    broken._st = reference._load()  # share the loaded model: this test is about the fallback only
    thread = broken.start_fast_path()
    assert thread is not None
    thread.join(60)
    assert broken.query_path == "sentence-transformers" and broken.fast_error
    got = await broken.embed_queries(["asyncio.gather"])
    assert np.allclose(got, await reference.embed(["asyncio.gather"]), atol=1e-6)
    disabled = LocalEmbedder(MODEL, onnx_dir=None)
    assert disabled.start_fast_path() is None and disabled.query_path == "sentence-transformers"


class _TwoPaths:
    provider, model, dimensions, max_tokens = "stub", "stub", 3, 16

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append("embed")
        return [[1.0, 0.0, 0.0] for _ in texts]

    async def embed_queries(self, texts: list[str]) -> list[list[float]]:
        self.calls.append("embed_queries")
        return [[0.0, 1.0, 0.0] for _ in texts]

    def status(self) -> str:
        return "ready"


async def test_query_cache_uses_the_query_path() -> None:
    embedder = _TwoPaths()
    vector = await QueryEmbeddings().get(embedder, "hello")
    assert embedder.calls == ["embed_queries"] and vector.tolist() == [0.0, 1.0, 0.0]


def test_a_search_process_with_an_export_never_loads_torch(onnx_dir: Path) -> None:
    """Once the export exists, the first query loads it (~0.5 s) instead of torch (seconds, ~400 MB)."""
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from archon.knowledge.embeddings.local import LocalEmbedder\n"
        f"e = LocalEmbedder('{MODEL}', onnx_dir=Path({str(onnx_dir)!r}))\n"
        "[v] = asyncio.run(e.embed_queries(['how do I run coroutines concurrently']))\n"
        "print(e.query_path, len(v), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["onnx", "384", "False", "False"]
