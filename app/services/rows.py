"""Deciding on the current row: concurrent writes to one record take turns instead of racing.

`locked` reads a row under SELECT … FOR UPDATE inside the caller's transaction (PostgreSQL); SQLite
has one writer, whose transactions already run one after the other. Each caller then decides on the
state the previous one committed, and `assign_changes` lets it skip a write that changes nothing, so
20 identical concurrent updates make one change."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


async def locked(model: type[M], pk: int) -> M:
    """The row, locked until the surrounding transaction ends. Call inside `in_transaction()`."""
    return await model.filter(id=pk).select_for_update().get()


def assign_changes(obj: Model, data: dict, allowed: set[str]) -> bool:
    """Set the allowed fields whose value differs; True when any did (else skip the write)."""
    changed = False
    for key, value in data.items():
        if key in allowed and getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


async def int_column(rows: QuerySet[Any], field: str = "id") -> list[int]:
    """One integer column of the rows (Tortoise types a flat values_list as tuples; it is not)."""
    return cast("list[int]", await rows.values_list(field, flat=True))
