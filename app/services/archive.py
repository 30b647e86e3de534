"""Archive and restore deals, accounts, contacts, interactions and activities (rules: app.domain.archive).

Each use case runs in one transaction: the rows, their field history (`archivedAt`), the deal's version
and the event (webhooks, subscriptions, the change log's ARCHIVED tombstone). Archiving what is already
archived, or restoring what is active, changes nothing and records nothing (a retry is no second change).
Whoever may change a record may archive it, except what app.domain.archive refuses."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import cast

from app.domain import archive as rules
from app.domain.enums import StageKind
from app.domain.errors import ErrorCode, PermissionDenied, ValidationFailed
from app.domain.events import (
    AccountArchived,
    AccountRestored,
    ActivityArchived,
    ActivityRestored,
    ContactArchived,
    ContactRestored,
    InteractionArchived,
    InteractionRestored,
    OpportunityArchived,
    OpportunityRestored,
)
from app.models import Account, AccountTeamMember, Contact, CustomerInteraction, Opportunity, OpportunityActivity
from app.queries.visibility import Scope, account_filter, contact_filter, interaction_filter
from app.services import history
from app.services.changelog import recorded_change, touch_opportunity
from app.services.common import get_visible
from app.services.events import columns
from app.services.opportunities import visible_activity, visible_opportunity
from app.services.opportunity_writes import lock_opportunity, save_opportunity
from app.services.rows import int_column, locked


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _account_team(account_id: int) -> list[int]:
    return sorted(set(await int_column(AccountTeamMember.filter(account_id=account_id), "user_id")))


async def _refuse_under_archived_account(account_id: int) -> None:
    if await Account.exists(id=account_id, archived_at__isnull=False):
        raise ValidationFailed.single("id", rules.UNDER_ARCHIVED_ACCOUNT, ErrorCode.INVALID)


async def _set_archived(model, record_type: str | None, row, archived_at: datetime | None, actor_id: int) -> None:
    """One row's `archived_at`, with its field history (`record_type`: for the types that keep one)."""
    before = {"archived_at": row.archived_at}
    await model.filter(id=row.id).update(archived_at=archived_at)
    row.archived_at = archived_at
    if record_type:
        await history.record_changes(record_type, row.id, before, {"archived_at": archived_at}, actor_id=actor_id)


# Deals ----------------------------------------------------------------------------------------------


async def _deal_archival(scope: Scope, opportunity_id: int, archive: bool) -> Opportunity:
    await visible_opportunity(scope, opportunity_id, "id")
    async with recorded_change() as outbox:
        opportunity = await lock_opportunity(opportunity_id)
        if (opportunity.archived_at is not None) == archive:
            return opportunity
        if archive:
            stage = await opportunity.stage
            refusal = rules.archive_deal_refusal(scope.role, StageKind(stage.kind))
            if refusal:
                raise PermissionDenied(refusal)
        else:
            await _refuse_under_archived_account(opportunity.account_id)
        event = (OpportunityArchived if archive else OpportunityRestored)(opportunity_id=opportunity.id)
        await save_opportunity(opportunity, {"archived_at": _now() if archive else None}, outbox, event,
                               actor_id=scope.user_id)
    return opportunity


async def archive_opportunity(scope: Scope, opportunity_id: int) -> Opportunity:
    return await _deal_archival(scope, opportunity_id, archive=True)


async def restore_opportunity(scope: Scope, opportunity_id: int) -> Opportunity:
    return await _deal_archival(scope, opportunity_id, archive=False)


# Accounts: with what hangs under them ----------------------------------------------------------------


async def _account_archival(scope: Scope, account_id: int, archive: bool) -> Account:
    await get_visible(Account, account_id, account_filter(scope), "id", "account")
    async with recorded_change() as outbox:
        account = await locked(Account, account_id)
        if (account.archived_at is not None) == archive:
            return account
        # Archiving takes what is still active; restoring brings back what went with the account (same moment).
        moment = _now() if archive else account.archived_at
        children = {"archived_at__isnull": True} if archive else {"archived_at": moment}
        deals = await Opportunity.filter(account_id=account.id, **children).select_for_update()
        if archive:
            closed = await Opportunity.filter(id__in=[d.id for d in deals] or [0]).exclude(stage__kind=StageKind.OPEN).count()
            refusal = rules.archive_account_refusal(scope.role, closed)
            if refusal:
                raise PermissionDenied(refusal)
        contacts = await Contact.filter(account_id=account.id, **children)
        interactions = await CustomerInteraction.filter(account_id=account.id, **children)
        value = moment if archive else None
        before = columns(account)
        await _set_archived(Account, "account", account, value, scope.user_id)
        for deal in deals:
            await save_opportunity(deal, {"archived_at": value}, outbox,
                                   (OpportunityArchived if archive else OpportunityRestored)(opportunity_id=deal.id),
                                   actor_id=scope.user_id)
        for contact in contacts:
            await _set_archived(Contact, "contact", contact, value, scope.user_id)
        await CustomerInteraction.filter(id__in=[i.id for i in interactions] or [0]).update(archived_at=value)
        event = (AccountArchived if archive else AccountRestored)(
            account_id=account.id, contact_ids=[c.id for c in contacts], opportunity_ids=[d.id for d in deals],
            interaction_ids=[i.id for i in interactions], team_user_ids=await _account_team(account.id))
        await outbox.record(event, account_id=account.id, owner_id=account.assigned_to_id, actor_id=scope.user_id,
                            resource=account, before=before)
    return account


