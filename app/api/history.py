"""Field history in the API: `history` on Opportunity, Account and Contact (newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import strawberry

from app.api.context import CtxInfo
from app.api.enums import ChangeSource
from app.api.relay import Connection
from app.api.types import Node, User


@strawberry.type(description="One changed field of a record: who changed it, when, from what to what, and through "
                             "what. Values are text in the API's own form (ids as global ids, enums by name, "
                             "dates ISO 8601).")
class FieldHistoryEntry(Node):
    field: str = strawberry.field(description="The field's name as the record's type has it (`value`, "
                                              "`expectedCloseDate`, `assignedTo`, …).")
    before: Optional[str]
    after: Optional[str]
    source: ChangeSource
    changed_at: datetime
    changed_by_id: strawberry.Private[Optional[int]]

    @strawberry.field(description="Who made the change (null: no user made it, or one you may not see).")
    async def changed_by(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.changed_by_id) if self.changed_by_id else None


@strawberry.type
class FieldHistoryConnection(Connection[FieldHistoryEntry]):
    """A record's field history, a page at a time."""
