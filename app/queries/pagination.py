"""Keyset (cursor) pagination over (sort field, id), stable under concurrent inserts."""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Awaitable, Callable, Generic, TypeVar

import orjson
from tortoise import connections
from tortoise.expressions import Case, Q, When
from tortoise.models import Model
from tortoise.queryset import QuerySet

from app.domain.errors import ErrorCode, ValidationFailed

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    # The filtered query, counted only when a client asks for totalCount (a full count is the
    # costliest part of a page on a large table).
    counted: QuerySet
    # A nested connection's pages are counted together, by a batched count (see app/api/loaders.py).
    count: Callable[[], Awaitable[int]] | None = None

    async def total_count(self) -> int:
        return await (self.count() if self.count is not None else self.counted.count())


def _encode_value(value: Any) -> Any:
    """What orjson does not write itself (it writes dates as isoformat() does, and enums as their value)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} in a cursor")


def _decode_value(raw: Any, sample_type: type) -> Any:
    if raw is None:
        return None
    if sample_type is datetime:
        return datetime.fromisoformat(raw)
    if sample_type is date:
        return date.fromisoformat(raw)
    if sample_type is Decimal:
        return Decimal(raw)
    return raw


def encode_cursor(sort_field: str, row: Any) -> str:
    """Rows are model instances or, on the fast read path, rows of column values (dicts, driver records)."""
    payload = [getattr(row, sort_field), row.pk] if isinstance(row, Model) else [row[sort_field], row["id"]]
    return base64.urlsafe_b64encode(orjson.dumps(payload, default=_encode_value)).decode()


def decode_cursor(cursor: str, sort_type: type) -> tuple[Any, int]:
    try:
        raw_value, pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return _decode_value(raw_value, sort_type), int(pk)
    except Exception:
        raise ValidationFailed.single("after", "malformed cursor", ErrorCode.INVALID) from None


def page_size(first: int | None) -> int:
    """A client's `first`: the default when absent, OUT_OF_RANGE outside 0..MAX_PAGE_SIZE."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise ValidationFailed.single("first", f"must be between 0 and {MAX_PAGE_SIZE}", ErrorCode.OUT_OF_RANGE)
    return first


async def column_rows(query: Callable[[], QuerySet], columns: list[str], *, shape: Hashable | None = None,
                      trailing: tuple = ()) -> list:
    """The rows of the query `query()` builds, as plain rows of these columns, read as row["column"]. On
    PostgreSQL the SQL Tortoise builds runs straight through the driver (its records hold the values
    Tortoise would convert them to, but for enum columns, which stay their raw values, and times, which
    keep the driver's UTC), built once per `shape` (see `_statement`); elsewhere Tortoise's values()."""
    db = connections.get("default")
    if db.capabilities.dialect != "postgres":
        return await query().values(*columns)
    sql, params = _statement(shape, lambda: query().values(*columns), trailing)
    async with db.acquire_connection() as conn:
        return await conn.fetch(sql, *params)


async def count_rows(qs: QuerySet, shape: Hashable | None = None) -> int:
    """`qs.count()`; on PostgreSQL its SQL straight through the driver, built once per `shape`."""
    query = qs.count()
    db = connections.get("default")
    if db.capabilities.dialect != "postgres" or query._limit is not None or query._offset:
        return await query  # (Tortoise applies a limit and an offset to the count itself)
    sql, params = _statement(None if shape is None else ("count", shape), lambda: query, ())
    async with db.acquire_connection() as conn:
        return await conn.fetchval(sql, *params)


# The SQL Tortoise built per query shape. Building a page's statement costs the API process about as
# much CPU as PostgreSQL spends running it (≈ 0.13 ms, its count ≈ 0.05 ms; bench/README.md).
MAX_STATEMENTS = 512
_statements: OrderedDict[Hashable, tuple[str, tuple]] = OrderedDict()


def _statement(shape: Hashable | None, build: Callable[[], Any], trailing: tuple) -> tuple[str, list]:
    """The SQL and parameters of the query `build()` makes, whose last parameters are `trailing` (what
    varies between the queries of one shape: a cursor's values, the limit). `shape` names everything
    else: equal shapes must build equal SQL with equal other parameters. The SQL is then built once
    per shape and reused with new trailing values; it is kept only when the parameters Tortoise wrote
    end with exactly those values (same types, equal), so a query that places them otherwise is built
    every time rather than run wrong."""
    if shape is not None and (known := _statements.get(shape)) is not None:
        _statements.move_to_end(shape)
        sql, fixed = known
        return sql, [*fixed, *trailing]
    sql, params = _parameterized(build())
    if shape is not None and _ends_with(params, trailing):
        _statements[shape] = (sql, tuple(params[:len(params) - len(trailing)]))
        if len(_statements) > MAX_STATEMENTS:
            _statements.popitem(last=False)
    return sql, params


