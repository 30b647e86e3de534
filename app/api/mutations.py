"""Mutation root: each resolver parses input and calls one use case in app.services."""

from __future__ import annotations

from typing import Optional, cast

import strawberry

from app.api import inputs as i
from app.api import types as t
from app.api.context import CtxInfo
from app.api.errors import input_data, parse_id, deleting, run_mutation
from app.services import accounts, archive, catalog, opportunities
from app.services import interactions as contact_log

ID = strawberry.ID


@strawberry.type
class AccountPayload:
    account: Optional[t.Account] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LocationPayload:
    location: Optional[t.Location] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type(name="AccountTeamMemberPayload")
class TeamMemberPayload:
    team_member: Optional[t.AccountTeamMember] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContractPayload:
    contract: Optional[t.Contract] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContactPayload:
    contact: Optional[t.Contact] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProductPayload:
    product: Optional[t.Product] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OpportunityPayload:
    opportunity: Optional[t.Opportunity] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OpportunityProductPayload:
    opportunity_product: Optional[t.OpportunityProduct] = None
    opportunity: Optional[t.Opportunity] = strawberry.field(default=None, description="The deal as the line left it.")
    value_changed: bool = strawberry.field(
        default=False, description="Whether the deal's value moved: only when its valueSource is PRODUCTS.")
    errors: list[t.UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, opportunity_product: Optional[opportunities.LineChange] = None,
           errors: Optional[list[t.UserError]] = None) -> "OpportunityProductPayload":
        change = opportunity_product
        if change is None:
            return cls(errors=errors or [])
        return cls(opportunity_product=cast(t.OpportunityProduct, change.line),
                   opportunity=cast(t.Opportunity, change.opportunity), value_changed=change.value_changed,
                   errors=errors or [])


@strawberry.type(name="OpportunityActivityPayload")
class ActivityPayload:
    activity: Optional[t.OpportunityActivity] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type(name="OpportunityDocumentPayload")
class DocumentPayload:
    document: Optional[t.OpportunityDocument] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="The id of what was deleted, or errors.")
class DeletePayload:
    deleted_id: Optional[ID] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


def _with(data: dict, **extra) -> dict:
    data.update(extra)
    return data


