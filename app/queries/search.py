"""Search over accounts, contacts, opportunities and products (the rules: app/domain/search.py).

One statement per record type asked for (on PostgreSQL, after one for the query words' spellings), each
filtered by the caller's visibility *in SQL*, with the same rule every other read uses (`read_filter`,
app/queries/visibility.py), before it is ranked and cut: a record outside the caller's scope is never a
candidate, so it cannot shorten a page or show in a score. Then one query per type with hits loads their
rows (again through `read_filter`). Nothing here writes.

PostgreSQL (migration 0015), in one transaction (its SET LOCAL thresholds end with it):
1. The query words' near spellings from the lexicon `search_words` (pg_trgm `%` and `<%` at the rule's
   thresholds, set for the transaction), the `MAX_EXPANSIONS` closest per word; with each word (as a
   prefix when it has 3 characters or more) they make a tsquery: every query word, as one of its
   spellings. (SQLite applies the rule without that cap.)
2. Per type, the candidates: visible records with a field whose words match that tsquery (GIN over
   `crm_search_vector`), at most `CANDIDATES`, plus every visible record whose field *is* the query
   (btree over lower()), plus, for a phone-number query, phones whose digits contain it (GIN trigram).
   They are scored in the same statement (pg_trgm `similarity` / `word_similarity`), ordered by
   (score desc, id) and cut at `first`.
So the work per type is bounded by `CANDIDATES`, whatever the table's size. The ranking is exact when a
type has at most that many matching records visible to the caller; a broader query (one common word
shared by thousands of records) is ranked among `CANDIDATES` of them, those the index yields first, and
an exact match is always among them.

SQLite: FTS5 trigram tables (migration 0015, kept in sync by triggers). Candidates are the visible
records sharing a trigram with a query word (FTS5) or containing a query word's first two letters, at
most `SQLITE_CANDIDATES` (lowest ids first); each is then matched and scored exactly in Python with
app.domain.search.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tortoise import connections
from tortoise.expressions import Q
from tortoise.transactions import in_transaction
from tortoise.models import Model

from app import models as m
from app.domain.search import (
    MIN_PREFIX,
    WORD_PART_SIMILARITY,
    WORD_TYPO_SIMILARITY,
    SearchQuery,
    SearchType,
    best_field,
    normalize,
    phone_score,
    rank_key,
    query_words,
    text_score,
)
from app.queries.archived import ARCHIVABLE, archived_filter
from app.queries.visibility import Scope, read_filter

CANDIDATES = 200  # PostgreSQL, per type: at least 2 × MAX_FIRST
MAX_EXPANSIONS = 20  # PostgreSQL: near spellings looked up per query word
SQLITE_CANDIDATES = 2000  # per type


@dataclass(frozen=True)
class SearchField:
    name: str          # what the API reports as matchedField (the GraphQL field)
    source: str        # PostgreSQL: the field's text over the table's columns, as migration 0015 indexes it
    fts: str           # SQLite: the FTS5 column
    columns: tuple[str, ...]  # the row's columns the field is made of (SQLite: scored in Python)
    phone: bool = False
    json_key: str | None = None  # SQLite: the field is this key of the (one) JSON column

    @property
    def sql(self) -> str:
        """PostgreSQL: what is compared (a phone: its digits; text: lower-cased)."""
        return f"regexp_replace({self.source}, '\\D', '', 'g')" if self.phone else f"lower({self.source})"


@dataclass(frozen=True)
class SearchTarget:
    model: type[Model]
    table: str
    fts_table: str
    fields: tuple[SearchField, ...]


TARGETS: dict[SearchType, SearchTarget] = {
    SearchType.ACCOUNT: SearchTarget(m.Account, "accounts", "search_accounts", (
        SearchField("name", "name", "name", ("name",)),
        SearchField("headquarters.city", "headquarters->>'city'", "city", ("headquarters",), json_key="city"))),
    SearchType.CONTACT: SearchTarget(m.Contact, "contacts", "search_contacts", (
        SearchField("name", "first_name || ' ' || last_name", "full_name", ("first_name", "last_name")),
        SearchField("email", "email", "email", ("email",)),
        SearchField("phone", "phone", "phone_digits", ("phone",), phone=True))),
    SearchType.OPPORTUNITY: SearchTarget(m.Opportunity, "opportunities", "search_opportunities", (
        SearchField("name", "name", "name", ("name",)),)),
    SearchType.PRODUCT: SearchTarget(m.Product, "products", "search_products", (
        SearchField("name", "name", "name", ("name",)),
        SearchField("sku", "sku", "sku", ("sku",)))),
}


@dataclass(frozen=True)
class Hit:
    type: SearchType
    pk: int
    score: float
    field: str


async def search(scope: Scope, query: SearchQuery) -> list[tuple[Hit, Model]]:
    """The best `query.first` hits the caller may read, best first, each with its row."""
    if connections.get("default").capabilities.dialect == "postgres":
        async with in_transaction() as conn:
            hits = await _postgres_search(conn, scope, query)
    else:
        conn = connections.get("default")
        hits = []
        for type_ in query.types:
            hits += await _sqlite_hits(conn, type_, TARGETS[type_], _fields(type_, query), scope, query)
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


def _fields(type_: SearchType, query: SearchQuery) -> list[SearchField]:
    return [f for f in TARGETS[type_].fields if not f.phone or query.phone_digits]


def _visible_ids_sql(model: type[Model], scope: Scope, postgres: bool, first_param: int) -> tuple[str, list]:
    """The ids of `model` the caller may read, as a subquery with its parameters (PostgreSQL's numbered
    from `first_param`); ("", []) when every row is."""
    sql, params = _visible_sql(model, scope)
    if not sql:
        return "", []
    if postgres:
        sql = _PG_PARAM.sub(lambda p: f"${int(p.group(1)) + first_param - 1}", sql)
    return sql, params


def _visible_sql(model: type[Model], scope: Scope) -> tuple[str, list]:
    """The rows a search may find: readable by the caller and not archived (app.domain.archive)."""
    rule: Q = read_filter(model, scope)
    if model in ARCHIVABLE:
        rule &= archived_filter(model)
    if not rule.children and not rule.filters:
        return "", []
    qs = model.filter(rule).values_list("id", flat=True)
    qs.sql()  # builds qs.query
    return qs.query.get_parameterized_sql()


def _visible_where(model: type[Model], scope: Scope, first_param: int) -> tuple[str, list]:
    """PostgreSQL: the caller's visibility as a condition on the model's own table (unaliased), so the
    planner can combine it with the search's indexes; its parameters numbered from `first_param`."""
    sql, params = _visible_ids_sql(model, scope, True, first_param)
    if not sql:
        return "TRUE", []
    head = f'FROM "{model._meta.db_table}" WHERE '
    assert head in sql, sql
    return "(" + sql[sql.index(head) + len(head):] + ")", params


