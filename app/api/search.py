"""GraphQL for search (app.queries.search; the ranking rule: app.domain.search)."""

from __future__ import annotations

from typing import Optional, cast

import strawberry

from app.api.context import CtxInfo
from app.api.errors import require_scope
from app.api.types import Node
from app.api.user_input import bad_user_input
from app.domain import search as rules
from app.domain.errors import ValidationFailed
from app.queries import search as reads

SearchType = rules.SearchType
strawberry.enum(SearchType, description="A record type `search` covers.")


@strawberry.type(description="A record that matched a search: the record, how well, and on which of its fields.")
class SearchHit:
    node: Node = strawberry.field(description="An Account, Contact, Opportunity or Product (by `__typename`).")
    score: float = strawberry.field(description="0 to 1, higher is closer (4 decimal places); hits come best first.")
    matched_field: str = strawberry.field(description=(
        "The record's field that matched best, named as in the schema: `name` (accounts, opportunities, products; "
        "a contact's full name), `headquarters.city` (accounts), `email` or `phone` (contacts), `sku` (products)."))


@strawberry.type
class SearchQuery:
    @strawberry.field(description=(
        "Records you may read whose name (accounts: or headquarters city; contacts: name, e-mail or phone; products: "
        "name or SKU) matches the query word by word, typos tolerated, best first, ties by type then id (the rule: "
        "README, Search). `query`: at least 2 "
        "characters (spaces aside), at most 200; a query of digits and phone punctuation also matches phone "
        "numbers on their digits. `types`: null for all. `first`: 1 to 100. Invalid arguments: BAD_USER_INPUT."))
    async def search(self, info: CtxInfo, query: str, types: Optional[list[SearchType]] = None,
                     first: Optional[int] = rules.DEFAULT_FIRST) -> list[SearchHit]:
        scope = require_scope(info)
        try:
            wanted = rules.parse_query(query, first, types)
        except ValidationFailed as exc:
            raise bad_user_input(exc) from None
        return [SearchHit(node=cast(Node, row), score=hit.score, matched_field=hit.field)
                for hit, row in await reads.search(scope, wanted)]
