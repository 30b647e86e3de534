"""Per-request DataLoaders: every relation is fetched in one batch per request."""

from __future__ import annotations

from functools import partial

from strawberry.dataloader import DataLoader

from app import models as m
from app.queries import loaders as batch
from app.queries.visibility import Scope, opportunity_filter


class Loaders:
    def __init__(self, scope: Scope | None):
        self.scope = scope
        self.user = DataLoader(partial(batch.load_by_ids, m.User))
        self.account = DataLoader(partial(batch.load_by_ids, m.Account))
        self.contact = DataLoader(partial(batch.load_by_ids, m.Contact))
        self.product = DataLoader(partial(batch.load_by_ids, m.Product))
        self.pipeline = DataLoader(partial(batch.load_by_ids, m.Pipeline))
        self.stage = DataLoader(partial(batch.load_by_ids, m.PipelineStage))
        self.opportunity_products = DataLoader(partial(batch.load_children, m.OpportunityProduct, "opportunity_id"))
        self.opportunity_activities = DataLoader(
            partial(batch.load_children, m.OpportunityActivity, "opportunity_id", order_by=("-created_at", "-id"))
        )
        self.opportunity_documents = DataLoader(partial(batch.load_children, m.OpportunityDocument, "opportunity_id"))
        self.stage_history = DataLoader(
            partial(batch.load_children, m.StageTransition, "opportunity_id", order_by=("at", "id"))
        )
        self.opportunity_competitors = DataLoader(
            partial(batch.load_m2m, "opportunity_competitors", "opportunities_id", "competitor_id", m.Competitor)
        )
        self.competitor = DataLoader(partial(batch.load_by_ids, m.Competitor))
        self.competitor_battlecards = DataLoader(partial(batch.load_children, m.BattleCard, "competitor_id"))
        self.account_locations = DataLoader(partial(batch.load_children, m.Location, "account_id"))
        self.account_team = DataLoader(partial(batch.load_children, m.AccountTeamMember, "account_id"))
        self.account_contracts = DataLoader(partial(batch.load_children, m.Contract, "account_id"))
        self.account_contacts = DataLoader(partial(batch.load_children, m.Contact, "account_id"))
        self.account_subsidiaries = DataLoader(partial(batch.load_children, m.Account, "parent_id"))
        self.account_opportunities = DataLoader(
            partial(
                batch.load_children, m.Opportunity, "account_id", order_by=("-created_at", "-id"),
                visible=opportunity_filter(scope) if scope else None,
            )
        )
        self.opportunity = DataLoader(
            partial(batch.load_by_ids, m.Opportunity, visible=opportunity_filter(scope) if scope else None)
        )
        self.pipeline_stages = DataLoader(partial(batch.load_children, m.PipelineStage, "pipeline_id", order_by=("order",)))
