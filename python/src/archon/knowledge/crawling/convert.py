"""HTML -> main-content markdown, run in worker processes (CPU-bound).

The page's main content is selected with the selectors of common documentation generators
(Sphinx, MkDocs, Docusaurus, GitBook, VitePress, rustdoc), chrome inside it (permalinks, edit
links, pagers, breadcrumbs) is removed, and crawl4ai's markdown generator renders what is left.
Links are collected from the whole page first, because navigation is where a crawl finds pages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lhtml
from lxml.cssselect import CSSSelector

# Ordered: the first selector that matches a non-trivial element wins.
MAIN_SELECTORS = (
    "#main-content",                     # rustdoc
    "article.md-content__inner",         # MkDocs Material
    ".vp-doc",                           # VitePress
    ".theme-doc-markdown",               # Docusaurus
    "div[role=main]",                    # Sphinx (basic, alabaster, RTD), MkDocs default themes
    "article[role=main]",                # Sphinx Furo, pydata
    "section.markdown-section",          # GitBook (legacy), docsify
    ".markdown-section",
    "main article",                      # GitBook, Docusaurus blog, many static sites
    "div.body",                          # older Sphinx
    "main",
    "article",
    "[role=main]",
    "#content",
    ".content",
)
# Removed everywhere before conversion: never content.
ALWAYS_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
               "form", "button", "input", "select", "textarea", "dialog")
# Removed inside the selected content: chrome that generators place next to the text. Matched in
# one pass over the tree (a CSS union of these costs ~10x more on large pages).
CHROME_TAGS = frozenset({"nav", "aside", "footer", "rustdoc-toolbar"})
CHROME_ROLES = frozenset({"navigation", "contentinfo", "search"})
CHROME_IDS = frozenset({"copy-path", "toc", "sidebar"})
CHROME_CLASSES = frozenset({
    "headerlink", "hash-link", "anchorjs-link",                                    # permalinks
    "sphinxsidebar", "related", "rst-footer-buttons", "wy-breadcrumbs", "prev-next-area", "footer",  # Sphinx
    "md-sidebar", "md-footer", "md-source-file", "md-content__button", "md-nav",   # MkDocs Material
    "theme-doc-footer", "theme-doc-breadcrumbs", "pagination-nav", "theme-doc-toc-mobile",  # Docusaurus
    "theme-edit-this-page", "theme-last-updated",
    "VPDocFooter", "VPDocAside", "edit-link", "prev-next", "pager",                 # VitePress
    "rustdoc-breadcrumbs", "out-of-band", "sidebar", "sidebar-elems",              # rustdoc
    "breadcrumbs", "breadcrumb", "edit-this-page", "page-footer", "copyright", "toc-mobile",
    "skip-link", "visually-hidden", "sr-only",
})
# Compiled once per process: translating CSS to XPath costs more than applying it.
_MAIN = tuple((sel, CSSSelector(sel)) for sel in MAIN_SELECTORS)
_DROP_XPATH = etree.XPath("|".join(f"//{tag}" for tag in ALWAYS_DROP) + "|//comment()")
_WS = re.compile(r"\s+")
_JS_HINT = re.compile(r"enable javascript|requires javascript|javascript is (disabled|required)", re.I)
_BLANK_LINES = re.compile(r"\n{3,}")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
MIN_MAIN_TEXT = 40  # a selector matching a near-empty element (a skip link) does not count
EMPTY_PAGE_TEXT = 200  # below this much visible text a page with scripts is rendered in a browser


@dataclass
class ConvertedPage:
    """What a page yields: its title, main-content markdown and the links found anywhere on it."""

    title: str
    markdown: str
    links: list[str] = field(default_factory=list)
    selector: str = ""
    needs_browser: bool = False


def _text_len(el: lhtml.HtmlElement) -> int:
    return len(_WS.sub(" ", el.text_content()).strip())


def _select_main(doc: lhtml.HtmlElement) -> tuple[lhtml.HtmlElement, str]:
    for selector, compiled in _MAIN:
        for el in compiled(doc):
            if _text_len(el) >= MIN_MAIN_TEXT:
                return el, selector
    body = doc.find("body")
    return (body if body is not None else doc), "body"


def _is_chrome(el: lhtml.HtmlElement) -> bool:
    if el.tag in CHROME_TAGS or el.get("role") in CHROME_ROLES or el.get("id") in CHROME_IDS:
        return True
    classes = el.get("class")
    return bool(classes) and not CHROME_CLASSES.isdisjoint(classes.split())


def _chrome(main: lhtml.HtmlElement) -> list[lhtml.HtmlElement]:
    return [el for el in main.iterdescendants() if isinstance(el.tag, str) and _is_chrome(el)]


def _drop(elements: list[lhtml.HtmlElement]) -> None:
    for el in elements:
        if el.getparent() is not None:
            el.drop_tree()


def _title(doc: lhtml.HtmlElement, main: lhtml.HtmlElement) -> str:
    for candidate in (main.find(".//h1"), doc.find(".//title"), doc.find(".//h1")):
        if candidate is not None:
            text = _WS.sub(" ", candidate.text_content()).replace("¶", "").strip()
            if text:
                return text[:500]
    return ""


def _generator() -> object:
    global _GENERATOR
    if _GENERATOR is None:
        os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        from crawl4ai.markdown_generation_strategy import DefaultMarkdownGenerator

        # Link targets and images only dilute chunks (and the embedding model's short window).
        _GENERATOR = DefaultMarkdownGenerator(options={"ignore_links": True, "ignore_images": True,
                                                       "body_width": 0})
    return _GENERATOR


_GENERATOR: object | None = None


def to_markdown(html_fragment: str, base_url: str) -> str:
    """crawl4ai's markdown for an HTML fragment, with runs of blank lines collapsed."""
    result = _generator().generate_markdown(html_fragment, base_url=base_url, citations=False)  # type: ignore[attr-defined]
    return _BLANK_LINES.sub("\n\n", result.raw_markdown).strip()


def convert_html(url: str, html: str) -> ConvertedPage:
    """Convert one HTML page; `url` is the final URL (after redirects) for resolving links."""
    try:
        # lxml refuses text that starts with an XML encoding declaration (XHTML, e.g. DocBook's output).
        doc = lhtml.document_fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (etree.ParserError, ValueError):
        return ConvertedPage(title="", markdown="", needs_browser=False)
    base = doc.find(".//base[@href]")
    base_url = base.get("href") if base is not None else url
    links = [href for href in doc.xpath("//a/@href") if isinstance(href, str)]
    scripts = len(doc.xpath("//script"))
    noscript_js = any(_JS_HINT.search(el.text_content() or "") for el in doc.xpath("//noscript"))
    _drop(_DROP_XPATH(doc))
    main, selector = _select_main(doc)
    _drop(_chrome(main))
    title = _title(doc, main)
    visible = _text_len(doc.find("body") if doc.find("body") is not None else doc)
    fragment = lhtml.tostring(main, encoding="unicode")
    markdown = to_markdown(fragment, base_url or url)
    needs_browser = visible < EMPTY_PAGE_TEXT and (scripts > 0 or noscript_js)
    return ConvertedPage(title=title, markdown=markdown, links=[str(h) for h in links], selector=selector,
                         needs_browser=needs_browser)
