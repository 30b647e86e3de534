"""Relay-style connections over keyset pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Optional, TypeVar

import strawberry

from app.api.enums import SortDirection
from app.api.user_input import bad_user_input
from app.domain.errors import ValidationFailed
from app.queries.pagination import Page, paginate

if TYPE_CHECKING:
    from app.api.loaders import ChildPages

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: Optional[str]
    end_cursor: Optional[str]


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


async def child_connection(pages: "ChildPages", parent_id: int, first: int | None, after: str | None) -> Connection:
    """A nested connection's page for one parent (batched with the request's other parents)."""
    try:
        page = await pages.page(parent_id, first, after)
    except ValidationFailed as exc:
        raise bad_user_input(exc) from None
    return to_connection(page)
