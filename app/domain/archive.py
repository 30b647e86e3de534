"""Archive and restore: the rules.

An archived record is put away, not lost: it leaves lists, search and the open pipeline (count, value,
forecast) but is still found by id, keeps its history and keeps counting in what already happened
(a won deal stays won in reports, win/loss and forecast accuracy). `restore…` brings it back.

- Archiving an account puts away what hangs under it that is still active (its contacts, deals and
  interactions) at the same moment; restoring the account brings back exactly those (things archived
  on their own before stay archived).
- A record under an archived account comes back with the account, not on its own.
- Reps do not archive closed deals (won or lost: they are the record of what happened), nor an account
  that would take a closed deal with it; managers and admins may. Deleting for good is for admins only."""

from __future__ import annotations

from app.domain.enums import Role, StageKind

CLOSED_DEAL = "a closed deal is the record of what happened: only a manager or admin archives it"
ACCOUNT_WITH_CLOSED_DEALS = "the account has closed deals: only a manager or admin archives it"
UNDER_ARCHIVED_ACCOUNT = "its account is archived: restore the account, which brings it back"
DELETE_FOR_GOOD = "only admins delete for good: archive it instead (restore brings it back)"


def archive_deal_refusal(role: Role, stage_kind: StageKind) -> str | None:
    return CLOSED_DEAL if role is Role.REP and stage_kind is not StageKind.OPEN else None


def archive_account_refusal(role: Role, closed_deals: int) -> str | None:
    return ACCOUNT_WITH_CLOSED_DEALS if role is Role.REP and closed_deals else None


def delete_refusal(role: Role) -> str | None:
    return None if role is Role.ADMIN else DELETE_FOR_GOOD