def _ends_with(params: list, trailing: tuple) -> bool:
    tail = params[len(params) - len(trailing):] if trailing else []
    return len(tail) == len(trailing) and all(type(a) is type(b) and a == b for a, b in zip(tail, trailing, strict=True))


def _parameterized(query: Any) -> tuple[str, list]:
    """The SQL Tortoise would run for this query, with its placeholders, and their values (what
    `query.sql()` does, without rendering the SQL twice)."""
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    return sql, list(params)


def _field_type(qs: QuerySet, field: str) -> type:
    column = qs.model._meta.fields_map.get(field)
    return column.field_type if column is not None else str  # an annotation (e.g. a rank) holds text


async def paginate(
    qs: QuerySet, *, first: int | None, after: str | None, sort_field: str = "id", descending: bool = False,
    columns: list[str] | None = None, nulls_last: bool = False, shape: Hashable | None = None,
) -> Page:
    """One page after the cursor. With `columns`, rows are plain rows of those columns (fast path), and
    `shape` may name `qs` (equal shapes, equal SQL and parameters) so that its page statements are
    built once. `nulls_last`: the sort field may be null; rows without a value come after all others,
    in either direction (the databases disagree on where NULL sorts, so the order is made explicit)."""
    if nulls_last and sort_field != "id":
        return await _paginate_nulls_last(qs, first=first, after=after, sort_field=sort_field, descending=descending)
    first = page_size(first)
    op = "lt" if descending else "gt"
    # What follows the filter's parameters in the page's statement: the cursor's values, then the limit.
    trailing: tuple = (first + 1,)
    condition: Q | None = None
    if after:
        value, pk = decode_cursor(after, _field_type(qs, sort_field))
        after_pk: dict[str, Any] = {f"id__{op}": pk}
        if sort_field == "id":
            condition, trailing = Q(**after_pk), (pk, first + 1)
        else:
            condition = Q(**{f"{sort_field}__{op}": value}) | (Q(**{sort_field: value}) & Q(**after_pk))
            trailing = (value, value, pk, first + 1)
    prefix = "-" if descending else ""
    orderings = [f"{prefix}{sort_field}"] + ([f"{prefix}id"] if sort_field != "id" else [])

    def page_query() -> QuerySet:
        return (qs if condition is None else qs.filter(condition)).order_by(*orderings).limit(first + 1)

    if columns is None:
        rows = await page_query()
    else:
        statement = None if shape is None else ("page", shape, sort_field, descending, bool(after), tuple(columns))
        rows = await column_rows(page_query, columns, shape=statement, trailing=trailing)
    has_next = len(rows) > first
    rows = rows[:first]
    return Page(
        rows=rows,
        cursors=[encode_cursor(sort_field, r) for r in rows],
        has_next_page=has_next,
        has_previous_page=bool(after),
        counted=qs,
    )


async def _paginate_nulls_last(qs: QuerySet, *, first: int | None, after: str | None, sort_field: str,
                               descending: bool) -> Page:
    first = page_size(first)
    op = "lt" if descending else "gt"
    page_qs = qs
    if after:
        value, pk = decode_cursor(after, _field_type(qs, sort_field))
        null_check: dict[str, Any] = {f"{sort_field}__isnull": True}
        without_value = Q(**null_check)
        beyond_id: dict[str, Any] = {f"id__{op}": pk}
        if value is None:  # in the tail of rows without a value
            page_qs = page_qs.filter(without_value & Q(**beyond_id))
        else:
            beyond: dict[str, Any] = {f"{sort_field}__{op}": value}
            same: dict[str, Any] = {sort_field: value}
            page_qs = page_qs.filter(Q(**beyond) | (Q(**same) & Q(**beyond_id)) | without_value)
    prefix = "-" if descending else ""
    page_qs = page_qs.annotate(
        without_value=Case(When(**{f"{sort_field}__isnull": True}, then="1"), default="0"),
    ).order_by("without_value", f"{prefix}{sort_field}", f"{prefix}id").limit(first + 1)
    rows = await page_qs
    has_next = len(rows) > first
    rows = rows[:first]
    return Page(rows=rows, cursors=[encode_cursor(sort_field, r) for r in rows], has_next_page=has_next,
                has_previous_page=bool(after), counted=qs)
