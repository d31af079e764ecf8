"""URL rules for crawling (pure, IO-free): canonical form, scope and include/exclude patterns."""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track the visitor; they never change a documentation page.
TRACKING_PARAMS = frozenset({
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id", "utm_name",
    "gclid", "dclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl", "ref_src", "igshid",
    "yclid", "_hsenc", "_hsmi", "mkt_tok",
})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Links to these never lead to a documentation page worth converting.
BINARY_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".bmp", ".tif", ".tiff", ".avif",
    ".css", ".js", ".mjs", ".map", ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".tar", ".rar", ".whl", ".egg", ".jar", ".deb", ".rpm",
    ".exe", ".dmg", ".msi", ".iso", ".bin", ".pdf", ".epub", ".mp3", ".mp4", ".webm", ".mov", ".avi",
    ".wav", ".ogg", ".json", ".xml", ".rss", ".atom", ".csv", ".xlsx", ".docx", ".pptx",
})
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"


def _quote_path(path: str) -> str:
    # Decoding then re-encoding makes %7E and ~ (or %41 and A) one URL.
    return quote(unquote(path), safe=_SAFE_PATH)


def canonicalize(url: str, *, keep_fragment: bool = False) -> str:
    """The canonical form used for de-duplication and as the stored page URL.

    Lower-case scheme and host, default port dropped, dot segments resolved, tracking parameters
    removed, remaining query sorted, fragment dropped, and a trailing slash removed (except the
    root path), so `/docs/` and `/docs` are one page.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = parts.path or "/"
    if "/." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if trailing and path != "/":
            path += "/"
    path = _quote_path(path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in TRACKING_PARAMS]
    query.sort()
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), fragment))


def url_key(url: str) -> str:
    """A short stable key for a canonical URL (used in ids)."""
    return hashlib.sha256(canonicalize(url).encode()).hexdigest()[:16]


def source_id_for(url: str) -> str:
    """Web source ids: `src_` + 16 hex of sha256 of the canonical seed URL."""
    return "src_" + hashlib.sha256(canonicalize(url).encode()).hexdigest()[:16]


def resolve_link(base: str, href: str) -> str | None:
    """An absolute http(s) URL for `href` found on `base`, or None for mailto:, javascript:, anchors..."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    absolute = urljoin(base, href)
    scheme = urlsplit(absolute).scheme.lower()
    if scheme not in ("http", "https"):
        return None
    return absolute


def host_of(url: str) -> str:
    """`host[:port]` of a URL, lower-case, default port dropped."""
    return urlsplit(canonicalize(url)).netloc


def path_prefix(url: str) -> str:
    """The directory of a URL's path: `/docs/guide/intro` -> `/docs/guide/`."""
    path = _quote_path(urlsplit(url.strip()).path or "/")
    if path.endswith("/"):
        return path
    return path.rsplit("/", 1)[0] + "/"


def looks_binary(url: str) -> bool:
    """True for links to images, archives, scripts and other non-page files."""
    path = urlsplit(url).path.lower()
    ext = posixpath.splitext(path)[1]
    return ext in BINARY_EXTENSIONS


def _matches(url: str, patterns: Sequence[str]) -> bool:
    path = urlsplit(url).path or "/"
    return any(fnmatch.fnmatchcase(url, p) or fnmatch.fnmatchcase(path, p) for p in patterns)


@dataclass(frozen=True)
class Scope:
    """Which discovered URLs a crawl follows."""

    hosts: frozenset[str]
    prefix: str | None = None  # same path prefix (directory of the seed) when set
    include: tuple[str, ...] = field(default_factory=tuple)
    exclude: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def for_seed(cls, seed: str, *, same_path_prefix: bool = False, include: Iterable[str] = (),
                 exclude: Iterable[str] = (), extra_hosts: Iterable[str] = ()) -> Scope:
        """Same host as `seed` (plus `extra_hosts`), optionally under the seed's directory."""
        return cls(hosts=frozenset({host_of(seed), *extra_hosts}),
                   prefix=path_prefix(seed) if same_path_prefix else None,
                   include=tuple(include), exclude=tuple(exclude))

    def reason_out(self, url: str) -> str | None:
        """Why `url` is outside the crawl (None when it is inside). Patterns match the full URL or its path."""
        canonical = canonicalize(url)
        parts = urlsplit(canonical)
        if parts.netloc not in self.hosts:
            return "other host"
        if self.prefix and not (parts.path + "/").startswith(self.prefix):
            return "outside path prefix"
        if looks_binary(canonical):
            return "not a page"
        if self.include and not _matches(canonical, self.include):
            return "not included"
        if self.exclude and _matches(canonical, self.exclude):
            return "excluded"
        return None

    def allows(self, url: str) -> bool:
        """True when the crawl should follow `url`."""
        return self.reason_out(url) is None


def dedupe(urls: Iterable[str]) -> list[str]:
    """Canonical URLs in first-seen order, each once."""
    seen: set[str] = set()
    out: list[str] = []
    for url in urls:
        canonical = canonicalize(url)
        if canonical not in seen:
            seen.add(canonical)
            out.append(canonical)
    return out
