"""Markdown clean-up before chunking (pure): invisible Unicode, control characters, blank-line runs."""

from __future__ import annotations

import re

# Characters that are invisible to a reader but not to a model: Unicode tag characters (used to smuggle
# prompt-injection text), bidi embeddings/overrides/isolates, zero-width characters and the BOM.
_INVISIBLE = re.compile(
    "[\U000e0000-\U000e007f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060-\u2064\ufeff\u00ad]"
)
# C0/C1 controls except tab and newline; Postgres also refuses NUL in text.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def strip_invisible(text: str) -> str:
    """Remove tag characters, bidi controls, zero-width characters and control characters."""
    return _CONTROLS.sub("", _INVISIBLE.sub("", text))


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


def strip_html_comments(text: str) -> str:
    """Drop `<!-- ... -->` outside fenced code: hidden text a reader never sees but a model would."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if fence is None and match:
            if prose:
                out.append(_HTML_COMMENT.sub("", "\n".join(prose)))
            prose, fence = [], match.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
        else:
            prose.append(line)
    if prose:
        out.append(_HTML_COMMENT.sub("", "\n".join(prose)))
    return "\n".join(out)


def clean_markdown(markdown: str) -> str:
    """Normalise newlines, drop invisible characters, trailing spaces and runs of blank lines."""
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    text = strip_html_comments(strip_invisible(text))
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n") + "\n" if text.strip() else ""
