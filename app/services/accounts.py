"""Accounts and what hangs off them: locations, team, contracts, contacts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import cast

from tortoise.transactions import in_transaction

from app.domain.accounts import creates_cycle
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.events import (
    AccountCreated,
    AccountDeleted,
    AccountUpdated,
    ContactCreated,
    ContactDeleted,
    ContactUpdated,
    Event,
)
from app.domain.validation import email_error, normalize_email
from app.models import Account, AccountTeamMember, Contact, Contract, CustomerInteraction, Location, Opportunity, Task
from app.queries.visibility import Scope, account_filter, contact_filter
from app.services import history
from app.services.changelog import reassignment, recorded_change
from app.services.common import Checks, assign, check_grantee, get_visible, require_deleting_for_good, strip_text
from app.services.events import columns
from app.services.health import request_health_recompute
from app.services.rows import assign_changes, int_column, locked

ACCOUNT_FIELDS = {
    "name", "industry", "size", "annual_revenue", "headquarters", "parent_id", "status", "tier",
    "assigned_to_id", "renewal_date",
}


async def visible_account(scope: Scope, account_id: int | None, field: str = "account_id") -> Account:
    return await get_visible(Account, account_id, account_filter(scope), field, "account")


async def _check_owner(checks: Checks, scope: Scope, user_id: int | None) -> None:
    await check_grantee(checks, scope, user_id)


async def _parent_chain_lookup(start_id: int) -> dict[int, int | None]:
    parents: dict[int, int | None] = {}
    current: int | None = start_id
    while current is not None and current not in parents:
        # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
        parent_id = cast("list[int | None]", await Account.filter(id=current).values_list("parent_id", flat=True))
        parents[current] = parent_id[0] if parent_id else None
        current = parents[current]
    return parents


async def _check_parent(checks: Checks, scope: Scope, account_id: int | None, parent_id: int | None) -> None:
    if parent_id is None:
        return
    if not await Account.filter(account_filter(scope), id=parent_id).exists():
        checks.add("parent_id", "parent account not found", ErrorCode.NOT_FOUND)
        return
    if account_id is not None:
        chain = await _parent_chain_lookup(parent_id)
        if creates_cycle(account_id, parent_id, lambda i: chain.get(i)):
            checks.add("parent_id", "would make the account its own ancestor", ErrorCode.CYCLE)


async def create_account(scope: Scope, data: dict) -> Account:
    strip_text(data, "name")
    data.setdefault("assigned_to_id", scope.user_id)
    checks = Checks()
    checks.required_text(data, "name", required=True)
    checks.money(data, "annual_revenue")
    await _check_owner(checks, scope, data["assigned_to_id"])
    await _check_parent(checks, scope, None, data.get("parent_id"))
    checks.raise_if_any()
    account = Account()
    assign(account, data, ACCOUNT_FIELDS)
    async with recorded_change() as outbox:
        await account.save()
        await _account_event(outbox, AccountCreated(account_id=account.id), account, scope)
    return account


async def _account_event(outbox, event: Event, account: Account, scope: Scope,
                         before: dict | None = None) -> None:
    await outbox.record(event, account_id=account.id, owner_id=account.assigned_to_id, actor_id=scope.user_id,
                        resource=account, before=before)


async def update_account(scope: Scope, account_id: int, data: dict) -> Account:
    """Under a row lock; an update that changes nothing writes nothing and records no event (a retry is no
    second change)."""
    await visible_account(scope, account_id, "id")
    async with recorded_change() as outbox:
        account = await locked(Account, account_id)
        await _check_account_update(scope, account, data)
        previous_owner_id = account.assigned_to_id
        before = history.tracked_state("account", account)
        before_columns = columns(account)
        if assign_changes(account, data, ACCOUNT_FIELDS):
            await account.save()
            await history.record_changes("account", account.id, before, data, actor_id=scope.user_id)
            await _account_event(outbox, AccountUpdated(account_id=account.id,
                                                        **reassignment(previous_owner_id, account.assigned_to_id)),
                                 account, scope, before_columns)
    return account


async def _check_account_update(scope: Scope, account: Account, data: dict) -> None:
    strip_text(data, "name")
    checks = Checks()
    checks.required_text(data, "name", required=False)
    checks.money(data, "annual_revenue")
    if "assigned_to_id" in data:
        if data["assigned_to_id"] is None:
            checks.add("assigned_to_id", "is required", ErrorCode.REQUIRED)
        else:
            await _check_owner(checks, scope, data["assigned_to_id"])
    if "parent_id" in data:
        await _check_parent(checks, scope, account.id, data["parent_id"])
    checks.raise_if_any()


async def delete_account(scope: Scope, account_id: int) -> int:
    account = await visible_account(scope, account_id, "id")
    require_deleting_for_good(scope)
    checks = Checks()
    if await Opportunity.exists(account_id=account.id):
        checks.add("id", "the account has opportunities; move or delete them first", ErrorCode.IN_USE)
    if await Account.exists(parent_id=account.id):
        checks.add("id", "the account has subsidiaries; re-parent them first", ErrorCode.IN_USE)
    checks.raise_if_any()
    # Team members saw it too: their sync must hear of the deletion.
    team = await int_column(AccountTeamMember.filter(account_id=account.id), "user_id")
    async with recorded_change() as outbox:
        # What goes with it (cascade), named in the event so every cache drops it too.
        deleted = AccountDeleted(
            account_id=account.id, team_user_ids=sorted(set(team)),
            contact_ids=await int_column(Contact.filter(account_id=account.id)),
            interaction_ids=await int_column(CustomerInteraction.filter(account_id=account.id)),
            task_ids=await int_column(Task.filter(account_id=account.id)))
        await account.delete()
        await _account_event(outbox, deleted, account, scope)
    return account_id


# Locations ---------------------------------------------------------------------------

LOCATION_FIELDS = {"name", "street", "city", "region", "postal_code", "country", "phone", "delivery_notes", "is_primary"}


async def create_location(scope: Scope, data: dict) -> Location:
    account = await visible_account(scope, data.get("account_id"))
    strip_text(data, "name")
    checks = Checks()
    checks.required_text(data, "name", required=True)
    checks.raise_if_any()
    location = Location(account=account)
    assign(location, data, LOCATION_FIELDS)
    await location.save()
    return location


async def _visible_child(model, scope: Scope, pk: int, what: str):
    obj = await model.get_or_none(id=pk)
    if obj is None or not await Account.filter(account_filter(scope), id=obj.account_id).exists():
        raise ValidationFailed.single("id", f"{what} not found", ErrorCode.NOT_FOUND)
    return obj


async def update_location(scope: Scope, location_id: int, data: dict) -> Location:
    location = await _visible_child(Location, scope, location_id, "location")
    strip_text(data, "name")
    checks = Checks()
    checks.required_text(data, "name", required=False)
    checks.raise_if_any()
    assign(location, data, LOCATION_FIELDS)
    await location.save()
    return location


async def delete_location(scope: Scope, location_id: int) -> int:
    location = await _visible_child(Location, scope, location_id, "location")
    await location.delete()
    return location_id


# Account team ------------------------------------------------------------------------

TEAM_FIELDS = {"role", "is_primary", "start_date", "end_date"}


async def _save_team_member(member: AccountTeamMember, data: dict) -> AccountTeamMember:
    assign(member, data, TEAM_FIELDS)
    checks = Checks()
    checks.date_order("start_date", member.start_date, "end_date", member.end_date)
    clash = AccountTeamMember.filter(account_id=member.account_id, user_id=member.user_id, role=member.role)
    if member.id is not None:
        clash = clash.exclude(id=member.id)
    if await clash.exists():
        checks.add("user_id", "already on the account team in this role", ErrorCode.DUPLICATE)
    checks.raise_if_any()
    async with in_transaction():
        if member.is_primary:
            # One primary member per account: the newest choice wins.
            others = AccountTeamMember.filter(account_id=member.account_id, is_primary=True)
            if member.id is not None:
                others = others.exclude(id=member.id)
            await others.update(is_primary=False)
        await member.save()
    return member


async def add_team_member(scope: Scope, data: dict) -> AccountTeamMember:
    account = await visible_account(scope, data.get("account_id"))
    checks = Checks()
    await check_grantee(checks, scope, data.get("user_id"), "user_id")
    checks.raise_if_any()
    data.setdefault("start_date", datetime.now(timezone.utc).date())
    member = AccountTeamMember(account_id=account.id, user_id=data["user_id"])
    return await _save_team_member(member, data)


async def update_team_member(scope: Scope, member_id: int, data: dict) -> AccountTeamMember:
    member = await _visible_child(AccountTeamMember, scope, member_id, "team member")
    return await _save_team_member(member, data)


async def remove_team_member(scope: Scope, member_id: int) -> int:
    member = await _visible_child(AccountTeamMember, scope, member_id, "team member")
    await member.delete()
    return member_id


# Contracts ---------------------------------------------------------------------------

CONTRACT_FIELDS = {"name", "value", "start_date", "end_date", "status"}


async def _save_contract(contract: Contract, data: dict, *, creating: bool) -> Contract:
    _check_contract(contract, data, creating=creating)
    assign(contract, data, CONTRACT_FIELDS)
    await contract.save()
    await _contracts_changed(contract.account_id)
    return contract


def _check_contract(contract: Contract, data: dict, *, creating: bool) -> None:
    strip_text(data, "name")
    checks = Checks()
    checks.required_text(data, "name", required=creating)
    checks.money(data, "value")
    for field in ("value", "start_date", "end_date"):
        if creating and data.get(field) is None:
            checks.add(field, "is required", ErrorCode.REQUIRED)
    checks.raise_if_any()
    checks.date_order("start_date", data.get("start_date", contract.start_date),
                      "end_date", data.get("end_date", contract.end_date))
    checks.raise_if_any()


async def _contracts_changed(account_id: int) -> None:
    """Contract value is a health factor: recompute the account's health soon."""
    await request_health_recompute(account_id)


