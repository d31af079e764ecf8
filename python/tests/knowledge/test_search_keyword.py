"""The full-text half of search: which rows get ranked (pairs of informative terms), dashes, identifiers."""

from __future__ import annotations

from typing import Any

from archon.knowledge import search_sql
from archon.knowledge.search import SearchService
from archon.runtime import Runtime
from tests.knowledge.search_corpus import DOCS, load_corpus, page_url


async def _common(runtime: Runtime, column: str, common: float) -> list[str]:
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(search_sql.COMMON_TERMS,
                                        {"table": "archon_chunks", "column": column, "common": common})).fetchone()
    assert row is not None
    return list(row["terms"])


async def _query_terms(runtime: Runtime, q: str, idents: str = "", common: float = 0.5) -> dict[str, Any]:
    cte = search_sql.keyword_cte(target="chunks", filtered=False, with_identifiers=bool(idents))
    async with runtime.db.connection() as conn:
        await conn.execute("ANALYZE archon_chunks")
    params = {"q": q, "idents": idents, "nkw": 40, "common_terms": await _common(runtime, "content_tsv", common),
              "common_idents": await _common(runtime, "simple_tsv", common)}
    async with runtime.db.connection() as conn:
        head = cte.as_string(conn).split(", kw AS MATERIALIZED")[0]
        row = await (await conn.execute(
            "WITH " + head + " SELECT rare, allq::text AS allq, anyq::text AS anyq, pairq::text AS pairq, "
            "matchq::text AS matchq, identq::text AS identq FROM qq", params)).fetchone()
    assert row is not None
    return dict(row)


async def test_leading_dashes_are_not_negation(runtime: Runtime) -> None:
    await load_corpus(runtime)
    terms = await _query_terms(runtime, "accept --verbose flags -v", idents="--verbose")
    assert "!" not in terms["allq"] and "verbos" in terms["allq"]
    assert terms["identq"] == "'verbose'"  # not !'verbose', which would match almost every row


async def test_two_informative_terms_must_co_occur_unless_too_few_rows_do(runtime: Runtime) -> None:
    await load_corpus(runtime)
    terms = await _query_terms(runtime, "memoizing decorator remembers expensive results")
    assert len(terms["rare"]) >= 3
    assert "&" in terms["pairq"] and "|" in terms["pairq"]
    # the tiny corpus has fewer than 40 rows holding two of the terms: the any-term query is used
    assert terms["matchq"] == terms["anyq"] and "&" not in terms["anyq"]


async def test_query_of_common_words_only_needs_every_word(runtime: Runtime) -> None:
    await load_corpus(runtime)
    terms = await _query_terms(runtime, "expensive results remembered", common=0.0001)  # every term counts as common
    assert terms["rare"] == [] and terms["matchq"] == terms["allq"] and "&" in terms["allq"]


async def test_dashed_option_in_a_sentence_finds_its_page(runtime: Runtime) -> None:
    await load_corpus(runtime)
    response = await SearchService(runtime).query("push with --force-with-lease when someone else pushed",
                                                  search_mode="keyword", match_count=3)
    assert response.results and response.results[0].url == page_url(DOCS, "git-push")


async def test_common_terms_literal_round_trips_any_lexeme(runtime: Runtime) -> None:
    odd = ["plain", 'quo"te', "back\\slash", "com,ma", "{brace}", "sp ace", "NULL", "", "ünï"]
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT %s::text[] AS a", (search_sql.text_array_literal(odd),))).fetchone()
    assert row is not None and row["a"] == odd
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT %s::text[] AS a", (search_sql.text_array_literal([]),))).fetchone()
    assert row is not None and row["a"] == []


async def test_search_drops_terms_common_in_the_corpus(runtime: Runtime) -> None:
    """The service reads the common lexemes from ANALYZE statistics once and reuses them."""
    await load_corpus(runtime)
    async with runtime.db.connection() as conn:
        await conn.execute("ANALYZE archon_chunks")
    service = SearchService(runtime)
    terms = await service.common_terms("archon_chunks", "content_tsv")
    assert terms == search_sql.text_array_literal(await _common(runtime, "content_tsv", 0.01))
    assert terms != "{}"  # the corpus has words in more than 1 % of its chunks
    assert await service.common_terms("archon_chunks", "content_tsv") is terms  # cached
