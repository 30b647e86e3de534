"""Keyset (cursor) pagination over (sort field, id), stable under concurrent inserts."""

from __future__ import annotations

import base64
import json
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


async def column_rows(qs: QuerySet, columns: list[str]) -> list:
    """The query's rows as plain rows of these columns, read as row["column"]. On PostgreSQL the SQL
    Tortoise builds runs straight through the driver (its records hold the values Tortoise would
    convert them to, but for enum columns, which stay their raw values, and times, which keep the
    driver's UTC); elsewhere Tortoise's values()."""
    query = qs.values(*columns)
    db = connections.get("default")
    if db.capabilities.dialect != "postgres":
        return await query
    sql, params = _parameterized(query)
    async with db.acquire_connection() as conn:
        return await conn.fetch(sql, *params)


async def count_rows(qs: QuerySet) -> int:
    """`qs.count()`; on PostgreSQL its SQL straight through the driver."""
    query = qs.count()
    db = connections.get("default")
    if db.capabilities.dialect != "postgres" or query._limit is not None or query._offset:
        return await query  # (Tortoise applies a limit and an offset to the count itself)
    sql, params = _parameterized(query)
    async with db.acquire_connection() as conn:
        return await conn.fetchval(sql, *params)


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
    columns: list[str] | None = None, nulls_last: bool = False,
) -> Page:
    """One page after the cursor. With `columns`, rows are plain rows of those columns (fast path).
    `nulls_last`: the sort field may be null; rows without a value come after all others, in either
    direction (the databases disagree on where NULL sorts, so the order is made explicit)."""
    if nulls_last and sort_field != "id":
        return await _paginate_nulls_last(qs, first=first, after=after, sort_field=sort_field, descending=descending)
    first = page_size(first)
    page_qs = qs
    if after:
        value, pk = decode_cursor(after, _field_type(qs, sort_field))
        if sort_field == "id":
            page_qs = page_qs.filter(id__lt=pk) if descending else page_qs.filter(id__gt=pk)
        else:
            op = "lt" if descending else "gt"
            after_pk: dict[str, Any] = {f"id__{op}": pk}
            page_qs = page_qs.filter(
                Q(**{f"{sort_field}__{op}": value}) | (Q(**{sort_field: value}) & Q(**after_pk))
            )
    prefix = "-" if descending else ""
    orderings = [f"{prefix}{sort_field}"] + ([f"{prefix}id"] if sort_field != "id" else [])
    page_qs = page_qs.order_by(*orderings).limit(first + 1)
    rows = await (column_rows(page_qs, columns) if columns is not None else page_qs)
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
