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

# English stemming with OR semantics over the query's informative terms: a paraphrased question rarely
# contains every word of the answer.
_ENGLISH_ALL = "websearch_to_tsquery('english', %(q)s)"
# The OR query leaves out terms found in more than `common` of the rows (from ANALYZE's most-common-
# elements statistics): they say little about relevance (an IDF in all but name) and would make the
# query rank most of the table. When every term is common, all of them must match (the AND query),
# which stays selective; the plain OR of common terms would rank a large part of the table.
_ENGLISH_RARE = """(SELECT string_agg(quote_literal(w.lexeme), ' | ')::tsquery
    FROM unnest(to_tsvector('english', %(q)s)) w
    WHERE w.lexeme <> ALL (ARRAY(
        SELECT m.e FROM pg_stats st, unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs) m(e, f)
        WHERE st.schemaname = current_schema() AND st.tablename = {table} AND st.attname = {column}
          AND m.e IS NOT NULL AND m.f > %(common)s)))"""
_SIMPLE = "websearch_to_tsquery('simple', %(idents)s)"


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
    """Top `nkw` items by full-text rank: chunks matching every term first, identifier hits boosted."""
    t = _TABLES[target]
    tsv = sql.SQL("i.{}").format(sql.Identifier(t.tsv))
    match = sql.SQL("{tsv} @@ qq.anyq").format(tsv=tsv)
    rank = sql.SQL("ts_rank({tsv}, qq.anyq) + ({tsv} @@ qq.allq)::int").format(tsv=tsv)
    if with_identifiers:
        simple = sql.SQL("i.{}").format(sql.Identifier(t.simple_tsv)) if t.simple_tsv else tsv
        match = sql.SQL("({match} OR {simple} @@ qq.identq)").format(match=match, simple=simple)
        rank = sql.SQL("{rank} + 2 * ({simple} @@ qq.identq)::int + ts_rank({simple}, qq.identq)").format(
            rank=rank, simple=simple)
    where = sql.SQL("{match} AND i.source_id = ANY(%(sources)s)").format(match=match) if filtered else match
    identq = sql.SQL(_SIMPLE) if with_identifiers else sql.SQL("NULL::tsquery")
    rare = sql.SQL(_ENGLISH_RARE).format(table=sql.Literal(t.items), column=sql.Literal(t.tsv))
    anyq = sql.SQL("coalesce({rare}, {allq})").format(rare=rare, allq=sql.SQL(_ENGLISH_ALL))
    return sql.SQL(
        "qq AS (SELECT {anyq} AS anyq, {allq} AS allq, {identq} AS identq), "
        "kw AS MATERIALIZED (SELECT i.id, {rank} AS rank, ts_rank('{{0,0,0,1}}', {tsv}, qq.anyq) AS heading_rank "
        "FROM {items} i, qq WHERE {where} ORDER BY 2 DESC, i.id LIMIT %(nkw)s)"
    ).format(anyq=anyq, allq=sql.SQL(_ENGLISH_ALL), identq=identq, rank=rank, tsv=tsv,
             items=sql.Identifier(t.items), where=where)


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


ACTIVE_MODEL = "SELECT id, provider, model, dimensions FROM archon_embedding_models WHERE is_active"
