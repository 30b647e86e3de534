"""Which rows are archived (app.domain.archive): lists, search, nested lists and the open pipeline
read only active rows; look-ups by id and history-based analytics read both."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.models import Model

from app import models as m

ARCHIVABLE: frozenset[type[Model]] = frozenset({
    m.Opportunity, m.Account, m.Contact, m.CustomerInteraction, m.OpportunityActivity})


def archived_filter(model: type[Model], archived: bool | None = False) -> Q:
    """Rows of `model` that are active (`archived` False, the default for lists), archived (True), or
    either (None). A model that cannot be archived: every row."""
    if archived is None or model not in ARCHIVABLE:
        return Q()
    return Q(archived_at__isnull=not archived)
