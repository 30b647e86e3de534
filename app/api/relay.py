"""Relay-style connections over keyset pages."""

from __future__ import annotations

from typing import Generic, TypeVar

import strawberry

from app.api.enums import SortDirection
from app.api.errors import bad_user_input
from app.api.types import PageInfo
from app.domain.errors import ValidationFailed
from app.queries.pagination import Page, paginate

T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    page: strawberry.Private[Page]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.page.total_count()

    @strawberry.field(description="The nodes of the edges, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def to_connection(page: Page) -> Connection:
    edges = [Edge(cursor=c, node=row) for row, c in zip(page.rows, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        page=page,
    )


async def page_connection(qs, first, after, sort_field: str, direction: SortDirection,
                          nulls_last: bool = False) -> Connection:
    """One keyset page of the queryset as a connection; a bad `first` or `after` is BAD_USER_INPUT."""
    try:
        page = await paginate(qs, first=first, after=after, sort_field=sort_field,
                              descending=direction == SortDirection.DESC, nulls_last=nulls_last)
    except ValidationFailed as exc:
        raise bad_user_input(exc) from None
    return to_connection(page)
