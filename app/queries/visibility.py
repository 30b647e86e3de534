"""Who may see which records: admins all; managers theirs and their reps'; reps their own.

A record outside the caller's scope answers exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable

from tortoise.expressions import Q

from app.domain.enums import Role
from app.models import AccountTeamMember, User


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: Role
    # None means every user's records are visible (admin).
    user_ids: frozenset[int] | None

    @property
    def is_admin(self) -> bool:
        return self.user_ids is None

    def covers_user(self, user_id: int | None) -> bool:
        return self.user_ids is None or user_id in self.user_ids


def scope_of(user_id: int, role: Role, reports: Iterable[int] = ()) -> Scope:
    """`reports`: the users whose manager this user is (they count for managers only)."""
    if role == Role.ADMIN:
        return Scope(user_id, role, None)
    return Scope(user_id, role, frozenset({user_id, *(reports if role == Role.MANAGER else ())}))


async def scope_for(user: User) -> Scope:
    reports = await User.filter(manager_id=user.id).values_list("id", flat=True) if user.role == Role.MANAGER else ()
    return scope_of(user.id, user.role, reports)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _team_account_ids(scope: Scope):
    """Accounts where someone in scope is an active team member (as a subquery)."""
    from tortoise.expressions import Subquery

    return Subquery(
        AccountTeamMember.filter(user_id__in=list(scope.user_ids))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=_today()))
        .values("account_id")
    )


def account_filter(scope: Scope) -> Q:
    if scope.is_admin:
        return Q()
    return Q(assigned_to_id__in=list(scope.user_ids)) | Q(id__in=_team_account_ids(scope))


def opportunity_filter(scope: Scope) -> Q:
    if scope.is_admin:
        return Q()
    return Q(assigned_to_id__in=list(scope.user_ids))


def contact_filter(scope: Scope) -> Q:
    """Contacts follow their account."""
    if scope.is_admin:
        return Q()
    return Q(account__assigned_to_id__in=list(scope.user_ids)) | Q(account_id__in=_team_account_ids(scope))


def user_filter(scope: Scope) -> Q:
    if scope.is_admin:
        return Q()
    return Q(id__in=list(scope.user_ids))
