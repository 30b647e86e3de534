"""Batch loading functions: one query per relation per request, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Sequence

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.models import Model

from app.queries.pagination import Page, encode_cursor


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


async def load_child_pages(model: type[Model], fk_field: str, keys: Sequence[tuple[int, int]], *, sort_field: str,
                           descending: bool, visible: Q) -> list[Page]:
    """The first page of each parent's visible children, `keys` being (parent id, page size): one ranked
    query per page size (ROW_NUMBER over the parent, on both databases) whatever the number of parents."""
    from tortoise import connections

    wanted: dict[int, set[int]] = defaultdict(set)
    for parent, first in keys:
        wanted[first].add(parent)
    direction = "DESC" if descending else "ASC"
    sort_column = model._meta.fields_map[sort_field].source_field or sort_field
    table = model._meta.db_table
    conn = connections.get("default")
    found: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for first, parents in wanted.items():
        # The visibility rule stays Tortoise's (its SQL and parameters); only the ranking is written out.
        candidates, params = _parameterized(
            model.filter(visible, **{f"{fk_field}__in": sorted(parents)}).values_list("id", flat=True))
        ranked = (f'SELECT "id" FROM (SELECT "id", ROW_NUMBER() OVER (PARTITION BY "{fk_field}" ORDER BY '
                  f'"{sort_column}" {direction}, "id" {direction}) AS "position" FROM "{table}" '
                  f'WHERE "id" IN ({candidates})) AS "ranked" WHERE "position" <= {int(first) + 1}')
        ids = [row["id"] for row in await conn.execute_query_dict(ranked, params)]
        rows = await model.filter(id__in=ids) if ids else []
        rows.sort(key=lambda r: (getattr(r, sort_field), r.pk), reverse=descending)
        for row in rows:
            found[(getattr(row, fk_field), first)].append(row)
    pages = []
    for parent, first in keys:
        rows = found.get((parent, first), [])
        pages.append(Page(rows=rows[:first], cursors=[encode_cursor(sort_field, r) for r in rows[:first]],
                          has_next_page=len(rows) > first, has_previous_page=False,
                          counted=model.filter(visible, **{fk_field: parent})))
    return pages


def _parameterized(query: Any) -> tuple[str, list]:
    """A Tortoise query's SQL with its placeholders, and their values (`sql()` builds `query.query`)."""
    query.sql()
    sql, params = query.query.get_parameterized_sql()
    return sql, list(params)


async def count_children(model: type[Model], fk_field: str, parent_ids: Sequence[int], visible: Q) -> list[int]:
    """How many visible children each parent has, in one grouped query."""
    rows = await (model.filter(visible, **{f"{fk_field}__in": list(set(parent_ids))})
                  .annotate(children=Count("id")).group_by(fk_field).values(fk_field, "children"))
    counts = {row[fk_field]: row["children"] for row in rows}
    return [counts.get(parent, 0) for parent in parent_ids]
