"""sitemap.xml parsing (pure) with entity-bomb protection, gzip limits and index recursion limits."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed file
MAX_URLS_PER_SITEMAP = 50_000
MAX_SITEMAP_FILES = 50  # an index pointing at thousands of sitemaps stops here
MAX_INDEX_DEPTH = 3


class SitemapError(ValueError):
    """A sitemap that cannot be used (malformed, too large, an XML bomb)."""


@dataclass
class Sitemap:
    """The page URLs and nested sitemap URLs found in one sitemap file."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def gunzip_limited(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress gzip data, refusing output above `limit` bytes (a gzip bomb stops early)."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SitemapError(f"invalid gzip data: {exc}") from exc
    if len(out) > limit or decoder.unconsumed_tail:
        raise SitemapError(f"decompressed sitemap exceeds {limit} bytes")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(data: bytes, *, limit: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """Parse a `<urlset>` or `<sitemapindex>` document (gzip detected by its magic bytes)."""
    if data[:2] == b"\x1f\x8b":
        data = gunzip_limited(data, limit)
    if len(data) > limit:
        raise SitemapError(f"sitemap exceeds {limit} bytes")
    try:
        # defusedxml refuses DTDs with entities (billion laughs, quadratic blowup) and external entities.
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise SitemapError(f"invalid sitemap XML: {type(exc).__name__}: {exc}") from exc
    result = Sitemap()
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap (root element <{kind}>)")
    target = result.pages if kind == "urlset" else result.sitemaps
    for entry in root:
        for child in entry:
            if _local(child.tag) == "loc" and child.text and child.text.strip():
                target.append(child.text.strip())
                break
        if len(target) >= MAX_URLS_PER_SITEMAP:
            break
    return result


def looks_like_sitemap(data: bytes) -> bool:
    """Cheap sniff: gzip or an XML document mentioning urlset/sitemapindex."""
    if data[:2] == b"\x1f\x8b":
        return True
    head = data[:2048].lower()
    return b"<urlset" in head or b"<sitemapindex" in head
