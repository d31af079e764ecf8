from __future__ import annotations

from archon.knowledge.ingest.blocks import parse_blocks
from archon.knowledge.ingest.chunking import chunk_markdown, estimate_tokens
from archon.knowledge.ingest.cleaning import clean_markdown

PROSE = " ".join(f"Sentence {i} explains one more detail of the event loop." for i in range(120))


def test_split_at_headings_with_heading_path_title_first() -> None:
    md = "# Guide\n\n" + "Intro text. " * 30 + "\n\n## Install\n\n" + "Install text. " * 30 + \
         "\n\n### Linux\n\n" + "Linux text. " * 30 + "\n\n## Usage\n\n" + "Usage text. " * 30
    chunks = chunk_markdown(md, title="Guide")
    paths = [c.heading_path for c in chunks]
    assert paths == ["Guide", "Guide > Install", "Guide > Install > Linux", "Guide > Usage"]
    assert chunks[2].content.startswith("### Linux")
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert all(chunks[i].start < chunks[i + 1].start for i in range(3))


def test_long_prose_is_split_under_the_target_with_overlap() -> None:
    chunks = chunk_markdown(f"# T\n\n{PROSE}\n\nSecond paragraph here.\n", title="T", target_tokens=120,
                            overlap_tokens=20)
    assert len(chunks) > 5
    assert all(c.token_count <= 140 for c in chunks)
    # every word of the text survives, in order
    joined = " ".join(c.content for c in chunks)
    assert "Sentence 0 " in joined and "Sentence 119 " in joined and "Second paragraph here." in joined


def test_overlap_carries_the_previous_sentence() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} first sentence. Paragraph {i} closing sentence." for i in range(40))
    chunks = chunk_markdown(paragraphs, target_tokens=80, overlap_tokens=15)
    assert len(chunks) > 3
    second = chunks[1].content
    last_of_first = chunks[0].content.split("\n\n")[-1].split(". ")[-1]
    assert last_of_first.rstrip(".") in second
    assert "overlap" in chunks[1].kinds


def test_code_blocks_and_tables_are_never_cut() -> None:
    code = "```python\n" + "\n".join(f"x{i} = compute({i})  # step" for i in range(25)) + "\n```"
    table = "| name | value |\n|------|-------|\n" + "\n".join(f"| k{i} | v{i} |" for i in range(20))
    md = f"# T\n\n{PROSE[:600]}\n\n{code}\n\n{PROSE[:400]}\n\n{table}\n\nAfter the table.\n"
    chunks = chunk_markdown(md, title="T", target_tokens=200)
    with_code = [c for c in chunks if "```python" in c.content]
    assert len(with_code) == 1 and with_code[0].content.count("```") == 2
    assert "x0 = compute(0)" in with_code[0].content and "x24 = compute(24)" in with_code[0].content
    with_table = [c for c in chunks if "| k0 |" in c.content]
    assert len(with_table) == 1 and "| k19 |" in with_table[0].content


def test_huge_code_block_is_split_into_valid_fenced_parts() -> None:
    lines = [f"console.log('line {i} of a very long generated listing');" for i in range(300)]
    code = "```js\n" + "\n".join(lines) + "\n```"
    chunks = chunk_markdown(f"# Big\n\n{code}\n", title="Big", target_tokens=200)
    assert len(chunks) > 3
    for chunk in chunks:
        body = chunk.content.split("\n\n", 1)[-1] if chunk.content.startswith("# ") else chunk.content
        assert body.startswith("```js") and body.rstrip().endswith("```")
        assert chunk.content.count("```") == 2


def test_headings_inside_code_are_not_headings() -> None:
    md = "# Real\n\n```bash\n# install it\npip install x\n```\n\n## Also real\n\ntext\n"
    blocks = parse_blocks(md)
    assert [b.kind for b in blocks] == ["heading", "code", "heading", "text"]
    assert [c.heading_path for c in chunk_markdown(md, title="Real")] == ["Real"]  # tiny chunk absorbs the sub-heading


def test_setext_headings_and_unclosed_fences() -> None:
    blocks = parse_blocks("Title\n=====\n\ntext\n\nSub\n---\n\n```\nnever closed\n# still code")
    assert [(b.kind, b.heading) for b in blocks if b.kind == "heading"] == [("heading", "Title"), ("heading", "Sub")]
    assert blocks[-1].kind == "code" and "# still code" in blocks[-1].text


def test_no_quadratic_blow_up_on_text_without_spaces() -> None:
    chunks = chunk_markdown("x" * 200_000, target_tokens=200)
    assert chunks and sum(len(c.content) for c in chunks) == 200_000


def test_empty_and_whitespace_documents_give_no_chunks() -> None:
    assert chunk_markdown("") == []
    assert chunk_markdown("\n\n   \n") == []


def test_estimate_tokens_counts_word_pieces_roughly() -> None:
    assert estimate_tokens("the cat sat") == 3
    assert estimate_tokens("asyncio.gather(*tasks)") >= 6
    assert estimate_tokens("") == 0


def test_clean_markdown_strips_invisible_unicode_and_controls() -> None:
    smuggled = "Safe\u200b text\U000e0049\U000e0067\u202e here\x00\x07.\r\n\r\n\r\n\r\nNext\ufeff"
    assert clean_markdown(smuggled) == "Safe text here.\n\nNext\n"
