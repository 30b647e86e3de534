"""Keyset (cursor) pagination over (sort field, id), stable under concurrent inserts."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
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

    async def total_count(self) -> int:
        return await self.counted.count()


def _encode_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _decode_value(raw: Any, sample_type: type) -> Any:
    if sample_type is datetime:
        return datetime.fromisoformat(raw)
    if sample_type is date:
        return date.fromisoformat(raw)
    if sample_type is Decimal:
        return Decimal(raw)
    return raw


def encode_cursor(sort_field: str, row: Any) -> str:
    """Rows are model instances or, on the fast read path, dicts of column values."""
    if isinstance(row, dict):
        payload = [_encode_value(row[sort_field]), row["id"]]
    else:
        payload = [_encode_value(getattr(row, sort_field)), row.pk]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode_cursor(cursor: str, sort_type: type) -> tuple[Any, int]:
    try:
        raw_value, pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return _decode_value(raw_value, sort_type), int(pk)
    except Exception:
        raise ValidationFailed.single("after", "malformed cursor", ErrorCode.INVALID) from None


def _field_type(qs: QuerySet, field: str) -> type:
    return qs.model._meta.fields_map[field].field_type


async def paginate(
    qs: QuerySet, *, first: int | None, after: str | None, sort_field: str = "id", descending: bool = False,
    columns: list[str] | None = None,
) -> Page:
    """One page after the cursor. With `columns`, rows are plain dicts of those columns (fast path)."""
    if first is None:
        first = DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise ValidationFailed.single("first", f"must be between 0 and {MAX_PAGE_SIZE}", ErrorCode.OUT_OF_RANGE)
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
    rows = await (page_qs.values(*columns) if columns is not None else page_qs)
    has_next = len(rows) > first
    rows = rows[:first]
    return Page(
        rows=rows,
        cursors=[encode_cursor(sort_field, r) for r in rows],
        has_next_page=has_next,
        has_previous_page=bool(after),
        counted=qs,
    )
