"""The sharing model: which rows a caller may read, one query filter per record type.

Scope: admins everything; managers their own records and their reps'; reps their own. Every path that
reads rows (lists, look-ups, every relation field of every GraphQL type, the compiled read path,
subscriptions, analytics) asks `read_filter(model, scope)` or one of the named filters below, so a
record outside the model answers exactly like one that does not exist (null, or absent from a list).
The README's "Who sees what" table states the same rules in words.

Implicit sharing, on purpose: whoever may see an opportunity may read its account's own row (name,
industry, tier… so the deal renders), like Salesforce's implicit parent access. The account's
contacts, contracts, locations, team, interactions and health stay with the people who work on the
account (owner or current team member in scope): `account_filter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Iterable, cast

from tortoise.expressions import Q, Subquery
from tortoise.models import Model

from app import models as m
from app.domain.enums import Role


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: Role
    # None means every user's records are visible (admin).
    user_ids: frozenset[int] | None
    # The caller's own manager: visible to the caller (and a possible grantee), owns nothing of theirs.
    manager_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.user_ids is None

    @property
    def sharing_key(self) -> tuple | None:
        """Everything the sharing model reads of the caller: equal keys see equal rows (cache keys)."""
        return None if self.is_admin else (self.user_ids, self.manager_id)

    def covers_user(self, user_id: int | None) -> bool:
        """Records owned by this user are the caller's to see and change."""
        return self.user_ids is None or user_id in self.user_ids


def scope_of(user_id: int, role: Role, reports: Iterable[int] = (), manager_id: int | None = None) -> Scope:
    """`reports`: the users whose manager this user is (they count for managers only)."""
    if role == Role.ADMIN:
        return Scope(user_id, role, None)
    return Scope(user_id, role, frozenset({user_id, *(reports if role == Role.MANAGER else ())}), manager_id)


async def scope_for(user: m.User) -> Scope:
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
    reports = cast("list[int]", await m.User.filter(manager_id=user.id).values_list("id", flat=True)) \
        if user.role == Role.MANAGER else ()
    return scope_of(user.id, user.role, reports, user.manager_id)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _users(scope: Scope) -> list[int]:
    return sorted(scope.user_ids or ())


def _team_account_ids(scope: Scope) -> Subquery:
    """Accounts where someone in scope is a current team member."""
    return Subquery(
        m.AccountTeamMember.filter(user_id__in=_users(scope))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=_today()))
        .values("account_id")
    )


def _worked_account_ids(scope: Scope) -> Subquery:
    return Subquery(m.Account.filter(account_filter(scope)).values("id"))


def _opportunity_ids(scope: Scope) -> Subquery:
    return Subquery(m.Opportunity.filter(opportunity_filter(scope)).values("id"))


# Record types ----------------------------------------------------------------------------


def _visible_user_ids(scope: Scope) -> list[int]:
    return sorted({*_users(scope), *([scope.manager_id] if scope.manager_id is not None else [])})


def user_filter(scope: Scope) -> Q:
    """Users: yourself, your reps if you manage them, and your own manager (admins: everyone)."""
    return Q() if scope.is_admin else Q(id__in=_visible_user_ids(scope))


def user_visible(scope: Scope, user_id: int | None) -> bool:
    """`user_filter` for one id already in hand (no query)."""
    return user_id is not None and (scope.covers_user(user_id) or user_id == scope.manager_id)


def opportunity_filter(scope: Scope) -> Q:
    """Opportunities: those assigned to someone in scope."""
    return Q() if scope.is_admin else Q(assigned_to_id__in=_users(scope))


def opportunity_visible(scope: Scope, assigned_to_id: int | None) -> bool:
    """`opportunity_filter` for a row already in hand."""
    return scope.covers_user(assigned_to_id)


def account_filter(scope: Scope) -> Q:
    """Accounts the caller works on: owned by, or with a current team member, in scope. Their
    contacts, contracts, locations, team, interactions and health follow this; so do edits."""
    if scope.is_admin:
        return Q()
    return Q(assigned_to_id__in=_users(scope)) | Q(id__in=_team_account_ids(scope))


def account_read_filter(scope: Scope) -> Q:
    """Account rows the caller may read: those worked on, plus the account of any opportunity the
    caller may see (read-only, the account's own fields; its children still follow account_filter)."""
    if scope.is_admin:
        return Q()
    return account_filter(scope) | Q(id__in=Subquery(m.Opportunity.filter(opportunity_filter(scope)).values("account_id")))


def account_child_filter(scope: Scope) -> Q:
    """Contacts, contracts, locations, team members, interactions: they follow their account."""
    return Q() if scope.is_admin else Q(account_id__in=_worked_account_ids(scope))


def contact_filter(scope: Scope) -> Q:
    return account_child_filter(scope)


def interaction_filter(scope: Scope) -> Q:
    return account_child_filter(scope)


def participant_filter(scope: Scope) -> Q:
    """An interaction's participants: visible with the interaction and their contact."""
    if scope.is_admin:
        return Q()
    worked = _worked_account_ids(scope)
    return Q(interaction__account_id__in=worked) & Q(contact__account_id__in=worked)


