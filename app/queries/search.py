"""Search over accounts, contacts, opportunities and products (the rules: app/domain/search.py).

One statement per record type asked for, each filtered by the caller's visibility *in SQL*, with the
same rule every other read uses (`read_filter`, app/queries/visibility.py), before it is ranked and cut:
a record outside the caller's scope is never a candidate, so it cannot shorten a page or show in a
score. Then one query per type loads the hits' rows (again through `read_filter`).

PostgreSQL: pg_trgm in SQL. A field is a candidate through its GIN trigram index (migration 0015) with
`%` (similarity) or `<%` (word similarity) and, for a phone-number query, LIKE on the phone's digits;
the score is computed in the same statement, which orders by (score desc, id) and keeps `first` rows.
Cost grows with the number of visible records that match (see bench/README.md, "Search").

SQLite: FTS5 trigram tables (migration 0015, kept in sync by triggers). Candidates are the records
sharing a trigram with a query word (or, for queries without a 3-letter word, containing the query),
among those the caller may read, the best `SQLITE_CANDIDATES` by FTS5's bm25 rank; each is then scored
exactly in Python with app.domain.search. So on SQLite the ranking is exact within those candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.expressions import Q
from tortoise.models import Model

from app import models as m
from app.domain.search import (
    SearchQuery,
    SearchType,
    best_field,
    normalize,
    phone_score,
    rank_key,
    text_score,
)
from app.queries.visibility import Scope, read_filter

SQLITE_CANDIDATES = 500  # per type; at least 10 × first


@dataclass(frozen=True)
class SearchField:
    name: str          # what the API reports as matchedField (the GraphQL field)
    sql: str           # PostgreSQL: the expression over the row `t`, as migration 0015 indexes it
    fts: str           # SQLite: the FTS5 column
    columns: tuple[str, ...]  # the row's columns the field is made of (SQLite: scored in Python)
    phone: bool = False


@dataclass(frozen=True)
class SearchTarget:
    model: type[Model]
    table: str
    fts_table: str
    fields: tuple[SearchField, ...]


TARGETS: dict[SearchType, SearchTarget] = {
    SearchType.ACCOUNT: SearchTarget(m.Account, "accounts", "search_accounts", (
        SearchField("name", "lower(t.name)", "name", ("name",)),)),
    SearchType.CONTACT: SearchTarget(m.Contact, "contacts", "search_contacts", (
        SearchField("name", "lower(t.first_name || ' ' || t.last_name)", "full_name", ("first_name", "last_name")),
        SearchField("email", "lower(t.email)", "email", ("email",)),
        SearchField("phone", "regexp_replace(t.phone, '\\D', '', 'g')", "phone_digits", ("phone",), phone=True))),
    SearchType.OPPORTUNITY: SearchTarget(m.Opportunity, "opportunities", "search_opportunities", (
        SearchField("name", "lower(t.name)", "name", ("name",)),)),
    SearchType.PRODUCT: SearchTarget(m.Product, "products", "search_products", (
        SearchField("name", "lower(t.name)", "name", ("name",)),
        SearchField("sku", "lower(t.sku)", "sku", ("sku",)))),
}


@dataclass(frozen=True)
class Hit:
    type: SearchType
    pk: int
    score: float
    field: str


async def search(scope: Scope, query: SearchQuery) -> list[tuple[Hit, Model]]:
    """The best `query.first` hits the caller may read, best first, each with its row."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    hits: list[Hit] = []
    for type_ in query.types:
        target = TARGETS[type_]
        fields = [f for f in target.fields if not f.phone or query.phone_digits]
        found = await (_postgres_hits if postgres else _sqlite_hits)(conn, type_, target, fields, scope, query)
        hits.extend(found)
    hits.sort(key=lambda h: rank_key(h.score, h.type, h.pk))
    hits = hits[:query.first]
    rows: dict[tuple[SearchType, int], Model] = {}
    for type_ in query.types:
        pks = [h.pk for h in hits if h.type == type_]
        if pks:
            model = TARGETS[type_].model
            for row in await model.filter(read_filter(model, scope), id__in=pks):
                rows[(type_, row.pk)] = row
    return [(h, rows[(h.type, h.pk)]) for h in hits if (h.type, h.pk) in rows]


def _visible_ids_sql(model: type[Model], scope: Scope, postgres: bool, first_param: int) -> tuple[str, list]:
    """The ids of `model` the caller may read, as a subquery with its parameters (PostgreSQL's numbered
    from `first_param`); ("", []) when every row is."""
    rule: Q = read_filter(model, scope)
    if not rule.children and not rule.filters:
        return "", []
    qs = model.filter(rule).values_list("id", flat=True)
    qs.sql()  # builds qs.query
    sql, params = qs.query.get_parameterized_sql()
    if postgres:
        sql = _PG_PARAM.sub(lambda p: f"${int(p.group(1)) + first_param - 1}", sql)
    return sql, params


_PG_PARAM = re.compile(r"\$(\d+)")


