"""Batch loading functions: one query per relation per request, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Sequence

from tortoise.expressions import Q
from tortoise.models import Model


async def load_by_ids(model: type[Model], ids: Sequence[int], visible: Q | None = None) -> list[Any]:
    qs = model.filter(id__in=list(set(ids)))
    if visible is not None:
        qs = qs.filter(visible)
    found = {obj.pk: obj for obj in await qs}
    return [found.get(i) for i in ids]


async def load_children(
    model: type[Model], fk_field: str, parent_ids: Sequence[int], order_by: Iterable[str] = ("id",),
    visible: Q | None = None,
) -> list[list[Any]]:
    qs = model.filter(**{f"{fk_field}__in": list(set(parent_ids))})
    if visible is not None:
        qs = qs.filter(visible)
    grouped: dict[int, list[Any]] = defaultdict(list)
    for obj in await qs.order_by(*order_by):
        grouped[getattr(obj, fk_field)].append(obj)
    return [grouped.get(i, []) for i in parent_ids]


async def load_m2m(through_table: str, left: str, right: str, target: type[Model], parent_ids: Sequence[int],
                   visible: Q | None = None) -> list[list[Any]]:
    """Many-to-many in two queries: the link rows, then the (visible) targets."""
    from tortoise import connections

    conn = connections.get("default")
    unique_ids = list(set(parent_ids))
    if not unique_ids:
        return [[] for _ in parent_ids]
    if conn.capabilities.dialect == "postgres":
        placeholders = ", ".join(f"${i + 1}" for i in range(len(unique_ids)))
    else:
        placeholders = ", ".join("?" for _ in unique_ids)
    rows = await conn.execute_query_dict(
        f'SELECT "{left}" AS parent_id, "{right}" AS target_id FROM "{through_table}" WHERE "{left}" IN ({placeholders})',
        unique_ids,
    )
    qs = target.filter(id__in=list({r["target_id"] for r in rows}))
    if visible is not None:
        qs = qs.filter(visible)
    targets = {t.pk: t for t in await qs}
    grouped: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        if r["target_id"] in targets:
            grouped[r["parent_id"]].append(targets[r["target_id"]])
    return [sorted(grouped.get(i, []), key=lambda t: t.id) for i in parent_ids]