_PG_PARAM = re.compile(r"\$(\d+)")


# PostgreSQL ------------------------------------------------------------------------------------


def _tsquery_lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


async def _expansions(conn, wanted: list[str]) -> dict[str, list[str]]:
    """Each query word's closest spellings in the lexicon (one statement for all words)."""
    looked_up = [w for w in wanted if len(w) > 1]  # one character has no near spelling but itself
    if not looked_up:
        return {}
    await conn.execute_script(
        f"SET LOCAL pg_trgm.similarity_threshold = {WORD_TYPO_SIMILARITY}; "
        f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_PART_SIMILARITY}")
    _, rows = await conn.execute_query(
        "SELECT q.w, l.word FROM unnest($1::text[]) AS q(w) CROSS JOIN LATERAL ("
        " SELECT word FROM (SELECT word FROM search_words WHERE word % q.w"
        " UNION SELECT word FROM search_words WHERE length(q.w) >= $3 AND q.w <% word) near"
        " ORDER BY similarity(q.w, word) DESC, word LIMIT $2) l", [looked_up, MAX_EXPANSIONS, MIN_PREFIX])
    found: dict[str, list[str]] = {w: [] for w in looked_up}
    for row in rows:
        found[row["w"]].append(row["word"])
    return found


def _tsquery(wanted: list[str], expansions: dict[str, list[str]]) -> str:
    """Every query word, as itself (a prefix when MIN_PREFIX long) or one of its near spellings."""
    parts = []
    for w in wanted:
        prefix = len(w) >= MIN_PREFIX
        spellings = [_tsquery_lexeme(w) + (":*" if prefix else "")]
        spellings += [_tsquery_lexeme(v) for v in expansions.get(w, []) if v != w and not (prefix and v.startswith(w))]
        parts.append("(" + " | ".join(spellings) + ")")
    return " & ".join(parts)


async def _postgres_search(conn, scope: Scope, query: SearchQuery) -> list[Hit]:
    wanted = query_words(query.text)
    tsquery = _tsquery(wanted, await _expansions(conn, wanted)) if wanted else ""
    hits: list[Hit] = []
    for type_ in query.types:
        hits += await _postgres_hits(conn, type_, TARGETS[type_], _fields(type_, query), scope, query, tsquery)
    return hits


def _pg_text_score(f: SearchField) -> str:
    return (f"CASE WHEN crm_search_vector({f.source}) @@ $1::tsquery THEN "
            f"round(((similarity($2::text, {f.sql}) + word_similarity($2::text, {f.sql})) / 2)::numeric, 4) "
            f"ELSE 0 END")


def _pg_phone_score(f: SearchField) -> str:
    return (f"CASE WHEN strpos({f.sql}, $3::text) > 0 THEN "
            f"round(0.5 + 0.5 * length($3::text)::numeric / length({f.sql}), 4) ELSE 0 END")