# PostgreSQL ------------------------------------------------------------------------------------


def _pg_text_score(expr: str) -> str:
    return (f"CASE WHEN {expr} % $1::text OR $1::text <% {expr} THEN "
            f"round(((similarity($1::text, {expr}) + word_similarity($1::text, {expr})) / 2)::numeric, 4) "
            f"ELSE 0 END")


def _pg_phone_score(expr: str) -> str:
    return (f"CASE WHEN strpos({expr}, $2::text) > 0 THEN "
            f"round(0.5 + 0.5 * length($2::text)::numeric / length({expr}), 4) ELSE 0 END")


async def _postgres_hits(conn, type_: SearchType, target: SearchTarget, fields: list[SearchField], scope: Scope,
                         query: SearchQuery) -> list[Hit]:
    """$1 the normalised query, $2 the phone digits, $3 the page size, then the visibility's parameters."""
    matches, scores = [], []
    for f in fields:
        if f.phone:
            matches.append(f"{f.sql} LIKE '%' || $2::text || '%'")
            scores.append(_pg_phone_score(f.sql))
        else:
            matches.append(f"{f.sql} % $1::text OR $1::text <% {f.sql}")
            scores.append(_pg_text_score(f.sql))
    where = " OR ".join(f"({c})" for c in matches)
    visible, visible_params = _visible_ids_sql(target.model, scope, True, 4)
    if visible:
        where = f"({where}) AND t.id IN ({visible})"
    columns = ", ".join(f"{s} AS f{i}" for i, s in enumerate(scores))
    best = f"greatest({', '.join(f'f{i}' for i in range(len(scores)))})" if len(scores) > 1 else "f0"
    # $2 typed even where no phone is compared (a parameter must be used to be typed).
    sql = (f"SELECT * FROM (SELECT t.id, {columns} FROM {target.table} t WHERE {where}) x "
           f"WHERE $2::text IS NOT NULL ORDER BY {best} DESC, id LIMIT $3")
    _, rows = await conn.execute_query(sql, [query.text, query.phone_digits, query.first, *visible_params])
    hits = []
    for row in rows:
        row = dict(row)
        found = best_field({f.name: float(row[f"f{i}"]) for i, f in enumerate(fields)})
        if found:
            hits.append(Hit(type_, row["id"], found[1], found[0]))
    return hits


# SQLite ----------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_match(text: str, fields: list[SearchField], phone_digits: str) -> str | None:
    """An FTS5 query: any trigram of a query word in a text column, or the query's digits in a phone
    column. None when the query has no word of 3 characters and is no phone number."""
    grams = sorted({word[i:i + 3] for word in _WORD.findall(text) for i in range(len(word) - 2)})
    parts = []
    text_columns = [f.fts for f in fields if not f.phone]
    if grams and text_columns:
        parts.append("{" + " ".join(text_columns) + "} : (" + " OR ".join(_fts_quote(g) for g in grams) + ")")
    for f in fields:
        if f.phone and phone_digits:
            parts.append(f"{f.fts} : {_fts_quote(phone_digits)}")
    return " OR ".join(parts) if grams or phone_digits else None


async def _sqlite_hits(conn, type_: SearchType, target: SearchTarget, fields: list[SearchField], scope: Scope,
                       query: SearchQuery) -> list[Hit]:
    columns = sorted({c for f in fields for c in f.columns})
    select = ", ".join(f"t.{c}" for c in columns)
    match = _fts_match(query.text, fields, query.phone_digits)
    params: list[Any]
    if match is not None:
        where, params, order = f"{target.fts_table} MATCH ?", [match], f"bm25({target.fts_table}), t.id"
    else:  # only short words: the text columns containing the query
        pattern = f"%{_like_escape(query.text)}%"
        text_columns = [f.fts for f in fields if not f.phone]
        where = "(" + " OR ".join(f"s.{c} LIKE ? ESCAPE '\\'" for c in text_columns) + ")"
        params, order = [pattern] * len(text_columns), "t.id"
    visible, visible_params = _visible_ids_sql(target.model, scope, False, 0)
    if visible:
        where += f" AND t.id IN ({visible})"
        params += visible_params
    sql = (f"SELECT t.id, {select} FROM {target.fts_table} s JOIN {target.table} t ON t.id = s.rowid "
           f"WHERE {where} ORDER BY {order} LIMIT ?")
    _, rows = await conn.execute_query(sql, [*params, max(SQLITE_CANDIDATES, 10 * query.first)])
    hits = []
    for row in rows:
        row = dict(row)
        scores = {}
        for f in fields:
            if f.phone:
                scores[f.name] = phone_score(query.phone_digits, row[f.columns[0]])
            else:
                value = " ".join(str(row[c]) for c in f.columns if row[c] is not None)
                scores[f.name] = text_score(query.text, normalize(value))
        found = best_field(scores)
        if found:
            hits.append(Hit(type_, row["id"], found[1], found[0]))
    return hits
