"""Knowledge-pack benchmark: export, verify and import (vectors reused) of a synthetic source.

    python bench/packs.py [--pages 1000] [--chunks-per-page 10]

Uses its own embedded database under $ARCHON_BENCH_DIR/packs and the hashing embedder (384
dimensions): the vectors are stored and copied, never computed, so the numbers are the pack path
itself (SQL reads, zip, checksums, COPY). Re-embedding on a model mismatch runs at the embedder's
speed (see bench/settings_reembed.py). Results are printed as JSON and written to packs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DIR, bench_settings  # noqa: E402

from archon.jobs.service import JobService  # noqa: E402
from archon.knowledge.ingest.pipeline import PagePipeline  # noqa: E402
from archon.knowledge.models import ChunkInput, PageInput  # noqa: E402
from archon.knowledge.packs.service import PackService  # noqa: E402
from archon.knowledge.repository import KnowledgeRepository  # noqa: E402
from archon.knowledge.service import KnowledgeService  # noqa: E402
from archon.runtime import Runtime  # noqa: E402

SOURCE = "src_packbench"


async def main(pages: int, per_page: int) -> dict[str, object]:
    settings = bench_settings("packs", embedding_provider="hash", pack_max_bytes=900 * 1024 * 1024)
    runtime = await Runtime.start(settings, run_worker=False)
    try:
        knowledge = KnowledgeService(runtime)
        try:
            await knowledge.delete_source(SOURCE)
        except Exception:  # noqa: BLE001 - absent on a fresh database
            pass
        await knowledge.create_source(source_id=SOURCE, source_type="url", url="https://bench.test/", title="bench")
        model = await PagePipeline(runtime).model()
        repo = KnowledgeRepository(runtime.db)
        rng = np.random.default_rng(1)
        started = time.perf_counter()
        for p in range(pages):
            texts = [f"Page {p} section {c}: " + " ".join(f"word{(p * 31 + c * 7 + i) % 997}" for i in range(120))
                     for c in range(per_page)]
            markdown = "\n\n".join(texts)
            page = PageInput(url=f"https://bench.test/p{p}", markdown=markdown, title=f"Page {p}",
                             content_hash=hashlib.sha256(markdown.encode()).hexdigest(),
                             chunks=[ChunkInput(content=t, headings=[f"Page {p}"], token_count=130) for t in texts])
            await repo.replace_page(SOURCE, page, model=model,
                                    chunk_vectors=rng.standard_normal((per_page, model.dimensions)).astype("f4"))
        seeded = time.perf_counter() - started
        service = PackService(runtime)
        started = time.perf_counter()
        data = await service.export([SOURCE])
        export_s = time.perf_counter() - started
        started = time.perf_counter()
        pack = service.verify(data)
        verify_s = time.perf_counter() - started
        counts = await repo.counts(SOURCE)
        await knowledge.delete_source(SOURCE)
        jobs = JobService(runtime.db)
        job_id = await jobs.create("import", {})
        started = time.perf_counter()
        result = await service.import_pack(pack, on_conflict="replace", reporter=jobs.reporter(job_id))
        import_s = time.perf_counter() - started
        assert await repo.counts(SOURCE) == counts, "round trip lost rows"
        chunks = counts["chunk_count"]
        return {
            "pages": pages, "chunks": chunks, "dimensions": model.dimensions, "seed_s": round(seeded, 2),
            "pack_bytes": len(data), "bytes_per_chunk": round(len(data) / chunks),
            "export_s": round(export_s, 2), "export_chunks_per_s": round(chunks / export_s),
            "verify_s": round(verify_s, 2),
            "import_s": round(import_s, 2), "import_chunks_per_s": round(chunks / import_s),
            "vectors_reused": result["vectorsReused"], "peak_rss_mb": round(psutil.Process().memory_info().rss / 2**20),
        }
    finally:
        await runtime.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--chunks-per-page", type=int, default=10)
    args = parser.parse_args()
    results = asyncio.run(main(args.pages, args.chunks_per_page))
    print(json.dumps(results, indent=2))
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "packs.json").write_text(json.dumps(results, indent=2))
