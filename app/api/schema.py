"""The GraphQL schema with its abuse limits and error masking."""

from __future__ import annotations

import logging
from functools import partial
from typing import Callable

import strawberry
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError, OperationDefinitionNode
from starlette.responses import Response
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    SchemaExtension,
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
from app.api.cost import QueryCost
from app.api.logs import is_client_error, one_line
from app.api.outages import is_outage, unavailable_error
from app.api.changelog import ChangelogQuery
from app.api.competition import CompetitionMutation, CompetitionQuery
from app.api.interactions import InteractionMutation, InteractionQuery
from app.api.mutations import CoreMutation
from app.api.personal_data import PersonalDataMutation, PersonalDataQuery
from app.api.pipeline import PipelineMutation, PipelineQuery
from app.api.queries import CoreQuery
from app.api.risk import RiskQuery
from app.api.search import SearchQuery
from app.api.realtime import RealtimeSubscription
from app.api.users import OneLoginPerRequest, SessionMutation, SessionQuery
from app.api.webhooks import WebhookMutation, WebhookQuery
from app.api.work import WorkMutation, WorkQuery
from app.settings import get_settings

log = logging.getLogger(__name__)


# Each feature module contributes its own root types; they are merged into one schema here.
QUERY_ROOTS: tuple[type, ...] = (
    CoreQuery, PipelineQuery, WorkQuery, WebhookQuery, HealthQuery, InteractionQuery, CompetitionQuery, AnalyticsQuery,
    SessionQuery,
    ChangelogQuery,
    RiskQuery,
    SearchQuery,
    PersonalDataQuery,
)
MUTATION_ROOTS: tuple[type, ...] = (
    CoreMutation, PipelineMutation, WorkMutation, WebhookMutation, InteractionMutation, CompetitionMutation,
    SessionMutation,
    PersonalDataMutation,
)

SUBSCRIPTION_ROOTS: tuple[type, ...] = (RealtimeSubscription,)

Query = merge_types("Query", QUERY_ROOTS)
Mutation = merge_types("Mutation", MUTATION_ROOTS)
Subscription = merge_types("Subscription", SUBSCRIPTION_ROOTS)


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions; keep the errors we raise on purpose and validation errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class CRMSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        """One line for a client's own mistake or an outage; a traceback only for our own bugs."""
        for error in errors:
            if is_client_error(error):
                log.warning("%s", one_line(error))
            elif is_outage(error.original_error):
                log.warning("service unavailable: %s: %s", type(error.original_error).__name__, error.original_error)
            else:
                log.error("unexpected error: %s", error.message, exc_info=error.original_error)


class ErrorMasking(MaskErrors):
    """Unexpected exceptions become "Unexpected error."; a lost database or Redis connection becomes
    SERVICE_UNAVAILABLE with HTTP 503 (app/api/outages.py)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.unavailable = False

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if is_outage(error.original_error):
            self.unavailable = True
            return unavailable_error(error)
        return super().anonymise_error(error)

    def on_operation(self):
        self.unavailable = False
        yield from super().on_operation()
        response = getattr(self.execution_context.context, "response", None)
        if self.unavailable and isinstance(response, Response):
            response.status_code = 503


def _asks_introspection(document, fragments: dict, selection_set, seen: frozenset = frozenset()) -> bool:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            if selection.name.value in ("__schema", "__type"):
                return True
            if _asks_introspection(document, fragments, selection.selection_set, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen and _asks_introspection(
                    document, fragments, fragments[name].selection_set, seen | {name}):
                return True
        elif _asks_introspection(document, fragments, selection.selection_set, seen):
            return True
    return False


class IntrospectionGate(SchemaExtension):
    """`__schema` and `__type` for authenticated callers only, unless anonymous introspection is allowed
    (setting `anonymous_introspection`; by default allowed except in production). `__typename` stays open."""

    def on_execute(self):
        ctx = self.execution_context
        if getattr(ctx.context, "user", None) is None and not get_settings().allows_anonymous_introspection:
            document = ctx.graphql_document
            assert document is not None  # parsed before execution
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            if any(_asks_introspection(document, fragments, d.selection_set) for d in document.definitions
                   if isinstance(d, OperationDefinitionNode)):
                raise GraphQLError("introspection requires authentication: send Authorization: Bearer <token>",
                                   extensions={"code": "UNAUTHENTICATED"})
        yield


def _shared(extension: SchemaExtension) -> Callable[[], SchemaExtension]:
    """This one instance for every request, as strawberry does with an instance given directly (deprecated
    there): the parser and validation caches must outlive a request."""
    return lambda: extension


def build_schema(*, development: bool | None = None) -> strawberry.Schema:
    settings = get_settings()
    development = settings.is_development if development is None else development
    return CRMSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=not development),
        extensions=[
            _shared(QueryDepthLimiter(max_depth=settings.max_query_depth)),
            _shared(MaxAliasesLimiter(max_alias_count=settings.max_aliases)),
            _shared(MaxTokensLimiter(max_token_count=settings.max_tokens)),
            _shared(AddValidationRules([OneLoginPerRequest])),
            _shared(ParserCache(maxsize=256)),
            _shared(ValidationCache(maxsize=256)),
            IntrospectionGate,
            QueryCost,
            partial(ErrorMasking, should_mask_error=_should_mask),  # one per request: it keeps per-request state
        ],
    )


# The published contract: `crm export-schema` prints this schema's SDL.
schema = build_schema(development=False)
