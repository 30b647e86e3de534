"""The GraphQL schema with its abuse limits and error masking."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from strawberry.tools import merge_types

from app.api.accounts_health import HealthQuery
from app.api.analytics import AnalyticsQuery
from app.api.changelog import ChangelogQuery
from app.api.competition import CompetitionMutation, CompetitionQuery
from app.api.interactions import InteractionMutation, InteractionQuery
from app.api.mutations import CoreMutation
from app.api.pipeline import PipelineMutation, PipelineQuery
from app.api.queries import CoreQuery
from app.api.realtime import RealtimeSubscription
from app.api.webhooks import WebhookMutation, WebhookQuery
from app.api.work import WorkMutation, WorkQuery
from app.settings import get_settings


# Each feature module contributes its own root types; they are merged into one schema here.
QUERY_ROOTS: tuple[type, ...] = (
    CoreQuery, PipelineQuery, WorkQuery, WebhookQuery, HealthQuery, InteractionQuery, CompetitionQuery, AnalyticsQuery,
    ChangelogQuery,
)
MUTATION_ROOTS: tuple[type, ...] = (
    CoreMutation, PipelineMutation, WorkMutation, WebhookMutation, InteractionMutation, CompetitionMutation,
)

SUBSCRIPTION_ROOTS: tuple[type, ...] = (RealtimeSubscription,)

Query = merge_types("Query", QUERY_ROOTS)
Mutation = merge_types("Mutation", MUTATION_ROOTS)
Subscription = merge_types("Subscription", SUBSCRIPTION_ROOTS)


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions; keep the errors we raise on purpose and validation errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema(*, development: bool | None = None) -> strawberry.Schema:
    settings = get_settings()
    development = settings.is_development if development is None else development
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=not development),
        extensions=[
            QueryDepthLimiter(max_depth=settings.max_query_depth),
            MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            MaxTokensLimiter(max_token_count=settings.max_tokens),
            ParserCache(maxsize=256),
            ValidationCache(maxsize=256),
            MaskErrors(should_mask_error=_should_mask),
        ],
    )


# The published contract: `crm export-schema` prints this schema's SDL.
schema = build_schema(development=False)