async def create_contract(scope: Scope, data: dict) -> Contract:
    account = await visible_account(scope, data.get("account_id"))
    return await _save_contract(Contract(account_id=account.id), data, creating=True)


async def update_contract(scope: Scope, contract_id: int, data: dict) -> Contract:
    """Under a row lock; only a real change is written and asks for a health recompute."""
    await _visible_child(Contract, scope, contract_id, "contract")
    async with in_transaction():
        contract = await locked(Contract, contract_id)
        _check_contract(contract, data, creating=False)
        changed = assign_changes(contract, data, CONTRACT_FIELDS)
        if changed:
            await contract.save()
    if changed:
        await _contracts_changed(contract.account_id)
    return contract


async def delete_contract(scope: Scope, contract_id: int) -> int:
    contract = await _visible_child(Contract, scope, contract_id, "contract")
    await contract.delete()
    await _contracts_changed(contract.account_id)
    return contract_id


# Contacts ----------------------------------------------------------------------------

CONTACT_FIELDS = {"first_name", "last_name", "email", "phone", "title", "role", "is_primary"}


async def _save_contact(contact: Contact, data: dict, *, creating: bool, actor_id: int) -> Contact:
    _check_contact(data, creating=creating)
    before = None if creating else columns(contact)
    assign(contact, data, CONTACT_FIELDS)
    async with recorded_change() as outbox:
        await contact.save()
        await _contact_event(outbox, ContactCreated if creating else ContactUpdated, contact, actor_id, before)
    return contact