async def _postgres_hits(conn, type_: SearchType, target: SearchTarget, fields: list[SearchField], scope: Scope,
                         query: SearchQuery, tsquery: str) -> list[Hit]:
    """$1 the tsquery, $2 the normalised query, $3 the phone digits, $4 CANDIDATES, $5 first, then the
    visibility's parameters."""
    text_fields = [f for f in fields if not f.phone] if tsquery else []
    phone_fields = [f for f in fields if f.phone]
    if not text_fields and not phone_fields:
        return []
    visible, visible_params = _visible_where(target.model, scope, 6)
    table = target.table
    branches = []
    if text_fields:
        words_match = " OR ".join(f"crm_search_vector({f.source}) @@ $1::tsquery" for f in text_fields)
        exact = " OR ".join(f"{f.sql} = $2::text" for f in text_fields)
        branches.append(f"(SELECT id FROM {table} WHERE ({words_match}) AND {visible} LIMIT $4)")
        branches.append(f"(SELECT id FROM {table} WHERE ({exact}) AND {visible})")
    for f in phone_fields:
        branches.append(f"(SELECT id FROM {table} WHERE {f.sql} LIKE '%' || $3::text || '%' AND {visible} LIMIT $4)")
    scored = [*text_fields, *phone_fields]
    columns = ", ".join(f"{_pg_phone_score(f) if f.phone else _pg_text_score(f)} AS f{i}" for i, f in enumerate(scored))
    best = f"greatest({', '.join(f'f{i}' for i in range(len(scored)))})" if len(scored) > 1 else "f0"
    # Every parameter is typed where it is used, even when a branch that uses it is left out.
    sql = (f"WITH candidates AS ({' UNION '.join(branches)}) "
           f"SELECT * FROM (SELECT {table}.id, {columns} FROM {table} JOIN candidates USING (id)) x "
           f"WHERE $1::tsquery IS NOT NULL AND $2::text IS NOT NULL AND $3::text IS NOT NULL AND $4::int > 0 "
           f"ORDER BY {best} DESC, id LIMIT $5")
    _, rows = await conn.execute_query(sql, [tsquery or "x", query.text, query.phone_digits, CANDIDATES, query.first,
                                             *visible_params])
    hits = []
    for row in rows:
        row = dict(row)
        found = best_field({f.name: float(row[f"f{i}"]) for i, f in enumerate(scored)})
        if found:
            hits.append(Hit(type_, row["id"], found[1], found[0]))
    return hits


# SQLite ----------------------------------------------------------------------------------------

def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_match(wanted: list[str], fields: list[SearchField], phone_digits: str) -> str | None:
    """An FTS5 query: any trigram of a query word in a text column, or the query's digits in a phone
    column. None when the query has no word of 3 characters and is no phone number."""
    grams = sorted({word[i:i + 3] for word in wanted for i in range(len(word) - 2)})
    parts = []
    text_columns = [f.fts for f in fields if not f.phone]
    if grams and text_columns:
        parts.append("{" + " ".join(text_columns) + "} : (" + " OR ".join(_fts_quote(g) for g in grams) + ")")
    for f in fields:
        if f.phone and phone_digits:
            parts.append(f"{f.fts} : {_fts_quote(phone_digits)}")
    return " OR ".join(parts) if parts else None


async def _sqlite_hits(conn, type_: SearchType, target: SearchTarget, fields: list[SearchField], scope: Scope,
                       query: SearchQuery) -> list[Hit]:
    """Candidates: a trigram of a query word (FTS5), or a query word's first two letters (a typo in a
    short word leaves no trigram in common), or the phone digits; then the rule in Python."""
    wanted = query_words(query.text)
    fts = target.fts_table
    found_by, params = [], []
    match = _fts_match(wanted, fields, query.phone_digits)
    if match is not None:
        found_by.append(f"SELECT rowid FROM {fts} WHERE {fts} MATCH ?")
        params.append(match)
    text_columns = [f.fts for f in fields if not f.phone]
    patterns = sorted({f"%{_like_escape(w[:2])}%" for w in wanted})
    if patterns and text_columns:
        found_by.append(f"SELECT rowid FROM {fts} WHERE " + " OR ".join(
            f"{c} LIKE ? ESCAPE '\\'" for c in text_columns for _ in patterns))
        params += [p for _ in text_columns for p in patterns]
    if not found_by:
        return []
    where = f"t.id IN ({' UNION '.join(found_by)})"
    visible, visible_params = _visible_ids_sql(target.model, scope, False, 0)
    if visible:
        where += f" AND t.id IN ({visible})"
        params += visible_params
    columns = ", ".join(f"t.{c}" for c in sorted({c for f in fields for c in f.columns}))
    sql = f"SELECT t.id, {columns} FROM {target.table} t WHERE {where} ORDER BY t.id LIMIT ?"
    _, rows = await conn.execute_query(sql, [*params, SQLITE_CANDIDATES])
    hits = []
    for row in rows:
        row = dict(row)
        scores = {}
        for f in fields:
            if f.phone:
                scores[f.name] = phone_score(query.phone_digits, row[f.columns[0]])
            else:
                scores[f.name] = text_score(query.text, normalize(_sqlite_text(f, row)))
        best = best_field(scores)
        if best:
            hits.append(Hit(type_, row["id"], best[1], best[0]))
    return hits


def _sqlite_text(f: SearchField, row: dict) -> str:
    if f.json_key is not None:
        document = row[f.columns[0]]
        data = json.loads(document) if isinstance(document, str) else document
        value = data.get(f.json_key) if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""
    return " ".join(str(row[c]) for c in f.columns if row[c] is not None)
