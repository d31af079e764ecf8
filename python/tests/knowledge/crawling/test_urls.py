"""URL rules: canonical form, de-duplication, scope and include/exclude patterns (pure)."""

from __future__ import annotations

import pytest

from archon.knowledge.crawling.urls import Scope, canonicalize, dedupe, path_prefix, resolve_link, source_id_for
from archon.knowledge.service import source_id_for_url


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTP://Docs.Example.COM:80/Guide/#intro", "http://docs.example.com/Guide"),
    ("https://docs.example.com:443/a/b/../c/./d.html", "https://docs.example.com/a/c/d.html"),
    ("https://docs.example.com/x?utm_source=n&b=2&a=1&fbclid=z", "https://docs.example.com/x?a=1&b=2"),
    ("https://docs.example.com/", "https://docs.example.com/"),
    ("https://docs.example.com", "https://docs.example.com/"),
    ("https://docs.example.com/a%7Eb/%41", "https://docs.example.com/a~b/A"),
    ("https://docs.example.com:8443/p/", "https://docs.example.com:8443/p"),
    ("http://[::1]:8080/p", "http://[::1]:8080/p"),
])
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


def test_dedupe_and_source_ids() -> None:
    urls = ["https://d.example/a/", "https://d.example/a#x", "https://d.example/a?utm_medium=m", "https://d.example/b"]
    assert dedupe(urls) == ["https://d.example/a", "https://d.example/b"]
    assert source_id_for("https://D.example/a/") == source_id_for_url(canonicalize("https://d.example/a"))
    assert source_id_for("https://d.example/a").startswith("src_") and len(source_id_for("https://d.example/a")) == 20


def test_resolve_link_skips_non_http() -> None:
    assert resolve_link("https://d.example/a/b.html", "../c.html") == "https://d.example/c.html"
    for href in ("mailto:x@y.z", "javascript:void(0)", "#top", "", "tel:123", "data:text/html,x"):
        assert resolve_link("https://d.example/", href) is None


def test_scope_same_host_prefix_and_patterns() -> None:
    scope = Scope.for_seed("https://d.example/docs/guide/", same_path_prefix=True)
    assert path_prefix("https://d.example/docs/guide/") == "/docs/guide/"
    assert path_prefix("https://d.example/docs/guide/intro.html") == "/docs/guide/"
    assert scope.allows("https://d.example/docs/guide/intro.html")
    assert scope.allows("https://d.example/docs/guide")
    assert not scope.allows("https://d.example/docs/other.html")
    assert not scope.allows("https://other.example/docs/guide/x")
    assert not scope.allows("https://d.example/docs/guide/logo.png")
    patterns = Scope.for_seed("https://d.example/", include=["/api/*", "*/guide/*"], exclude=["*/v1/*"])
    assert patterns.allows("https://d.example/api/x") and patterns.allows("https://d.example/a/guide/b")
    assert not patterns.allows("https://d.example/api/v1/x") and not patterns.allows("https://d.example/blog/x")
    assert patterns.reason_out("https://d.example/blog") == "not included"
