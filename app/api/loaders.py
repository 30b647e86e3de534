"""Per-request DataLoaders: every relation is fetched in one batch per request, and only the rows the
caller may read (app.queries.visibility): a hidden target loads as None, a hidden child is left out."""

from __future__ import annotations

from functools import partial

from strawberry.dataloader import DataLoader
from tortoise.expressions import Q
from tortoise.models import Model

from app import models as m
from app.queries import loaders as batch
from app.queries.archived import archived_filter
from app.queries.pagination import Page, page_size, paginate
from app.queries.visibility import Scope, read_filter


class ChildPages:
    """A nested connection (Opportunity.tasks, Account.interactions, …): the first page of every parent
    a request asks for in one ranked query, their totalCounts in one grouped query; a later page
    (`after`) is one parent's list being paged on its own, read like a root list."""

    def __init__(self, model: type[Model], fk: str, sort_field: str, descending: bool, visible: Q):
        self.model, self.fk, self.sort_field, self.descending, self.visible = model, fk, sort_field, descending, visible
        self.first_pages = DataLoader(self._first_pages)
        self.counts = DataLoader(partial(batch.count_children, model, fk, visible=visible))

    async def _first_pages(self, keys: list[tuple[int, int]]) -> list[Page]:
        return await batch.load_child_pages(self.model, self.fk, keys, sort_field=self.sort_field,
                                            descending=self.descending, visible=self.visible)

    async def page(self, parent_id: int, first: int | None, after: str | None) -> Page:
        """Raises ValidationFailed for a page size out of range or a malformed cursor."""
        if after is not None:
            page = await paginate(self.model.filter(self.visible, **{self.fk: parent_id}), first=first, after=after,
                                  sort_field=self.sort_field, descending=self.descending)
        else:
            page = await self.first_pages.load((parent_id, page_size(first)))
        page.count = partial(self.counts.load, parent_id)
        return page


class Loaders:
    def __init__(self, scope: Scope | None):
        self.scope = scope

        def by_id(model):
            return DataLoader(partial(batch.load_by_ids, model, visible=read_filter(model, scope)))

        def children(model, fk: str, order_by=("id",)):
            # A nested list, like every list, leaves archived records out (a to-one relation still finds them).
            return DataLoader(partial(batch.load_children, model, fk, order_by=order_by,
                                      visible=read_filter(model, scope) & archived_filter(model)))

        self.user = by_id(m.User)
        self.account = by_id(m.Account)
        self.contact = by_id(m.Contact)
        self.product = by_id(m.Product)
        self.pipeline = by_id(m.Pipeline)
        self.stage = by_id(m.PipelineStage)
        self.opportunity = by_id(m.Opportunity)
        self.competitor = by_id(m.Competitor)
        self.opportunity_products = children(m.OpportunityProduct, "opportunity_id")
        self.opportunity_activities = children(m.OpportunityActivity, "opportunity_id", ("-created_at", "-id"))
        self.opportunity_documents = children(m.OpportunityDocument, "opportunity_id")
        self.stage_history = children(m.StageTransition, "opportunity_id", ("at", "id"))
        self.opportunity_competitors = DataLoader(
            partial(batch.load_m2m, "opportunity_competitors", "opportunities_id", "competitor_id", m.Competitor,
                    visible=read_filter(m.Competitor, scope))
        )
        self.competitor_battlecards = children(m.BattleCard, "competitor_id")
        self.account_locations = children(m.Location, "account_id")
        self.account_team = children(m.AccountTeamMember, "account_id")
        self.account_contracts = children(m.Contract, "account_id")
        self.account_contacts = children(m.Contact, "account_id")
        self.account_subsidiaries = children(m.Account, "parent_id")
        self.account_opportunities = children(m.Opportunity, "account_id", ("-created_at", "-id"))
        self.pipeline_stages = children(m.PipelineStage, "pipeline_id", ("order",))
        self.interaction_participants = children(m.InteractionParticipant, "interaction_id")
        self.interaction = by_id(m.CustomerInteraction)

        def child_pages(model, fk: str, sort_field: str):
            return ChildPages(model, fk, sort_field, descending=True,
                              visible=read_filter(model, scope) & archived_filter(model))

        self._history: dict[tuple[str, tuple[str, ...] | None], ChildPages] = {}
        self.opportunity_tasks = child_pages(m.Task, "opportunity_id", "id")
        self.opportunity_interactions = child_pages(m.CustomerInteraction, "opportunity_id", "occurred_at")
        self.account_interactions = child_pages(m.CustomerInteraction, "account_id", "occurred_at")

    def history(self, record_type: str, fields: tuple[str, ...] | None) -> ChildPages:
        """A record type's field history (optionally only some fields), newest first: one batch per
        record type and field selection a request asks for."""
        key = (record_type, fields)
        if key not in self._history:
            visible = read_filter(m.FieldHistoryEntry, self.scope) & (Q(field__in=list(fields)) if fields else Q())
            self._history[key] = ChildPages(m.FieldHistoryEntry, f"{record_type}_id", "id", descending=True, visible=visible)
        return self._history[key]
