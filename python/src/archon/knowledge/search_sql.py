"""SQL text for search. Built per (model, mode, filter shape) so every statement is plannable on its own.

The vector part repeats the per-model partial HNSW index expression exactly
(`embedding::vector(D) <=> q::vector(D)` with `model_id = <literal>`); otherwise Postgres falls back
to a sequential scan. An exact scan is written with `+ 0` on the ORDER BY so the planner cannot use
the index, and each shape has its own text because psycopg auto-prepares statements by text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psycopg import sql

from archon.knowledge.models import EmbeddingModel

Target = Literal["chunks", "code"]

# websearch_to_tsquery reads a leading "-" as NOT: `--verbose` or `-v` in a question must not exclude the
# very chunks about that option, so dashes at the start of a word are dropped first.
_Q = r"regexp_replace(%(q)s, '(^|\s)-+', '\1', 'g')"
# English stemming; every term of the query (quoted phrases stay phrases).
_ENGLISH_ALL = f"websearch_to_tsquery('english', {_Q})"
# Lexemes found in more than `common` of the rows, from ANALYZE's most-common-elements statistics: they
# say little about relevance (an IDF cut in all but name) and would make the query rank most of the table.
# Read once a minute per process (`search.py`) and passed to each search as an array: extracting them
# from pg_stats costs ~1 ms, as much as the rest of the query-term handling.
COMMON_TERMS = """SELECT ARRAY(
        SELECT m.e FROM pg_stats st, unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs) m(e, f)
        WHERE st.schemaname = current_schema() AND st.tablename = %(table)s AND st.attname = %(column)s
          AND m.e IS NOT NULL AND m.f > %(common)s) AS terms"""


def text_array_literal(items: list[str]) -> str:
    """A Postgres text[] input literal: every item double-quoted, `"` and `\\` escaped."""
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


# The query's informative terms: its English lexemes that are not common, at most 8.
_RARE_TERMS = """ARRAY(SELECT w.lexeme FROM unnest(to_tsvector('english', %(q)s)) w
    WHERE w.lexeme <> ALL (%(common_terms)s::text[]) ORDER BY w.lexeme LIMIT 8)"""
# Identifiers are matched with the 'simple' configuration (no stemming). One that is a single common
# word there (`__get__` is just 'get') would match a large part of the table: it is left out.
_SIMPLE = """(SELECT string_agg('(' || q::text || ')', ' | ')::tsquery
    FROM regexp_split_to_table(%(idents)s, ' or ') x, websearch_to_tsquery('simple', ltrim(x, '-')) q
    WHERE numnode(q) > 1 OR (numnode(q) = 1 AND btrim(q::text, chr(39)) <> ALL (%(common_idents)s::text[])))"""


@dataclass(frozen=True)
class _Tables:
    items: str
    embeddings: str
    fk: str
    tsv: str
    simple_tsv: str | None


_TABLES = {
    "chunks": _Tables("archon_chunks", "archon_chunk_embeddings", "chunk_id", "content_tsv", "simple_tsv"),
    # code examples keep one tsvector mixing 'simple' (title, code) and 'english' (summary)
    "code": _Tables("archon_code_examples", "archon_code_embeddings", "code_example_id", "content_tsv", None),
}


def term_columns(target: Target) -> tuple[tuple[str, str], tuple[str, str]]:
    """(table, column) whose common lexemes a `target` search drops: from its terms, then its identifiers."""
    t = _TABLES[target]
    return (t.items, t.tsv), (t.items, t.simple_tsv or t.tsv)


# At most this many matching rows are ranked per query (in index order): a bound on the worst case
# (ranking costs ~20-60 us a row), reached at 100k chunks only by queries whose terms are all common.
RANK_CAP = 2000


def _distance(model: EmbeddingModel) -> sql.Composable:
    return sql.SQL("e.{col}::{typ} <=> %(qv)s::{typ}").format(col=sql.Identifier(model.column),
                                                           typ=sql.SQL(model.sql_type))


def vector_cte(model: EmbeddingModel, *, target: Target, filtered: bool, exact: bool) -> sql.Composable:
    """Top `nvec` items of the active model by cosine distance (HNSW, or exact for small filtered sets)."""
    t = _TABLES[target]
    where = sql.SQL("e.model_id = {mid}").format(mid=sql.Literal(model.id))
    if filtered:
        where = sql.SQL("{} AND e.source_id = ANY(%(sources)s)").format(where)
    order = sql.SQL("({}) + 0").format(_distance(model)) if exact else _distance(model)
    return sql.SQL(
        "vec AS MATERIALIZED (SELECT e.{fk} AS id, {dist} AS distance FROM {emb} e WHERE {where} "
        "ORDER BY {order} LIMIT %(nvec)s)"
    ).format(fk=sql.Identifier(t.fk), dist=_distance(model), emb=sql.Identifier(t.embeddings), where=where,
             order=order)


def keyword_cte(*, target: Target, filtered: bool, with_identifiers: bool) -> sql.Composable:
    """Top `nkw` items by full-text rank: chunks matching every term first, identifier hits boosted.

    Which rows get ranked: with two or more informative terms, the rows holding at least two of them
    (an OR of the pairs), unless fewer than `nkw` rows do; then the rows holding any of them; with no
    informative term, the rows holding every term. Ranking reads each row's tsvector, so the narrower
    set is what keeps a query from ranking thousands of rows.
    """
    t = _TABLES[target]
    tsv = sql.SQL("i.{}").format(sql.Identifier(t.tsv))
    simple = sql.SQL("i.{}").format(sql.Identifier(t.simple_tsv)) if t.simple_tsv else tsv
    source = sql.SQL(" AND i.source_id = ANY(%(sources)s)") if filtered else sql.SQL("")
    match = sql.SQL("{tsv} @@ qq.matchq").format(tsv=tsv)
    rank = sql.SQL("ts_rank({tsv}, qq.anyq) + ({tsv} @@ qq.allq)::int").format(tsv=tsv)
    if with_identifiers:
        match = sql.SQL("({match} OR {simple} @@ qq.identq)").format(match=match, simple=simple)
        rank = sql.SQL("{rank} + coalesce(2 * ({simple} @@ qq.identq)::int + ts_rank({simple}, qq.identq), 0)"
                       ).format(rank=rank, simple=simple)
    identq = sql.SQL(_SIMPLE) if with_identifiers else sql.SQL("NULL::tsquery")
    rare = sql.SQL(_RARE_TERMS)
    return sql.SQL(
        "qt AS MATERIALIZED (SELECT {rare} AS rare, {allq} AS allq, {identq} AS identq), "
        "qp AS MATERIALIZED (SELECT qt.*, CASE WHEN cardinality(qt.rare) = 0 THEN qt.allq ELSE "
        "array_to_string(ARRAY(SELECT quote_literal(r) FROM unnest(qt.rare) r), ' | ')::tsquery END AS anyq, "
        "CASE WHEN cardinality(qt.rare) >= 2 THEN (SELECT string_agg(format('(%%s & %%s)', quote_literal(a), "
        "quote_literal(b)), ' | ')::tsquery FROM unnest(qt.rare) WITH ORDINALITY x(a, n), "
        "unnest(qt.rare) WITH ORDINALITY y(b, m) WHERE n < m) END AS pairq FROM qt), "
        "qq AS MATERIALIZED (SELECT qp.*, CASE WHEN qp.pairq IS NOT NULL AND (SELECT count(*) FROM "
        "(SELECT 1 FROM {items} i WHERE {tsv} @@ qp.pairq{source} LIMIT %(nkw)s) n) >= %(nkw)s "
        "THEN qp.pairq ELSE qp.anyq END AS matchq FROM qp), "
        "kw AS MATERIALIZED (SELECT r.id, r.rank, ts_rank('{{0,0,0,1}}', {tsv}, qq.anyq) AS heading_rank "
        "FROM (SELECT i.id, {rank} AS rank FROM (SELECT i.* FROM {items} i, qq WHERE {match}{source} "
        "LIMIT {cap}) i, qq ORDER BY 2 DESC, i.id LIMIT %(nkw)s) r JOIN {items} i ON i.id = r.id, qq)"
    ).format(rare=rare, allq=sql.SQL(_ENGLISH_ALL), identq=identq, rank=rank, tsv=tsv,
             items=sql.Identifier(t.items), match=match, source=source, cap=sql.Literal(RANK_CAP))


_CHUNK_COLUMNS = ("c.id AS item_id, c.page_id, c.source_id, p.url, p.title, c.headings, c.content, "
                  "p.indexed_at")
_CODE_COLUMNS = ("c.id AS item_id, c.page_id, c.source_id, p.url, c.title, c.summary, c.code, c.language, "
                 "p.title AS page_title, p.indexed_at")


def search_statement(model: EmbeddingModel | None, *, target: Target, use_vector: bool, use_keyword: bool,
                     filtered: bool, exact: bool, with_identifiers: bool) -> sql.Composed:
    """One statement returning every candidate of both lists with its content and its per-list scores."""
    if not (use_vector or use_keyword):
        raise ValueError("nothing to search")
    ctes: list[sql.Composable] = []
    unions: list[str] = []
    if use_vector:
        assert model is not None
        ctes.append(vector_cte(model, target=target, filtered=filtered, exact=exact))
        unions.append("SELECT id FROM vec")
    if use_keyword:
        ctes.append(keyword_cte(target=target, filtered=filtered, with_identifiers=with_identifiers))
        unions.append("SELECT id FROM kw")
    t = _TABLES[target]
    vec_cols = "v.distance" if use_vector else "NULL::float8 AS distance"
    kw_cols = "k.rank AS keyword_score, k.heading_rank" if use_keyword else \
        "NULL::float4 AS keyword_score, NULL::float4 AS heading_rank"
    joins = (" LEFT JOIN vec v ON v.id = c.id" if use_vector else "") + (
        " LEFT JOIN kw k ON k.id = c.id" if use_keyword else "")
    return sql.SQL(
        "WITH {ctes} SELECT {cols}, {vec_cols}, {kw_cols} FROM ({unions}) ids "
        "JOIN {items} c ON c.id = ids.id JOIN archon_pages p ON p.id = c.page_id{joins}"
    ).format(ctes=sql.SQL(", ").join(ctes), cols=sql.SQL(_CHUNK_COLUMNS if target == "chunks" else _CODE_COLUMNS),
             vec_cols=sql.SQL(vec_cols), kw_cols=sql.SQL(kw_cols), unions=sql.SQL(" UNION ".join(unions)),
             items=sql.Identifier(t.items), joins=sql.SQL(joins))


# Resolves every filter to a set of source ids (and reports ids that do not exist) in one statement,
# with a capped count of the active model's vectors in that set to pick exact vs HNSW search.
FILTER_STATEMENT = """
WITH matched AS (
    SELECT s.id FROM archon_sources s
    WHERE (%(ids)s::text[] IS NULL OR s.id = ANY(%(ids)s::text[]))
      AND (%(ktype)s::text IS NULL OR s.knowledge_type = %(ktype)s::text)
      AND (%(tags)s::text[] IS NULL OR s.tags && %(tags)s::text[])
      AND (%(project)s::uuid IS NULL OR EXISTS (
            SELECT 1 FROM archon_project_sources ps WHERE ps.project_id = %(project)s::uuid AND ps.source_id = s.id))
)
SELECT ARRAY(SELECT id FROM matched ORDER BY id) AS sources,
       ARRAY(SELECT x FROM unnest(coalesce(%(ids)s::text[], ARRAY[]::text[])) x
             WHERE NOT EXISTS (SELECT 1 FROM archon_sources s WHERE s.id = x)) AS unknown,
       (%(project)s::uuid IS NULL OR EXISTS (SELECT 1 FROM archon_projects WHERE id = %(project)s::uuid))
           AS project_exists,
       (SELECT count(*) FROM (SELECT 1 FROM {embeddings} e
             WHERE e.model_id = %(mid)s AND e.source_id IN (SELECT id FROM matched) LIMIT %(cap)s) n) AS vectors
"""


def filter_statement(target: Target) -> sql.Composed:
    return sql.SQL(FILTER_STATEMENT).format(embeddings=sql.Identifier(_TABLES[target].embeddings))