@strawberry.type
class CoreMutation:
    # Accounts
    @strawberry.mutation
    async def create_account(self, info: CtxInfo, input: i.CreateAccountInput) -> AccountPayload:
        return await run_mutation(info, AccountPayload, "account",
                                  lambda s: accounts.create_account(s, input_data(input)))

    @strawberry.mutation
    async def update_account(self, info: CtxInfo, id: ID, input: i.UpdateAccountInput) -> AccountPayload:
        return await run_mutation(info, AccountPayload, "account",
                                  lambda s: accounts.update_account(s, parse_id(id, "id", "Account"), input_data(input)))

    @strawberry.mutation
    async def delete_account(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Account", lambda s: accounts.delete_account(s, parse_id(id, "id", "Account"))))

    @strawberry.mutation(description="Put the account away with its contacts, deals and interactions: out of lists, "
                                     "search and the open pipeline; restoreAccount brings back what went with it.")
    async def archive_account(self, info: CtxInfo, id: ID) -> AccountPayload:
        return await run_mutation(info, AccountPayload, "account",
                                  lambda s: archive.archive_account(s, parse_id(id, "id", "Account")))

    @strawberry.mutation
    async def restore_account(self, info: CtxInfo, id: ID) -> AccountPayload:
        return await run_mutation(info, AccountPayload, "account",
                                  lambda s: archive.restore_account(s, parse_id(id, "id", "Account")))

    @strawberry.mutation
    async def create_location(self, info: CtxInfo, account_id: ID, input: i.LocationInput) -> LocationPayload:
        return await run_mutation(info, LocationPayload, "location", lambda s: accounts.create_location(
            s, _with(input_data(input), account_id=parse_id(account_id, "account_id"))))

    @strawberry.mutation
    async def update_location(self, info: CtxInfo, id: ID, input: i.LocationInput) -> LocationPayload:
        return await run_mutation(info, LocationPayload, "location",
                                  lambda s: accounts.update_location(s, parse_id(id, "id", "Location"), input_data(input)))

    @strawberry.mutation
    async def delete_location(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Location", lambda s: accounts.delete_location(s, parse_id(id, "id", "Location"))))

    @strawberry.mutation
    async def add_account_team_member(self, info: CtxInfo, input: i.AddTeamMemberInput) -> TeamMemberPayload:
        return await run_mutation(info, TeamMemberPayload, "team_member",
                                  lambda s: accounts.add_team_member(s, input_data(input)))

    @strawberry.mutation
    async def update_account_team_member(self, info: CtxInfo, id: ID, input: i.UpdateTeamMemberInput) -> TeamMemberPayload:
        return await run_mutation(info, TeamMemberPayload, "team_member",
                                  lambda s: accounts.update_team_member(s, parse_id(id, "id", "AccountTeamMember"), input_data(input)))

    @strawberry.mutation
    async def remove_account_team_member(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("AccountTeamMember", lambda s: accounts.remove_team_member(s, parse_id(id, "id", "AccountTeamMember"))))

    @strawberry.mutation
    async def create_contract(self, info: CtxInfo, account_id: ID, input: i.ContractInput) -> ContractPayload:
        return await run_mutation(info, ContractPayload, "contract", lambda s: accounts.create_contract(
            s, _with(input_data(input), account_id=parse_id(account_id, "account_id"))))

    @strawberry.mutation
    async def update_contract(self, info: CtxInfo, id: ID, input: i.ContractInput) -> ContractPayload:
        return await run_mutation(info, ContractPayload, "contract",
                                  lambda s: accounts.update_contract(s, parse_id(id, "id", "Contract"), input_data(input)))

    @strawberry.mutation
    async def delete_contract(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Contract", lambda s: accounts.delete_contract(s, parse_id(id, "id", "Contract"))))

    @strawberry.mutation
    async def create_contact(self, info: CtxInfo, account_id: ID, input: i.ContactInput) -> ContactPayload:
        return await run_mutation(info, ContactPayload, "contact", lambda s: accounts.create_contact(
            s, _with(input_data(input), account_id=parse_id(account_id, "account_id"))))

    @strawberry.mutation
    async def update_contact(self, info: CtxInfo, id: ID, input: i.ContactInput) -> ContactPayload:
        return await run_mutation(info, ContactPayload, "contact",
                                  lambda s: accounts.update_contact(s, parse_id(id, "id", "Contact"), input_data(input)))

    @strawberry.mutation
    async def delete_contact(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Contact", lambda s: accounts.delete_contact(s, parse_id(id, "id", "Contact"))))

    # Products
    @strawberry.mutation
    async def create_product(self, info: CtxInfo, input: i.ProductInput) -> ProductPayload:
        return await run_mutation(info, ProductPayload, "product",
                                  lambda s: catalog.create_product(s, input_data(input)))

    @strawberry.mutation(description="Put the contact away: out of lists and search; restoreContact brings it back.")
    async def archive_contact(self, info: CtxInfo, id: ID) -> ContactPayload:
        return await run_mutation(info, ContactPayload, "contact",
                                  lambda s: archive.archive_contact(s, parse_id(id, "id", "Contact")))

    @strawberry.mutation
    async def restore_contact(self, info: CtxInfo, id: ID) -> ContactPayload:
        return await run_mutation(info, ContactPayload, "contact",
                                  lambda s: archive.restore_contact(s, parse_id(id, "id", "Contact")))

    @strawberry.mutation
    async def update_product(self, info: CtxInfo, id: ID, input: i.ProductInput) -> ProductPayload:
        return await run_mutation(info, ProductPayload, "product",
                                  lambda s: catalog.update_product(s, parse_id(id, "id", "Product"), input_data(input)))

    @strawberry.mutation
    async def delete_product(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Product", lambda s: catalog.delete_product(s, parse_id(id, "id", "Product"))))

    # Opportunities
    @strawberry.mutation
    async def create_opportunity(self, info: CtxInfo, input: i.CreateOpportunityInput) -> OpportunityPayload:
        return await run_mutation(info, OpportunityPayload, "opportunity",
                                  lambda s: opportunities.create_opportunity(s, input_data(input)))

    @strawberry.mutation
    async def update_opportunity(
        self, info: CtxInfo, id: ID, input: i.UpdateOpportunityInput, expected_version: Optional[int] = None
    ) -> OpportunityPayload:
        return await run_mutation(info, OpportunityPayload, "opportunity", lambda s: opportunities.update_opportunity(
            s, parse_id(id, "id", "Opportunity"), input_data(input), expected_version))

    @strawberry.mutation
    async def delete_opportunity(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Opportunity", lambda s: opportunities.delete_opportunity(s, parse_id(id, "id", "Opportunity"))))

    @strawberry.mutation(description="Put the deal away: out of lists, search and the open pipeline (a closed deal "
                                     "keeps counting as won or lost); reps archive open deals only. "
                                     "restoreOpportunity brings it back.")
    async def archive_opportunity(self, info: CtxInfo, id: ID) -> OpportunityPayload:
        return await run_mutation(info, OpportunityPayload, "opportunity",
                                  lambda s: archive.archive_opportunity(s, parse_id(id, "id", "Opportunity")))

    @strawberry.mutation
    async def restore_opportunity(self, info: CtxInfo, id: ID) -> OpportunityPayload:
        return await run_mutation(info, OpportunityPayload, "opportunity",
                                  lambda s: archive.restore_opportunity(s, parse_id(id, "id", "Opportunity")))

    @strawberry.mutation
    async def add_opportunity_product(self, info: CtxInfo, input: i.AddOpportunityProductInput) -> OpportunityProductPayload:
        return await run_mutation(info, OpportunityProductPayload.of, "opportunity_product",
                                  lambda s: opportunities.add_opportunity_product(s, input_data(input)))

    @strawberry.mutation
    async def update_opportunity_product(
        self, info: CtxInfo, id: ID, input: i.UpdateOpportunityProductInput
    ) -> OpportunityProductPayload:
        return await run_mutation(info, OpportunityProductPayload.of, "opportunity_product",
                                  lambda s: opportunities.update_opportunity_product(s, parse_id(id, "id", "OpportunityProduct"), input_data(input)))

    @strawberry.mutation
    async def remove_opportunity_product(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("OpportunityProduct", lambda s: opportunities.remove_opportunity_product(s, parse_id(id, "id", "OpportunityProduct"))))

    @strawberry.mutation(description="Log deal work, or a customer contact made on the deal: a done CALL, EMAIL, "
                                     "MEETING, DEMO, TASTING or SITE_VISIT is also recorded as its interaction "
                                     "(`interaction`), once (README \"One way to log customer contact\").")
    async def add_opportunity_activity(self, info: CtxInfo, opportunity_id: ID, input: i.ActivityInput) -> ActivityPayload:
        return await run_mutation(info, ActivityPayload, "activity", lambda s: contact_log.add_deal_activity(
            s, _with(input_data(input), opportunity_id=parse_id(opportunity_id, "opportunity_id"))))

    @strawberry.mutation(description="A logged contact's text follows on its interaction (its type and dates are the "
                                     "interaction's); marking a contact-type activity done records its interaction.")
    async def update_opportunity_activity(self, info: CtxInfo, id: ID, input: i.ActivityInput) -> ActivityPayload:
        return await run_mutation(info, ActivityPayload, "activity",
                                  lambda s: contact_log.update_deal_activity(s, parse_id(id, "id", "OpportunityActivity"), input_data(input)))

    @strawberry.mutation(description="Deal work only: a logged customer contact is kept as its interaction.")
    async def delete_opportunity_activity(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("OpportunityActivity", lambda s: contact_log.delete_deal_activity(s, parse_id(id, "id", "OpportunityActivity"))))

    @strawberry.mutation(description="Put the activity away (with its interaction, for a logged customer contact).")
    async def archive_opportunity_activity(self, info: CtxInfo, id: ID) -> ActivityPayload:
        return await run_mutation(info, ActivityPayload, "activity",
                                  lambda s: archive.archive_activity(s, parse_id(id, "id", "OpportunityActivity")))

    @strawberry.mutation
    async def restore_opportunity_activity(self, info: CtxInfo, id: ID) -> ActivityPayload:
        return await run_mutation(info, ActivityPayload, "activity",
                                  lambda s: archive.restore_activity(s, parse_id(id, "id", "OpportunityActivity")))

    @strawberry.mutation
    async def add_opportunity_document(self, info: CtxInfo, input: i.AddDocumentInput) -> DocumentPayload:
        return await run_mutation(info, DocumentPayload, "document",
                                  lambda s: opportunities.add_document(s, input_data(input)))

    @strawberry.mutation
    async def delete_opportunity_document(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("OpportunityDocument", lambda s: opportunities.delete_document(s, parse_id(id, "id", "OpportunityDocument"))))
