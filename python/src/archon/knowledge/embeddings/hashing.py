"""A deterministic, dependency-free embedder: feature hashing of word unigrams and bigrams.

Used by tests and by operators who want a zero-download keyword-ish vector space. It is a real
embedder (similar texts get similar vectors) so tests exercise the same code paths as the model.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re

_TOKEN = re.compile(r"[A-Za-z0-9_]+")


class HashingEmbedder:
    provider = "hash"

    def __init__(self, model: str = "hash-v1", dimensions: int = 384) -> None:
        self.model = model
        self.dimensions = dimensions
        self.max_tokens = 256

    def _vector(self, text: str) -> list[float]:
        words = [w.lower() for w in _TOKEN.findall(text)]
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        vec = [0.0] * self.dimensions
        for feature in features or ["<empty>"]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dimensions
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:  # every feature cancelled out; never return a zero vector
            vec[0], norm = 1.0, 1.0
        return [v / norm for v in vec]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def status(self) -> str:
        return "ready"