def _check_contact(data: dict, *, creating: bool) -> None:
    strip_text(data, "first_name", "last_name", "email", "phone", "title")
    checks = Checks()
    checks.required_text(data, "first_name", required=creating)
    checks.required_text(data, "last_name", required=creating)
    if data.get("email"):
        data["email"] = normalize_email(data["email"])
        checks.check("email", email_error(data["email"]))
    checks.raise_if_any()


async def _contact_event(outbox, event_type: type[ContactCreated] | type[ContactDeleted], contact: Contact, actor_id: int,
                         before: dict | None = None) -> None:
    """Contacts follow their account: the event carries the account's owner and team (for tombstones)."""
    account = await Account.get(id=contact.account_id).only("id", "assigned_to_id")
    team = await int_column(AccountTeamMember.filter(account_id=account.id), "user_id")
    await outbox.record(event_type(contact_id=contact.id, team_user_ids=sorted(set(team))),
                        account_id=account.id, owner_id=account.assigned_to_id, actor_id=actor_id,
                        resource=contact, before=before)


async def create_contact(scope: Scope, data: dict) -> Contact:
    account = await visible_account(scope, data.get("account_id"))
    return await _save_contact(Contact(account_id=account.id), data, creating=True, actor_id=scope.user_id)


async def update_contact(scope: Scope, contact_id: int, data: dict) -> Contact:
    """Under a row lock; an update that changes nothing writes nothing and records no event."""
    await get_visible(Contact, contact_id, contact_filter(scope), "id", "contact")
    _check_contact(data, creating=False)
    async with recorded_change() as outbox:
        contact = await locked(Contact, contact_id)
        before = history.tracked_state("contact", contact)
        before_columns = columns(contact)
        if assign_changes(contact, data, CONTACT_FIELDS):
            await contact.save()
            await history.record_changes("contact", contact.id, before, data, actor_id=scope.user_id)
            await _contact_event(outbox, ContactUpdated, contact, scope.user_id, before_columns)
    return contact


async def delete_contact(scope: Scope, contact_id: int) -> int:
    contact = await get_visible(Contact, contact_id, contact_filter(scope), "id", "contact")
    require_deleting_for_good(scope)
    async with recorded_change() as outbox:
        await contact.delete()
        await _contact_event(outbox, ContactDeleted, contact, scope.user_id)
    return contact_id
