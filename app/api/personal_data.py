"""Personal data (admins): a contact's data exported as JSON, or erased everywhere (app.services.personal_data)."""

from __future__ import annotations

from typing import Any, Optional, cast

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from app.api import types as t
from app.api.context import CtxInfo
from app.api.errors import parse_id, require_scope, run_mutation, top_level_error
from app.api.user_input import camel
from app.domain.errors import PermissionDenied, ValidationFailed
from app.services import personal_data

ID = strawberry.ID


@strawberry.type(description="The contact as erasure left it (anonymised, `erasedAt` set), or errors.")
class EraseContactPayload:
    contact: Optional[t.Contact] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


def _query_error(exc: ValidationFailed) -> GraphQLError:
    """A query has no payload for errors: NOT_FOUND (or another code) at the top level, naming the argument."""
    error = exc.errors[0]
    field = camel(error.field)
    return GraphQLError(f"{field}: {error.message}", extensions={"code": error.code.name, "field": field})


@strawberry.type
class PersonalDataQuery:
    @strawberry.field(description="Admins: everything held about a contact, as JSON (their fields, the interactions "
                                   "they were the contact of or took part in, the deals naming them, mail to their "
                                   "address). Audited (`contact.exported`).")
    async def export_contact_data(self, info: CtxInfo, contact_id: ID) -> JSON:
        scope = require_scope(info)
        try:
            return cast(Any, await personal_data.export_contact_data(scope, parse_id(contact_id, "contact_id")))
        except PermissionDenied as exc:
            raise top_level_error(str(exc), "FORBIDDEN") from None
        except ValidationFailed as exc:
            raise _query_error(exc) from None


@strawberry.type
class PersonalDataMutation:
    @strawberry.mutation(description="Admins: erase a contact's personal data wherever it is kept; the contact and its "
                                     "interactions and deal links stay, anonymised, so reports still add up. Audited "
                                     "(`contact.erased`); erasing an erased contact changes nothing.")
    async def erase_contact(self, info: CtxInfo, contact_id: ID) -> EraseContactPayload:
        return await run_mutation(info, EraseContactPayload, "contact",
                                  lambda s: personal_data.erase_contact(s, parse_id(contact_id, "contact_id")))