def opportunity_child_filter(scope: Scope) -> Q:
    """Products, activities, documents and stage history: they follow their opportunity."""
    return Q() if scope.is_admin else Q(opportunity_id__in=_opportunity_ids(scope))


def field_history_filter(scope: Scope) -> Q:
    """Field history: a deal's with the deal; an account's and a contact's with the account's children
    (worked accounts: the history names earlier owners and values a read-only reader does not see)."""
    if scope.is_admin:
        return Q()
    worked = _worked_account_ids(scope)
    return (Q(opportunity_id__in=_opportunity_ids(scope)) | Q(account_id__in=worked)
            | Q(contact_id__in=Subquery(m.Contact.filter(account_id__in=worked).values("id"))))


def task_filter(scope: Scope) -> Q:
    """Tasks: yours, and your reps' when you manage them."""
    return Q() if scope.is_admin else Q(assignee_id__in=_users(scope))


def task_visible(scope: Scope, assignee_id: int | None) -> bool:
    """`task_filter` for a row (or a task event's owner) already in hand."""
    return scope.covers_user(assignee_id)


def notification_filter(scope: Scope) -> Q:
    """Notifications: only your own, whatever your role."""
    return Q(user_id=scope.user_id)


def admin_only_filter(scope: Scope) -> Q:
    """Webhooks, their deliveries, outgoing mail: admins only."""
    return Q() if scope.is_admin else Q(id__in=[])


def everyone_filter(scope: Scope) -> Q:
    """Shared reference data: products, pipelines and stages, competitors and battlecards."""
    return Q()


# Which filter answers for each model: a model missing here cannot be read through read_filter, so a
# new record type needs a decision before any relation can reach it.
READ_FILTERS: dict[type[Model], Callable[[Scope], Q]] = {
    m.User: user_filter,
    m.Opportunity: opportunity_filter,
    m.OpportunityProduct: opportunity_child_filter,
    m.OpportunityActivity: opportunity_child_filter,
    m.OpportunityDocument: opportunity_child_filter,
    m.StageTransition: opportunity_child_filter,
    m.FieldHistoryEntry: field_history_filter,
    m.Account: account_read_filter,
    m.Contact: account_child_filter,
    m.Contract: account_child_filter,
    m.Location: account_child_filter,
    m.AccountTeamMember: account_child_filter,
    m.AccountHealthSnapshot: account_child_filter,
    m.CustomerInteraction: account_child_filter,
    m.InteractionParticipant: participant_filter,
    m.Task: task_filter,
    m.Notification: notification_filter,
    m.Webhook: admin_only_filter,
    m.WebhookDelivery: admin_only_filter,
    m.OutgoingMail: admin_only_filter,
    m.ForecastSnapshot: admin_only_filter,
    m.Product: everyone_filter,
    m.Pipeline: everyone_filter,
    m.PipelineStage: everyone_filter,
    m.Competitor: everyone_filter,
    m.BattleCard: everyone_filter,
    m.ApiKey: admin_only_filter,
    m.LostReason: everyone_filter,
}

# The records `node(id:)` reaches, by GraphQL type name (each GraphQL type that implements Node is served
# from the model of the same name: checked against the schema by tests/test_global_ids.py).
NODE_MODELS: dict[str, type[Model]] = {
    model.__name__: model for model in READ_FILTERS if model is not m.AccountHealthSnapshot
}


def read_filter(model: type[Model], scope: Scope | None) -> Q:
    """The rows of `model` this caller may read (no scope: nothing)."""
    if scope is None:
        return Q(id__in=[])
    return READ_FILTERS[model](scope)


def readable_through(parent: type[Model], model: type[Model], fk: str) -> bool:
    """Whether the rows of `model` related to a row of `parent` the caller may read, through the
    foreign key `fk`, are readable by that alone, so a reader that fetches them by id (the compiled read
    path) need not check them: an opportunity's own account (implicit sharing, `account_read_filter`)
    and an opportunity's products, activities, documents and stage history (`opportunity_child_filter`).
    Every other relation is checked with `visible_ids`."""
    if parent is not m.Opportunity:
        return False
    if model is m.Account:
        return fk == "account_id"
    return fk == "opportunity_id" and READ_FILTERS[model] is opportunity_child_filter


def checks(model: type[Model], scope: Scope) -> bool:
    """Whether `visible_ids` has anything to decide for rows of `model` (False: every row is readable
    by this caller, so a reader need not even collect their ids)."""
    return not (scope.is_admin or READ_FILTERS[model] is everyone_filter)


async def visible_ids(model: type[Model], scope: Scope, ids: Iterable[int]) -> set[int] | None:
    """Which of these rows of `model` the caller may read, for a reader that fetched them by id
    (the compiled read path): None when all of them are; users are decided without a query."""
    rule = READ_FILTERS[model]
    if not checks(model, scope):
        return None
    if rule is user_filter:
        return {i for i in ids if user_visible(scope, i)}
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set(cast("list[int]", await model.filter(rule(scope), id__in=wanted).values_list("id", flat=True)))
