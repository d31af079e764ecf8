from __future__ import annotations

from archon.knowledge.ingest.code_examples import extract_code_examples, guess_language

LONG_PY = "\n".join([
    "import asyncio",
    "",
    "async def fetch(name: str) -> str:",
    "    await asyncio.sleep(0.1)",
    "    return name.upper()",
    "",
    "async def main() -> None:",
    "    print(await asyncio.gather(fetch('a'), fetch('b')))",
])


def test_fenced_block_with_language_context_and_title() -> None:
    md = (f"# Concurrency\n\n## Gathering results\n\nUse gather to run coroutines concurrently. It returns a list.\n\n"
          f"```py\n{LONG_PY}\n```\n\nThe results keep the order of the arguments.\n")
    [example] = extract_code_examples(md, title="Asyncio")
    assert example.language == "python"
    assert example.code == LONG_PY
    assert example.title == "Gathering results (python example)"
    assert example.summary == "Use gather to run coroutines concurrently."
    assert "Use gather" in example.context and "keep the order" in example.context
    assert example.position == 0


def test_short_blocks_diagrams_are_skipped_and_positions_are_dense() -> None:
    md = ("```bash\nls\n```\n\n```mermaid\n" + "graph TD; A-->B;\n" * 20 + "```\n\n"
          f"```\n{LONG_PY}\n```\n\n~~~rust\n" + "fn main() { println!(\"hello world from rust\"); }\n" * 5 + "~~~\n")
    examples = extract_code_examples(md, title="Page")
    assert [e.language for e in examples] == ["python", "rust"]  # unlabelled python is guessed
    assert [e.position for e in examples] == [0, 1]
    assert examples[0].title == "Page (python example)"


def test_pre_blocks_are_extracted_with_their_language_class() -> None:
    html_code = LONG_PY.replace("<", "&lt;").replace(">", "&gt;")
    md = f'# API\n\nExample:\n\n<pre class="language-python"><code>{html_code}</code></pre>\n'
    [example] = extract_code_examples(md)
    assert example.language == "python" and "async def main() -> None:" in example.code
    assert "<code>" not in example.code


def test_guess_language() -> None:
    assert guess_language("SELECT * FROM t WHERE x = 1") == "sql"
    assert guess_language("$ pip install archon") == "bash"
    assert guess_language("fn main() {}") == "rust"
    assert guess_language("just words") == ""
