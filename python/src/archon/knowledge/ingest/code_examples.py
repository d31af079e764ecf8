"""Code-example extraction (pure): fenced and `<pre>` blocks with language, context and a title."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from archon.knowledge.ingest.blocks import Block, parse_blocks

MIN_CODE_CHARS = 120  # shorter snippets (a single call, a file name) are not worth a separate index entry
MAX_CODE_CHARS = 12_000
CONTEXT_CHARS = 600
_DIAGRAMS = {"mermaid", "plantuml", "dot", "graphviz", "ditaa"}
_OUTPUT_LANGS = {"output", "console-output", "log"}
_TAG = re.compile(r"<[^>]+>")
_PRE_LANG = re.compile(r"""class\s*=\s*["'][^"']*(?:language|lang|highlight)-([A-Za-z0-9_+#-]+)""", re.IGNORECASE)
_LANG_ALIASES = {"py": "python", "python3": "python", "pycon": "python", "js": "javascript", "ts": "typescript",
                 "sh": "bash", "shell": "bash", "console": "bash", "zsh": "bash", "yml": "yaml", "rs": "rust",
                 "golang": "go", "c++": "cpp", "postgresql": "sql", "psql": "sql"}

_GUESSES: list[tuple[str, re.Pattern[str]]] = [
    ("python", re.compile(r"^\s*(def |class |import |from \S+ import |async def |>>> )", re.M)),
    ("typescript", re.compile(r"^\s*(interface \w+|type \w+ =|export (const|function|interface))|: (string|number)\b",
                              re.M)),
    ("javascript", re.compile(r"^\s*(const |let |function |module\.exports|require\()|=> \{", re.M)),
    ("rust", re.compile(r"^\s*(fn |use \w+::|impl |pub fn |let mut )", re.M)),
    ("go", re.compile(r"^\s*(package \w+|func \w+\(|import \()", re.M)),
    ("sql", re.compile(r"^\s*(SELECT|INSERT INTO|CREATE TABLE|UPDATE|DELETE FROM)\b", re.M | re.I)),
    ("bash", re.compile(r"^\s*(\$ |pip |npm |apt(-get)? |curl |docker |git |cd |export \w+=)", re.M)),
    ("json", re.compile(r"^\s*[\[{]\s*\"", re.S)),
    ("html", re.compile(r"^\s*<(!DOCTYPE|html|div|head|body)\b", re.I)),
]


@dataclass(frozen=True)
class CodeExample:
    position: int
    code: str
    language: str
    title: str
    summary: str
    context: str


def guess_language(code: str) -> str:
    """A best guess from the code's shape; '' when nothing matches."""
    for language, pattern in _GUESSES:
        if pattern.search(code):
            return language
    return ""


def _normalise_language(info: str) -> str:
    language = info.strip().lower().lstrip("{.").rstrip("}")
    language = language.split(",")[0].split(":")[0]
    return _LANG_ALIASES.get(language, language)


def _code_and_language(block: Block) -> tuple[str, str]:
    lines = block.text.split("\n")
    if block.fence:
        closed = len(lines) > 1 and lines[-1].strip().startswith(block.fence[0] * 3)
        code = "\n".join(lines[1:-1] if closed else lines[1:])
        return code, _normalise_language(block.language)
    match = _PRE_LANG.search(lines[0])
    code = html.unescape(_TAG.sub("", block.text))
    return code.strip("\n"), _normalise_language(match.group(1)) if match else ""


def _prose(block: Block) -> str:
    return block.heading if block.kind == "heading" else block.text


def _first_sentence(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    match = re.search(r"^(.+?[.!?:])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence[:limit].rstrip()


def extract_code_examples(markdown: str, *, title: str = "", min_chars: int = MIN_CODE_CHARS,
                          max_chars: int = MAX_CODE_CHARS) -> list[CodeExample]:
    """Code blocks of at least `min_chars` characters, with the prose around them and a title."""
    blocks = parse_blocks(markdown)
    examples: list[CodeExample] = []
    headings: dict[int, str] = {}
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            headings = {lvl: name for lvl, name in headings.items() if lvl < block.level}
            headings[block.level] = block.heading
            continue
        if block.kind != "code":
            continue
        code, language = _code_and_language(block)
        if len(code.strip()) < min_chars or language in _DIAGRAMS or language in _OUTPUT_LANGS:
            continue
        code = code[:max_chars]
        language = language or guess_language(code)
        before = [b for b in blocks[max(0, i - 3):i] if b.kind in ("text", "heading")]
        after = [b for b in blocks[i + 1:i + 3] if b.kind == "text"]
        context_before = "\n\n".join(_prose(b) for b in before)[-CONTEXT_CHARS:]
        context_after = "\n\n".join(_prose(b) for b in after)[:CONTEXT_CHARS // 2]
        lead = next((b.text for b in reversed(before) if b.kind == "text"), "")
        section = headings[max(headings)] if headings else title
        summary = _first_sentence(lead) if lead else ""
        label = section or title or "Code example"
        example_title = f"{label} ({language} example)" if language else f"{label} (example)"
        examples.append(CodeExample(
            position=len(examples), code=code, language=language, title=example_title[:200], summary=summary,
            context="\n\n".join(p for p in (context_before, context_after) if p),
        ))
    return examples