async def archive_account(scope: Scope, account_id: int) -> Account:
    return await _account_archival(scope, account_id, archive=True)


async def restore_account(scope: Scope, account_id: int) -> Account:
    return await _account_archival(scope, account_id, archive=False)


# Contacts --------------------------------------------------------------------------------------------


async def _contact_archival(scope: Scope, contact_id: int, archive: bool) -> Contact:
    await get_visible(Contact, contact_id, contact_filter(scope), "id", "contact")
    async with recorded_change() as outbox:
        contact = await locked(Contact, contact_id)
        if (contact.archived_at is not None) == archive:
            return contact
        if not archive:
            await _refuse_under_archived_account(contact.account_id)
        before = columns(contact)
        await _set_archived(Contact, "contact", contact, _now() if archive else None, scope.user_id)
        account = await Account.get(id=contact.account_id).only("id", "assigned_to_id")
        await outbox.record((ContactArchived if archive else ContactRestored)(
            contact_id=contact.id, team_user_ids=await _account_team(account.id)),
            account_id=account.id, owner_id=account.assigned_to_id, actor_id=scope.user_id,
            resource=contact, before=before)
    return contact


async def archive_contact(scope: Scope, contact_id: int) -> Contact:
    return await _contact_archival(scope, contact_id, archive=True)


async def restore_contact(scope: Scope, contact_id: int) -> Contact:
    return await _contact_archival(scope, contact_id, archive=False)


# Interactions and activities: a logged contact's two sides go together -------------------------------


async def _contact_log_archival(scope: Scope, interaction_id: int | None, activity_id: int | None, archive: bool,
                                *, asked: str) -> tuple[CustomerInteraction | None, OpportunityActivity | None]:
    """The interaction and/or the activity: the two sides of one logged contact (app.domain.contact_log)
    go together, decided on the locked rows (of concurrent calls one changes them, the others find them
    changed). `asked` ("interaction" or "activity") names the event. Returns both rows as they now are."""
    async with recorded_change() as outbox:
        interaction = await locked(CustomerInteraction, interaction_id) if interaction_id else None
        activity = await locked(OpportunityActivity, activity_id) if activity_id else None
        current = interaction if asked == "interaction" else activity
        assert current is not None
        if (current.archived_at is not None) == archive:
            return interaction, activity
        if not archive and interaction is not None:
            await _refuse_under_archived_account(interaction.account_id)
        value = _now() if archive else None
        deal_id = activity.opportunity_id if activity is not None else interaction.opportunity_id if interaction else None
        before = columns(current)
        if interaction is not None:
            await _set_archived(CustomerInteraction, None, interaction, value, scope.user_id)
        if activity is not None:
            await _set_archived(OpportunityActivity, None, activity, value, scope.user_id)
            await touch_opportunity(activity.opportunity_id)
        opportunity = await Opportunity.get_or_none(id=deal_id) if deal_id else None
        if interaction is not None and asked == "interaction":
            account = await Account.get(id=interaction.account_id).only("id", "assigned_to_id")
            await outbox.record((InteractionArchived if archive else InteractionRestored)(
                interaction_id=interaction.id, activity_id=activity_id),
                opportunity=opportunity, account_id=account.id, owner_id=account.assigned_to_id, actor_id=scope.user_id,
                resource=interaction, before=before)
        elif activity is not None:
            await outbox.record((ActivityArchived if archive else ActivityRestored)(
                activity_id=activity.id, interaction_id=interaction_id), opportunity=opportunity, actor_id=scope.user_id,
                resource=activity, before=before)
    return interaction, activity


async def _interaction_archival(scope: Scope, interaction_id: int, archive: bool) -> CustomerInteraction:
    interaction = await get_visible(CustomerInteraction, interaction_id, interaction_filter(scope), "id", "interaction")
    activity_id = await OpportunityActivity.filter(interaction_id=interaction.id).first().values_list("id", flat=True)
    row, _ = await _contact_log_archival(scope, interaction.id, cast("int | None", activity_id), archive,
                                         asked="interaction")
    assert row is not None
    return row


async def archive_interaction(scope: Scope, interaction_id: int) -> CustomerInteraction:
    return await _interaction_archival(scope, interaction_id, archive=True)


async def restore_interaction(scope: Scope, interaction_id: int) -> CustomerInteraction:
    return await _interaction_archival(scope, interaction_id, archive=False)


async def _activity_archival(scope: Scope, activity_id: int, archive: bool) -> OpportunityActivity:
    activity = await visible_activity(scope, activity_id)
    _, row = await _contact_log_archival(scope, activity.interaction_id, activity.id, archive, asked="activity")
    assert row is not None
    return row


async def archive_activity(scope: Scope, activity_id: int) -> OpportunityActivity:
    return await _activity_archival(scope, activity_id, archive=True)


async def restore_activity(scope: Scope, activity_id: int) -> OpportunityActivity:
    return await _activity_archival(scope, activity_id, archive=False)
