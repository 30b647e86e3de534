"""A compiled read path for the hot queries (opportunity lists and single opportunities).

graphql-core resolves field by field (≈10 µs a field): for a page of 100 opportunities with their
account, user, products and activities that is most of the request. Here a query document is
compiled ONCE into a plan of plain column selections; executing the plan runs one query per relation
(the same batches the DataLoaders make) and builds the response dicts in straight-line code.

Documents are taken as clients send them: `__typename` anywhere, named and inline fragments (spread
where their type condition matches), aliases, variables, `@include`/`@skip` with literal or variable
conditions (a document gets one plan per combination of its condition variables). Fields are
collected as GraphQL execution collects them, so fields of one response key merge and the response
keys keep the document's order. Everything else falls back to standard execution, which stays the
general path: other root fields, fields listed in STANDARD_ONLY, mutations, documents standard
execution refuses (it validates them with the same rules, app/api/schema.py), invalid variables or
arguments, missing or bad credentials, a refused cost, and any unexpected failure here (logged with
its traceback; the client gets what standard execution gives, masking included).

Authentication (app.services.auth), the caller's scope and every visibility decision
(app.queries.visibility) are the standard path's own functions. tests/test_fastpath.py and
tests/test_fastpath_documents.py run documents both ways and compare them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter, OrderedDict, defaultdict
from functools import lru_cache, partial
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from contextlib import asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence, cast

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    parse,
    specified_rules,
)
from graphql.error import GraphQLError
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.schema.schema import validate_document
from strawberry.types.arguments import convert_arguments
from tortoise import connections
from tortoise.models import Model
from tortoise.backends.asyncpg.client import TransactionWrapper

from app import models as m
from app.api.compression import GzipStart
from app.api.cost import admit_compiled, extensions_tail, operation_cost, page_variables, refund_compiled, with_extensions
from app.api.inputs import OpportunityOrder
from app.api.outages import is_outage
from app.api.queries import filter_reads_clock, opportunity_query, opportunity_query_shape
from app.domain import opportunities as deal_rules
from app.domain import enums as e
from app.domain.errors import NotAuthenticated, ValidationFailed
from app.domain.global_ids import global_id
from app.domain.pipeline import is_stale as stale_rule
from app.queries.pagination import Page, count_rows, paginate
from app.queries.read_cache import ReadCache
from app.queries.archived import ARCHIVABLE, archived_filter
from app.queries.visibility import (
    Scope,
    opportunity_filter,
    checks,
    opportunity_visible,
    readable_through,
    scope_for,
    visible_ids,
)
from app.services import auth

if TYPE_CHECKING:
    from app.domain.pipeline import StageSpec

log = logging.getLogger(__name__)

Serializer = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _iso(value: Any) -> Any:
    """A date or datetime as ISO 8601. The generated renderer leaves these values to orjson, which writes
    exactly `isoformat()` (RFC 3339: same offset, microseconds only when non-zero), in C."""
    return None if value is None else value.isoformat()


def _json(value: Any) -> Any:
    # asyncpg hands json/jsonb columns over as text; Tortoise's values() (SQLite) has decoded them already.
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _enum(enum_cls: type[Enum]) -> Serializer:
    # str enums hash like their values: one lookup serves raw column values and members alike.
    names: dict[Any, Any] = {member.value: member.name for member in enum_cls}
    names[None] = None
    return names.__getitem__


@dataclass(frozen=True)
class One:
    """A to-one relation through a foreign-key column; `column` projects one column of the target.
    Whether the target needs a visibility check of its own is app.queries.visibility's decision
    (`readable_through`); every target it does not vouch for is checked (`visible_ids`)."""

    type_name: str
    fk: str
    column: str | None = None


@dataclass(frozen=True)
class Many:
    """Children through their foreign key, checked like One's targets."""

    type_name: str
    fk: str
    order_by: tuple[str, ...] = ("id",)


@dataclass(frozen=True)
class Embedded:
    """An object kept in a JSON column of the row (Account.headquarters → Address), rendered from the
    decoded value: null when the value is empty, each field read with .get (absent: null)."""

    type_name: str
    column: str


# The types stored inside JSON columns: GraphQL field -> key in the JSON object (as app/api/types.py reads them).
EMBEDDED_TYPES: dict[str, dict[str, str]] = {
    "Address": {"street": "street", "city": "city", "region": "region", "postalCode": "postalCode",
                "country": "country"},
}


@dataclass(frozen=True)
class Computed:
    columns: tuple[str, ...]
    fn: Callable[[dict], Any]
    reads_clock: bool = False


@dataclass(frozen=True)
class Derived:
    """A value computed from other rows when the response is rendered (so a cached read still gets
    values that depend on the current time right): `needs` are the relations it reads, each with the
    columns it reads of them; they are loaded with the document's own relations (one query for an
    opportunity's activities whether the document shows them or not), and value(row, *needed) gets
    the related row (One) or rows (Many)."""

    columns: tuple[str, ...]
    needs: tuple[tuple[One | Many, frozenset[str]], ...]
    value: Callable[..., Any]


@dataclass(frozen=True)
class TypeSpec:
    model: type[Model]
    scalars: dict[str, tuple[str, Serializer]]
    relations: dict[str, One | Many] = field(default_factory=dict)
    computed: dict[str, Computed] = field(default_factory=dict)
    derived: dict[str, Derived] = field(default_factory=dict)
    embedded: dict[str, Embedded] = field(default_factory=dict)

    def field_names(self) -> set[str]:
        return {*self.scalars, *self.relations, *self.computed, *self.derived, *self.embedded}


def _global_id(type_name: str) -> Serializer:
    """A row's id as Node.id renders it (app/api/types.py)."""
    return partial(global_id, type_name)


def _days_in_stage(row: dict) -> int:
    return (datetime.now(timezone.utc) - row["stage_entered_at"]).days


@dataclass(frozen=True)
class StageRot:
    """The two things the staleness rule reads of a stage."""

    kind: e.StageKind
    expected_duration_days: int

    @property
    def is_closed(self) -> bool:
        return self.kind != e.StageKind.OPEN


def _staleness(row: Any, stage: Any, activities: Any) -> bool:
    """Opportunity.is_stale (app/api/types.py), from the rows: the same rule and the same inputs."""
    now = datetime.now(timezone.utc)
    meaningful = [a for a in activities if a["type"] != e.ActivityType.SYSTEM]
    last_done = max((a["completed_at"] for a in meaningful if a["completed_at"]), default=None)
    scheduled = any(a["scheduled_at"] and a["scheduled_at"] > now and a["completed_at"] is None for a in meaningful)
    rot = StageRot(e.StageKind(stage["kind"]), stage["expected_duration_days"])
    # The rule reads only is_closed and expected_duration_days of its stage.
    return stale_rule(cast("StageSpec", rot), row["stage_entered_at"], last_done, scheduled, now)


_LINE_COLUMNS = ("quantity", "unit_price", "discount", "contract_weeks", "total_price")


def _weekly_quantity(row: dict) -> str | None:
    """OpportunityProduct.weeklyQuantity (app/api/types.py)."""
    return _text(row["quantity"]) if row["contract_weeks"] is not None else None


def _line_annualized_value(row: dict) -> str:
    """OpportunityProduct.annualizedValue: the same rule (a line's unit plays no part in it)."""
    line = deal_rules.Line(unit="", **{column: row[column] for column in _LINE_COLUMNS})
    return _text(line.annualized_value)


# What each GraphQL type serves from plain columns, exactly as app/api/types.py resolves it. Every table
# read here needs the read cache's change notification (migrations 0005 and 0010).
TYPES: dict[str, TypeSpec] = {
    "Opportunity": TypeSpec(
        m.Opportunity,
        scalars={
            "id": ("id", _global_id("Opportunity")), "name": ("name", _same), "probability": ("probability", _same),
            "probabilityOverridden": ("probability_overridden", _same), "value": ("value", _text),
            "valueSource": ("value_source", _enum(e.ValueSource)),
            "budget": ("budget", _text), "expectedCloseDate": ("expected_close_date", _iso),
            "actualCloseDate": ("actual_close_date", _iso), "source": ("source", _enum(e.OpportunitySource)),
            "lostReason": ("lost_reason", _same), "lostReasonKey": ("lost_reason_key", _same),
            "nextStep": ("next_step", _same),
            "description": ("description", _same), "forecastCategory": ("forecast_category", _enum(e.ForecastCategory)),
            "version": ("version", _same), "stageEnteredAt": ("stage_entered_at", _iso),
            "lastActivityAt": ("last_activity_at", _iso), "archivedAt": ("archived_at", _iso),
            "createdAt": ("created_at", _iso), "updatedAt": ("updated_at", _iso),
        },
        relations={
            "stage": One("PipelineStage", "stage_id", column="key"),
            "pipelineStage": One("PipelineStage", "stage_id"),
            "account": One("Account", "account_id"),
            "contact": One("Contact", "contact_id"),
            "assignedTo": One("User", "assigned_to_id"),
            "products": Many("OpportunityProduct", "opportunity_id"),
            "activities": Many("OpportunityActivity", "opportunity_id", ("-created_at", "-id")),
            "pipeline": One("Pipeline", "pipeline_id"),
            "documents": Many("OpportunityDocument", "opportunity_id"),
            "stageHistory": Many("StageTransition", "opportunity_id", ("at", "id")),
        },
        computed={"daysInStage": Computed(("stage_entered_at",), _days_in_stage, reads_clock=True)},
        derived={"isStale": Derived(
            ("stage_id", "stage_entered_at"),
            ((One("PipelineStage", "stage_id"), frozenset({"kind", "expected_duration_days"})),
             (Many("OpportunityActivity", "opportunity_id", ("-created_at", "-id")),
              frozenset({"type", "completed_at", "scheduled_at"}))),
            _staleness)},
    ),
    "Pipeline": TypeSpec(
        m.Pipeline, scalars={"id": ("id", _global_id("Pipeline")), "name": ("name", _same), "isDefault": ("is_default", _same)},
        relations={"stages": Many("PipelineStage", "pipeline_id", ("order",))},
    ),
    "OpportunityDocument": TypeSpec(
        m.OpportunityDocument,
        scalars={
            "id": ("id", _global_id("OpportunityDocument")), "name": ("name", _same), "type": ("type", _enum(e.DocumentType)),
            "url": ("url", _same), "contentType": ("content_type", _same), "createdAt": ("created_at", _iso),
        },
    ),
    "StageTransition": TypeSpec(
        m.StageTransition,
        scalars={
            "id": ("id", _global_id("StageTransition")), "at": ("at", _iso), "source": ("source", _enum(e.TransitionSource)),
            "amountBefore": ("amount_before", _text), "amountAfter": ("amount_after", _text),
            "probabilityBefore": ("probability_before", _same), "probabilityAfter": ("probability_after", _same),
        },
        relations={"fromStage": One("PipelineStage", "from_stage_id"), "toStage": One("PipelineStage", "to_stage_id"),
                   "by": One("User", "by_id")},
    ),
    "Account": TypeSpec(
        m.Account,
        scalars={
            "id": ("id", _global_id("Account")), "name": ("name", _same), "industry": ("industry", _enum(e.Industry)),
            "size": ("size", _enum(e.AccountSize)), "annualRevenue": ("annual_revenue", _text),
            "status": ("status", _enum(e.AccountStatus)), "tier": ("tier", _enum(e.AccountTier)),
            "healthScore": ("health_score", _same), "lastActivityDate": ("last_activity_date", _iso),
            "renewalDate": ("renewal_date", _iso), "createdAt": ("created_at", _iso), "updatedAt": ("updated_at", _iso),
            "archivedAt": ("archived_at", _iso),
        },
        relations={
            "assignedTo": One("User", "assigned_to_id"), "parent": One("Account", "parent_id"),
            "subsidiaries": Many("Account", "parent_id"), "contacts": Many("Contact", "account_id"),
            "teamMembers": Many("AccountTeamMember", "account_id"),
            "opportunities": Many("Opportunity", "account_id", ("-created_at", "-id")),
        },
        embedded={"headquarters": Embedded("Address", "headquarters")},
    ),
    "AccountTeamMember": TypeSpec(
        m.AccountTeamMember,
        scalars={
            "id": ("id", _global_id("AccountTeamMember")), "role": ("role", _enum(e.TeamRole)), "isPrimary": ("is_primary", _same),
            "startDate": ("start_date", _iso), "endDate": ("end_date", _iso),
        },
        relations={"user": One("User", "user_id")},
    ),
    "User": TypeSpec(
        m.User,
        scalars={
            "id": ("id", _global_id("User")), "email": ("email", _same), "name": ("name", _same), "role": ("role", _enum(e.Role)),
            "timezone": ("timezone", _same), "isActive": ("is_active", _same), "createdAt": ("created_at", _iso),
        },
        relations={"manager": One("User", "manager_id")},
    ),
    "Contact": TypeSpec(
        m.Contact,
        scalars={
            "id": ("id", _global_id("Contact")), "firstName": ("first_name", _same), "lastName": ("last_name", _same),
            "email": ("email", _same), "phone": ("phone", _same), "title": ("title", _same),
            "role": ("role", _enum(e.ContactRole)), "isPrimary": ("is_primary", _same),
            "erasedAt": ("erased_at", _iso), "archivedAt": ("archived_at", _iso),
        },
        relations={"account": One("Account", "account_id")},
        computed={"name": Computed(("first_name", "last_name"), lambda r: f"{r['first_name']} {r['last_name']}")},
    ),
    "OpportunityProduct": TypeSpec(
        m.OpportunityProduct,
        scalars={
            "id": ("id", _global_id("OpportunityProduct")), "quantity": ("quantity", _text), "unitPrice": ("unit_price", _text),
            "discount": ("discount", _text), "totalPrice": ("total_price", _text),
            "contractWeeks": ("contract_weeks", _same),
        },
        relations={"product": One("Product", "product_id"), "name": One("Product", "product_id", column="name")},
        computed={"weeklyQuantity": Computed(("quantity", "contract_weeks"), _weekly_quantity),
                  "annualizedValue": Computed(_LINE_COLUMNS, _line_annualized_value)},
    ),
    "Product": TypeSpec(
        m.Product,
        scalars={
            "id": ("id", _global_id("Product")), "sku": ("sku", _same), "name": ("name", _same),
            "category": ("category", _enum(e.ProductCategory)), "unit": ("unit", _enum(e.ProductUnit)),
            "unitPrice": ("unit_price", _text), "description": ("description", _same), "isActive": ("is_active", _same),
        },
    ),
    "OpportunityActivity": TypeSpec(
        m.OpportunityActivity,
        scalars={
            "id": ("id", _global_id("OpportunityActivity")), "type": ("type", _enum(e.ActivityType)), "subject": ("subject", _same),
            "description": ("description", _same), "outcome": ("outcome", _enum(e.Outcome)),
            "nextSteps": ("next_steps", _same), "scheduledAt": ("scheduled_at", _iso),
            "completedAt": ("completed_at", _iso), "createdAt": ("created_at", _iso), "archivedAt": ("archived_at", _iso),
        },
        relations={"createdBy": One("User", "created_by_id")},
    ),
    "PipelineStage": TypeSpec(
        m.PipelineStage,
        scalars={
            "id": ("id", _global_id("PipelineStage")), "key": ("key", _same), "name": ("name", _same), "order": ("order", _same),
            "kind": ("kind", _enum(e.StageKind)), "probability": ("probability", _same),
            "expectedDurationDays": ("expected_duration_days", _same),
            "forecastCategory": ("forecast_category", _enum(e.ForecastCategory)),
            "requirements": ("requirements", _json), "automations": ("automations", _json),
        },
    ),
}

# Fields of the types above that only standard execution serves, and why. A field the schema gains
# must be added to TYPES or here (tests/test_fastpath_documents.py fails until it is).
_NO_CHANGE_FEED = ("reads {tables}, which send no change notification to the read cache: compiling it needs "
                   "their trigger (as in migration 0010) first")
_PAGED_CHILDREN = ("a connection paged per parent (first/after, a page of each parent in one ranked query): "
                   "the compiled path plans root connections only")
_VOLUME = ("rolled up from the product lines and their products' units (an account's: of its won deals) by "
           "app.domain.opportunities, through the loaders")
STANDARD_ONLY: dict[str, dict[str, str]] = {
    "Opportunity": {"competitors": _NO_CHANGE_FEED.format(tables="competitors, opportunity_competitors, battlecards"),
                    "tasks": _PAGED_CHILDREN, "interactions": _PAGED_CHILDREN, "history": _PAGED_CHILDREN,
                    "weeklyVolume": _VOLUME, "annualizedValue": _VOLUME},
    "Contact": {"history": _PAGED_CHILDREN},
    "OpportunityActivity": {"interaction": _NO_CHANGE_FEED.format(tables="customer_interactions")},
    "Account": {"locations": _NO_CHANGE_FEED.format(tables="locations"),
                "contracts": _NO_CHANGE_FEED.format(tables="contracts"),
                "interactions": _PAGED_CHILDREN, "history": _PAGED_CHILDREN, "weeklyVolume": _VOLUME,
                "annualizedValue": _VOLUME},
}

# The connection the list root returns: its own fields, its edges' and its pageInfo's.
CONNECTION_FIELDS = {"totalCount", "pageInfo", "edges", "nodes"}
EDGE_FIELDS = {"cursor", "node"}
PAGE_INFO_FIELDS = {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}
# Root fields the compiled path serves: name -> kind.
ROOTS = {"opportunities": "list", "opportunity": "node"}


class Unsupported(Exception):
    """The document needs standard execution."""


# Plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A relation in a plan: what it points to, the plan of the target, and whether the sharing model
    vouches for the target once the parent is readable (app.queries.visibility.readable_through)."""

    relation: One | Many
    target: "ObjectPlan"
    implied: bool


@dataclass
class ObjectPlan:
    type_name: str
    columns: set[str]
    # (response key, kind, payload): kind is "scalar" | "computed" | "derived" | "one" | "many" | "embedded"
    # | "typename" | "get" (a key of an embedded JSON object)
    fields: list[tuple[str, str, Any]]


@dataclass
class ConnectionPlan:
    node: ObjectPlan
    # (response key, what, parts): what is "totalCount" | "pageInfo" | "edges" | "nodes" | "typename";
    # parts of pageInfo and edges: (response key, field name), "__typename" included.
    fields: list[tuple[str, str, Any]]
    page_info_type: str = "PageInfo"
    edge_type: str = "OpportunityEdge"


@lru_cache(maxsize=8)
def _standard_checks(schema: GraphQLSchema) -> tuple[tuple[Any, ...], int | None]:
    """The validation rules and token limit standard execution applies to a document: the
    specification's rules plus those the schema's extensions add (app/api/schema.py)."""
    rules: list[Any] = list(specified_rules)
    max_tokens = None
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    # The extensions as a request gets them (app/api/schema.py shares the limiters' instances).
    for extension in strawberry_schema.get_extensions() if strawberry_schema is not None else ():
        if isinstance(extension, AddValidationRules):
            rules.extend(extension.validation_rules)
        elif isinstance(extension, MaxTokensLimiter):
            max_tokens = extension.max_token_count
    return tuple(rules), max_tokens


def _condition_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables @skip/@include conditions read: each combination of their values gets a plan."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        for directive in getattr(node, "directives", None) or ():
            if directive.name.value in (GraphQLSkipDirective.name, GraphQLIncludeDirective.name):
                names.update(a.value.name.value for a in directive.arguments or () if isinstance(a.value, VariableNode))
        selection_set = getattr(node, "selection_set", None)
        for child in selection_set.selections if selection_set else ():
            visit(child)

    for definition in document.definitions:
        visit(definition)
    return tuple(sorted(names))


@dataclass
class PreparedDocument:
    """A parsed and validated query document: its plans, one per combination of condition variables."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    conditions: tuple[str, ...]
    variants: OrderedDict[tuple, "QueryPlan | str"] = field(default_factory=OrderedDict)
    # The price (app/api/cost.py) per value of the variables it reads: computed once, not per request.
    priced_by: tuple[str, ...] = ()
    prices: dict[tuple, int] = field(default_factory=dict)

    def price(self, schema: GraphQLSchema, operation_name: str | None, variables: dict | None) -> int:
        given = variables or {}
        try:
            key = tuple(given.get(name) for name in self.priced_by)
            price = self.prices.get(key)
        except TypeError:  # an unhashable value: priced every time
            return operation_cost(schema, self.document, operation_name, variables)
        if price is None:
            if len(self.prices) >= 64:
                self.prices.clear()
            price = self.prices[key] = operation_cost(schema, self.document, operation_name, variables)
        return price


def prepare_document(schema: GraphQLSchema, query: str, operation_name: str | None) -> PreparedDocument:
    rules, max_tokens = _standard_checks(schema)
    # The abuse limits of standard execution hold here too: past them, standard execution refuses.
    document = parse(query, max_tokens=max_tokens)
    try:
        invalid = bool(validate_document(schema, document, rules))
    except Exception:  # a rule that breaks on a broken document (the depth limiter on an unknown fragment)
        invalid = True
    if invalid:
        raise Unsupported("invalid document: standard execution reports the errors")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name is not None and op.name.value == operation_name]
    if len(operations) != 1:
        raise Unsupported("no single operation to run: standard execution reports it")
    operation = operations[0]
    if operation.operation != OperationType.QUERY or operation.directives:
        raise Unsupported("not a query")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return PreparedDocument(document, operation, fragments, _condition_variables(document),
                            priced_by=tuple(sorted(page_variables(document))))


class _Planner:
    """Collects fields the way GraphQL execution does (CollectFields in the specification), with this
    request's variable values, and turns them into plans."""

    MAX_DEPTH = 24  # the depth limit of validation comes first; this only bounds the recursion

    def __init__(self, schema: GraphQLSchema, prepared: PreparedDocument, variables: Any) -> None:
        self.schema = schema
        self.fragments = prepared.fragments
        self.variables = variables

    def _included(self, node: Any) -> bool:
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip["if"]:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and not include["if"])

    def _matches(self, condition: Any, runtime_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is runtime_type:
            return True
        return bool(is_abstract_type(conditional) and self.schema.is_sub_type(conditional, runtime_type))

    def collect(self, type_name: str, selection_sets: Iterable[SelectionSetNode | None]) -> dict[str, list[FieldNode]]:
        """Response key -> the field nodes that make it, in the order execution would answer them."""
        runtime_type = self.schema.get_type(type_name)
        assert isinstance(runtime_type, GraphQLObjectType), type_name
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    grouped.setdefault((selection.alias or selection.name).value, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self._matches(selection.type_condition, runtime_type):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None or not self._matches(fragment.type_condition, runtime_type):
                        continue
                    visited.add(name)
                    visit(fragment.selection_set)
                else:
                    raise Unsupported(f"selection {type(selection).__name__}")

        for selection_set in selection_sets:
            if selection_set is not None:
                visit(selection_set)
        return grouped

    def subfields(self, type_name: str, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        return self.collect(type_name, [node.selection_set for node in nodes])

    def object(self, type_name: str, nodes: list[FieldNode], depth: int = 0) -> ObjectPlan:
        if depth > self.MAX_DEPTH:
            raise Unsupported("too deep")
        spec = TYPES[type_name]
        plan = ObjectPlan(type_name, {"id"}, [])
        for key, group in self.subfields(type_name, nodes).items():
            name = group[0].name.value
            if name == "__typename":
                plan.fields.append((key, "typename", type_name))
            elif group[0].arguments:
                raise Unsupported(f"{type_name}.{name} with arguments")
            elif name in spec.scalars:
                column, serialize = spec.scalars[name]
                plan.columns.add(column)
                plan.fields.append((key, "scalar", (column, serialize)))
            elif name in spec.computed:
                plan.columns.update(spec.computed[name].columns)
                plan.fields.append((key, "computed", spec.computed[name]))
            elif name in spec.derived:
                derived = spec.derived[name]
                plan.columns.update(derived.columns)
                links = []
                for relation, columns in derived.needs:
                    plan.columns.add(relation.fk if isinstance(relation, One) else "id")
                    target = ObjectPlan(relation.type_name, {"id", *columns}, [])
                    links.append(Link(relation, target, readable_through(spec.model, TYPES[relation.type_name].model,
                                                                        relation.fk)))
                plan.fields.append((key, "derived", (derived, tuple(links))))
            elif name in spec.embedded:
                embedded = spec.embedded[name]
                plan.columns.add(embedded.column)
                plan.fields.append((key, "embedded", (embedded, self.embedded(embedded.type_name, group))))
            elif name in spec.relations:
                relation = spec.relations[name]
                if isinstance(relation, One) and relation.column is not None:
                    target = ObjectPlan(relation.type_name, {"id", relation.column}, [])
                else:
                    target = self.object(relation.type_name, group, depth + 1)
                plan.columns.add(relation.fk if isinstance(relation, One) else "id")
                implied = readable_through(spec.model, TYPES[relation.type_name].model, relation.fk)
                plan.fields.append((key, "one" if isinstance(relation, One) else "many", Link(relation, target, implied)))
            else:
                raise Unsupported(f"{type_name}.{name}")
        return plan

    def embedded(self, type_name: str, nodes: list[FieldNode]) -> ObjectPlan:
        keys = EMBEDDED_TYPES[type_name]
        plan = ObjectPlan(type_name, set(), [])
        for key, group in self.subfields(type_name, nodes).items():
            name = group[0].name.value
            if name == "__typename":
                plan.fields.append((key, "typename", type_name))
            elif name in keys:
                plan.fields.append((key, "get", keys[name]))
            else:
                raise Unsupported(f"{type_name}.{name}")
        return plan

    def connection(self, type_name: str, nodes: list[FieldNode]) -> ConnectionPlan:
        connection_type = self.schema.get_type(type_name)
        assert isinstance(connection_type, GraphQLObjectType)
        edge_type = get_named_type(connection_type.fields["edges"].type).name
        page_info_type = get_named_type(connection_type.fields["pageInfo"].type).name
        node_type = get_named_type(connection_type.fields["nodes"].type).name
        node_plan: ObjectPlan | None = None

        def node(group: list[FieldNode]) -> ObjectPlan:
            nonlocal node_plan
            plan = self.object(node_type, group)
            if node_plan is not None and node_plan.fields != plan.fields:
                raise Unsupported("edges and nodes with different selections")
            node_plan = plan
            return plan

        def parts(of_type: str, group: list[FieldNode], allowed: set[str]) -> list[tuple[str, str]]:
            out = []
            for key, sub in self.subfields(of_type, group).items():
                name = sub[0].name.value
                if name not in allowed and name != "__typename":
                    raise Unsupported(f"{of_type}.{name}")
                if name == "node":
                    node(sub)
                out.append((key, name))
            return out

        fields: list[tuple[str, str, Any]] = []
        for key, group in self.subfields(type_name, nodes).items():
            name = group[0].name.value
            if name == "__typename":
                fields.append((key, "typename", type_name))
            elif name == "totalCount":
                fields.append((key, "totalCount", None))
            elif name == "pageInfo":
                fields.append((key, "pageInfo", parts(page_info_type, group, PAGE_INFO_FIELDS)))
            elif name == "nodes":
                node(group)
                fields.append((key, "nodes", None))
            elif name == "edges":
                fields.append((key, "edges", parts(edge_type, group, EDGE_FIELDS)))
            else:
                raise Unsupported(f"{type_name}.{name}")
        return ConnectionPlan(node_plan or ObjectPlan(node_type, {"id"}, []), fields, page_info_type, edge_type)


@dataclass
class QueryPlan:
    document: DocumentNode
    operation: OperationDefinitionNode
    root: FieldNode
    root_key: str
    kind: str  # "list" | "node"
    plan: ObjectPlan | ConnectionPlan
    # The response's top-level keys in order: (key, None) for the root field, (key, type name) for __typename.
    top: list[tuple[str, str | None]] = field(default_factory=list)
    render: Callable[[Any, dict], dict | None] = field(init=False)
    reads_clock: bool = field(init=False)
    # A single row (node) on PostgreSQL: the row and all its relations in one statement.
    tree: "TreeRead | None" = field(init=False, default=None)

    def __post_init__(self) -> None:
        node = self.plan.node if isinstance(self.plan, ConnectionPlan) else self.plan
        self.render = compile_renderer(node)
        self.reads_clock = _reads_clock(node)
        if self.kind == "node":
            self.tree = TreeRead.of(node, sorted(node.columns | {"assigned_to_id"}))
        if not self.top:
            self.top = [(self.root_key, None)]


def plan_query(schema: GraphQLSchema, prepared: PreparedDocument, variables: Any) -> QueryPlan:
    """The plan of a prepared document for these (coerced) variable values."""
    planner = _Planner(schema, prepared, variables)
    query_type = schema.query_type
    assert query_type is not None
    top: list[tuple[str, str | None]] = []
    roots = []
    for key, group in planner.collect(query_type.name, [prepared.operation.selection_set]).items():
        if group[0].name.value == "__typename":
            top.append((key, query_type.name))
        else:
            top.append((key, None))
            roots.append((key, group))
    if len(roots) != 1 or roots[0][1][0].name.value not in ROOTS:
        raise Unsupported("one root field of the compiled path (and __typename) only")
    key, group = roots[0]
    root = group[0]
    return_type = get_named_type(query_type.fields[root.name.value].type).name
    if ROOTS[root.name.value] == "list":
        plan: ObjectPlan | ConnectionPlan = planner.connection(return_type, group)
    else:
        plan = planner.object(return_type, group)
    return QueryPlan(prepared.document, prepared.operation, root, key, ROOTS[root.name.value], plan, top)


def _reads_clock(plan: ObjectPlan) -> bool:
    """Whether a response of this plan depends on the time it is rendered (then only its data is cached)."""
    for _, kind, payload in plan.fields:
        if kind == "derived" or (kind == "computed" and payload.reads_clock):
            return True
        if kind in ("one", "many") and _reads_clock(payload.target):
            return True
    return False


def compile_document(schema: GraphQLSchema, query: str, operation_name: str | None,
                     variables: dict | None = None) -> QueryPlan:
    """The plan for one document and these variables (Unsupported when standard execution must answer)."""
    prepared = prepare_document(schema, query, operation_name)
    coerced = get_variable_values(schema, prepared.operation.variable_definitions or [], variables or {})
    if isinstance(coerced, list):
        if prepared.conditions:
            raise Unsupported("variables")
        coerced = get_variable_values(schema, [], {})  # the plan does not depend on them
    return plan_query(schema, prepared, coerced)


# Execution -----------------------------------------------------------------------------


async def _fetch(model: type[Model], columns: list[str], key: str, ids: list[int], order_by: tuple[str, ...],
                 active_only: bool = False) -> list:
    """Rows of `model` whose `key` is in `ids` (`active_only`: not archived, for a to-many relation, as
    the standard path's lists): straight through asyncpg on PostgreSQL (records, no model objects),
    through Tortoise's values() elsewhere. Both rows are read as row["column"]."""
    active = active_only and model in ARCHIVABLE
    db = connections.get("default")
    if db.capabilities.dialect != "postgres":
        return await model.filter(archived_filter(model, False if active else None), **{f"{key}__in": ids}) \
            .order_by(*order_by).values(*columns)
    sql = _fetch_sql(model._meta.db_table, tuple(columns), key, order_by, active)
    async with db.acquire_connection() as conn:
        return await conn.fetch(sql, ids)


@lru_cache(maxsize=512)
def _fetch_sql(table: str, columns: tuple[str, ...], key: str, order_by: tuple[str, ...], active_only: bool) -> str:
    order = ", ".join(f'"{o[1:]}" DESC' if o.startswith("-") else f'"{o}" ASC' for o in order_by)
    cols = ", ".join(f'"{c}"' for c in columns)
    active = ' AND "archived_at" IS NULL' if active_only else ""
    return f'SELECT {cols} FROM "{table}" WHERE "{key}" = ANY($1::int[]){active} ORDER BY {order}'


async def _load(plan: ObjectPlan, rows: list, lookups: dict[int, dict], scope: Scope,
                done: set[int] | None = None, in_turn: bool = False) -> None:
    """Fetch every relation of these rows into `lookups`, level by level: at each level the to-one
    relations that point to the same table (the deal's owner, the account's owner, who logged each
    activity…) are read in ONE query, so is each to-many relation however often the level asks for it
    (aliases, what isStale reads), and all of a level's queries run concurrently on pooled connections
    (`in_turn`: one after the other, see `_read_all`).
    On PostgreSQL the to-one relations of a to-many's children that lead no further (a product line's
    product) are joined into the children's statement instead (`_joins`; `done`: the links read that
    way). Rows the caller may not read are dropped (a hidden to-one target renders as null, a hidden child is left out), as the
    DataLoaders do."""
    done = set() if done is None else done
    level: list[tuple[ObjectPlan, list]] = [(plan, rows)]
    while level:
        to_one: dict[str, list[tuple[Link, list]]] = defaultdict(list)
        to_many: dict[tuple, list[tuple[Link, list]]] = defaultdict(list)
        for parent, parent_rows in level:
            for link in _links_of(parent):
                if id(link) in done:
                    continue
                relation = link.relation
                if isinstance(relation, One):
                    to_one[relation.type_name].append((link, parent_rows))
                else:
                    to_many[(relation.type_name, relation.fk, relation.order_by, link.implied)].append(
                        (link, parent_rows))
        reads = [_load_one(type_name, wanted, lookups, scope) for type_name, wanted in to_one.items()]
        reads += [_load_many(wanted, lookups, scope, done) for wanted in to_many.values()]
        level = [pair for pairs in await _read_all(reads, in_turn) for pair in pairs]


async def _read_all(reads: Sequence[Coroutine[Any, Any, list]], in_turn: bool) -> list[list]:
    """The results of these reads: concurrently, each on a pooled connection of its own, or `in_turn`,
    one after the other (on one held connection, where they would wait for each other anyway, and with
    no task each)."""
    if not in_turn:
        return await asyncio.gather(*reads)
    try:
        return [await read for read in reads]
    finally:
        for read in reads:  # those a failure left unstarted (closing a finished one does nothing)
            read.close()


@asynccontextmanager
async def _one_connection() -> AsyncIterator[None]:
    """Every statement of the block on one pooled connection (PostgreSQL), Tortoise's own (visibility
    checks) included, so none of them waits for a second connection of the pool. Tortoise's client over
    one connection is the one its transactions use; the block only reads, so it needs no transaction
    (a BEGIN and a COMMIT: two more round trips per page)."""
    client = connections.get("default")
    async with client.acquire_connection() as connection:
        held = TransactionWrapper(client)
        held._connection = connection  # the wrapper takes the client's own, which a pool does not have
        token = connections.set("default", held)
        try:
            yield
        finally:
            connections.reset(token)


@dataclass(frozen=True)
class Join:
    """To-one links of the children a to-many statement reads that read the same relation and lead no
    further: their target is LEFT JOINed into that statement (PostgreSQL) instead of read on its own.
    (Not the page's own relations: joined into a page of a hundred rows they cost PostgreSQL more than
    their batched reads, measured.)"""

    relation: One
    model: type[Model]
    implied: bool
    links: tuple[Link, ...]
    columns: tuple[str, ...]


def _joins(plans: Iterable[ObjectPlan]) -> tuple[Join, ...]:
    grouped: dict[tuple[str, str], list[Link]] = {}
    for plan in plans:
        for link in _links_of(plan):
            if isinstance(link.relation, One) and not _loads_more(link.target):
                grouped.setdefault((link.relation.type_name, link.relation.fk), []).append(link)
    return tuple(Join(cast(One, links[0].relation), TYPES[links[0].relation.type_name].model, links[0].implied,
                      tuple(links), tuple(sorted(set().union(*(link.target.columns for link in links)))))
                 for links in grouped.values())


JoinSpec = tuple[str, str, tuple[str, ...]]  # the joined table, the foreign key that names its row, its columns


def _specs(joins: tuple[Join, ...]) -> tuple[JoinSpec, ...]:
    return tuple((join.model._meta.db_table, join.relation.fk, join.columns) for join in joins)


def _joined_select(table: str, columns: Iterable[str], joins: tuple[JoinSpec, ...]) -> str:
    """`SELECT r.columns…, j0.… FROM table r LEFT JOIN … j0 ON j0.id = r.fk …` (the joined columns are
    aliased, so a record's own columns keep their names)."""
    items = [f'r."{column}"' for column in columns]
    joined = []
    for n, (joined_table, fk, joined_columns) in enumerate(joins):
        items += [f'j{n}."{column}" AS "j{n}.{column}"' for column in joined_columns]
        joined.append(f'LEFT JOIN "{joined_table}" j{n} ON j{n}."id" = r."{fk}"')
    return f'SELECT {", ".join(items)} FROM "{table}" r {" ".join(joined)}'


async def _take_joined(joins: tuple[Join, ...], records: list, width: int, lookups: dict[int, dict], scope: Scope,
                       done: set[int]) -> None:
    """The joined targets of these records (their columns from `width` on) into `lookups`, checked like
    `_load_one` checks what it reads."""
    at = width
    for join in joins:
        size, id_at = len(join.columns), at + join.columns.index("id")
        found: dict[int, dict] = {}
        for record in records:
            pk = record[id_at]
            if pk is not None and pk not in found:
                found[pk] = dict(zip(join.columns, record[at:at + size], strict=True))
        readable = found
        if not join.implied and checks(join.model, scope):
            allowed = await visible_ids(join.model, scope, found)
            if allowed is not None:
                readable = {pk: row for pk, row in found.items() if pk in allowed}
        for link in join.links:
            lookups[id(link.target)] = readable
            done.add(id(link))
        at += size


def _loads_more(plan: ObjectPlan) -> bool:
    return any(kind in ("one", "many", "derived") for _, kind, _ in plan.fields)


async def _load_one(type_name: str, wanted: list[tuple[Link, list]], lookups: dict[int, dict], scope: Scope) -> list:
    ids = {row[link.relation.fk] for link, rows in wanted for row in rows} - {None}
    columns = set().union(*(link.target.columns for link, _ in wanted))
    model = TYPES[type_name].model
    found = {row["id"]: row for row in await _fetch(model, sorted(columns), "id", list(ids), ("id",))} \
        if ids else {}
    readable = found
    if not all(link.implied for link, _ in wanted):
        allowed = await visible_ids(model, scope, found)
        if allowed is not None:
            readable = {i: row for i, row in found.items() if i in allowed}
    deeper = []
    for link, rows in wanted:
        targets = lookups[id(link.target)] = found if link.implied else readable
        if _loads_more(link.target):
            mine = {row[link.relation.fk] for row in rows} - {None}
            deeper.append((link.target, [targets[i] for i in mine if i in targets]))
    return [(target, children) for target, children in deeper if children]


async def _load_many(wanted: list[tuple[Link, list]], lookups: dict[int, dict], scope: Scope,
                     done: set[int]) -> list:
    """One to-many relation (same table, key, order and check) for every link of a level that asks for it;
    on PostgreSQL with the children's leaf to-one relations joined in (`_joins`)."""
    relation = wanted[0][0].relation
    assert isinstance(relation, Many)
    model = TYPES[relation.type_name].model
    ids = list({row["id"] for _, rows in wanted for row in rows})
    columns = sorted(set().union(*(link.target.columns for link, _ in wanted)) | {relation.fk})
    joins = _joins(link.target for link, _ in wanted) if _postgres() else ()
    if not ids:
        children = []
    elif joins:
        children = await _fetch_joined(model, columns, joins, relation.fk, ids, relation.order_by)
    else:
        children = await _fetch(model, columns, relation.fk, ids, relation.order_by, active_only=True)
    if not wanted[0][0].implied:
        allowed = await visible_ids(model, scope, [child["id"] for child in children])
        if allowed is not None:
            children = [child for child in children if child["id"] in allowed]
    if joins:
        await _take_joined(joins, children, len(columns), lookups, scope, done)
    grouped: dict[int, list] = defaultdict(list)
    for child in children:
        grouped[child[relation.fk]].append(child)
    deeper = []
    for link, rows in wanted:
        lookups[id(link.target)] = grouped
        if _loads_more(link.target):
            mine = [child for row in rows for child in grouped.get(row["id"], ())]
            if mine:
                deeper.append((link.target, mine))
    return deeper


async def _fetch_joined(model: type[Model], columns: list[str], joins: tuple[Join, ...], key: str, ids: list[int],
                        order_by: tuple[str, ...]) -> list:
    """A to-many relation's children (active ones, as `_fetch`) with their joined to-one relations."""
    sql = _fetch_joined_sql(model._meta.db_table, tuple(columns), _specs(joins), key, order_by, model in ARCHIVABLE)
    async with connections.get("default").acquire_connection() as conn:
        return await conn.fetch(sql, ids)


@lru_cache(maxsize=512)
def _fetch_joined_sql(table: str, columns: tuple[str, ...], joins: tuple[JoinSpec, ...], key: str,
                      order_by: tuple[str, ...], active_only: bool) -> str:
    order = ", ".join(f'r."{o[1:]}" DESC' if o.startswith("-") else f'r."{o}" ASC' for o in order_by)
    active = ' AND r."archived_at" IS NULL' if active_only else ""
    return f'{_joined_select(table, columns, joins)} WHERE r."{key}" = ANY($1::int[]){active} ORDER BY {order}'


def _postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


# One statement per document (PostgreSQL) -------------------------------------------------------
#
# On PostgreSQL every relation of a plan is read in the same statement as its parent rows: a to-one
# relation as a correlated `(SELECT ROW(…) FROM target WHERE id = parent.fk)`, a to-many one as
# `ARRAY(SELECT ROW(…) FROM child WHERE fk = parent.id ORDER BY …)`, nested as deep as the document
# goes. asyncpg decodes these anonymous records (and arrays of them) into tuples of the same Python
# values a plain row holds, so the rows go into the same `lookups` the level-by-level reader fills and
# the same renderer turns them into the response. What the sharing model does not vouch for
# (`readable_through`) is then checked with `visible_ids`, one call per record type for the whole
# document (users, shared reference data and admins need no statement), and hidden rows are dropped
# exactly as `_load` drops them. SQLite keeps `_load`.


@dataclass
class RelationRead:
    """The links of one parent plan (or of several plans of the same type, merged) that read the same
    relation: one sub-select serves them all, with the union of their columns."""

    relation: One | Many
    model: type[Model]
    implied: bool
    links: tuple[Link, ...]
    columns: tuple[str, ...]
    children: tuple["RelationRead", ...]


def _links_of(plan: ObjectPlan) -> Iterable[Link]:
    for _, kind, payload in plan.fields:
        if kind in ("one", "many"):
            yield payload
        elif kind == "derived":
            yield from payload[1]


def relation_reads(plans: Iterable[ObjectPlan]) -> tuple[RelationRead, ...]:
    """The sub-selects that read every relation of these plans (all of one type), nested."""
    grouped: dict[tuple, list[Link]] = {}
    for plan in plans:
        for link in _links_of(plan):
            relation = link.relation
            key = (type(relation).__name__, relation.type_name, relation.fk,
                   relation.order_by if isinstance(relation, Many) else None)
            grouped.setdefault(key, []).append(link)
    reads = []
    for links in grouped.values():
        relation = links[0].relation
        columns = sorted(set().union(*(link.target.columns for link in links)))
        reads.append(RelationRead(relation, TYPES[relation.type_name].model, links[0].implied, tuple(links),
                                  tuple(columns), relation_reads(link.target for link in links)))
    return tuple(reads)


def _select_list(columns: Iterable[str], reads: Iterable[RelationRead], alias: str, aliases: Iterator[int]) -> str:
    items = [f'{alias}."{column}"' for column in columns]
    items += [_sub_select(read, alias, aliases) for read in reads]
    return ", ".join(items)


def _sub_select(read: RelationRead, parent: str, aliases: Iterator[int]) -> str:
    alias = f"r{next(aliases)}"
    table = read.model._meta.db_table
    row = f"ROW({_select_list(read.columns, read.children, alias, aliases)})"
    relation = read.relation
    if isinstance(relation, One):
        return f'(SELECT {row} FROM "{table}" {alias} WHERE {alias}."id" = {parent}."{relation.fk}")'
    order = ", ".join(f'{alias}."{o[1:]}" DESC' if o.startswith("-") else f'{alias}."{o}" ASC'
                      for o in relation.order_by)
    active = f' AND {alias}."archived_at" IS NULL' if read.model in ARCHIVABLE else ""
    return (f'ARRAY(SELECT {row} FROM "{table}" {alias} WHERE {alias}."{relation.fk}" = {parent}."id"{active} '
            f'ORDER BY {order})')


@dataclass
class TreeRead:
    """The statement that reads the row of a plan by its id with everything the plan shows of its relations.
    The id is compared with `= $1`, not `= ANY($1)`: PostgreSQL then keeps the prepared statement's
    generic plan, where for an array it re-planned this statement on every execution (0.55 ms of its
    CPU per read instead of 0.21; bench/README.md)."""

    columns: tuple[str, ...]
    reads: tuple[RelationRead, ...]
    sql: str

    @classmethod
    def of(cls, plan: ObjectPlan, columns: Iterable[str]) -> "TreeRead":
        reads = relation_reads([plan])
        columns = tuple(columns)
        table = TYPES[plan.type_name].model._meta.db_table
        select = _select_list(columns, reads, "r0", itertools.count(1))
        return cls(columns, reads, f'SELECT {select} FROM "{table}" r0 WHERE r0."id" = $1')

    async def fetch(self, pk: int) -> list:
        db = connections.get("default")
        async with db.acquire_connection() as conn:
            return await conn.fetch(self.sql, pk)

    async def rows_and_lookups(self, records: list, lookups: dict[int, dict], scope: Scope) -> list[dict]:
        """The records' rows (dicts of their own columns), their relations put into `lookups`."""
        width = len(self.columns)
        rows = [dict(zip(self.columns, record, strict=False)) for record in records]  # then the relations
        allowed = await _allowed(self.reads, [record[width:] for record in records], scope)
        _init_lookups(self.reads, lookups)
        for row, record in zip(rows, records, strict=True):
            _take(self.reads, record, width, row, lookups, allowed)
        return rows


def _init_lookups(reads: Iterable[RelationRead], lookups: dict[int, dict]) -> None:
    for read in reads:
        for link in read.links:
            lookups.setdefault(id(link.target), {})
        _init_lookups(read.children, lookups)


async def _allowed(reads: tuple[RelationRead, ...], values: list, scope: Scope) -> dict[type[Model], set[int] | None]:
    """What `visible_ids` says of the rows of each record type the sharing model does not vouch for
    (None: all readable), one call per type for the whole document."""
    wanted: dict[type[Model], set[int]] = defaultdict(set)

    def collect(reads: tuple[RelationRead, ...], values: Iterable) -> None:
        for read, value in zip(reads, values, strict=True):
            if value is None:
                continue
            records = (value,) if isinstance(read.relation, One) else value
            width, at = len(read.columns), read.columns.index("id")
            if not read.implied and checks(read.model, scope):
                wanted[read.model].update(record[at] for record in records)
            if read.children:
                for record in records:
                    collect(read.children, record[width:])

    for value in values:
        collect(reads, value)
    allowed: dict[type[Model], set[int] | None] = {}
    for model, ids in wanted.items():
        allowed[model] = await visible_ids(model, scope, ids)
    return allowed


def _take(reads: tuple[RelationRead, ...], record: Any, offset: int, parent: dict, lookups: dict[int, dict],
          allowed: dict[type[Model], set[int] | None]) -> None:
    """Put the relations of one decoded record (its values from `offset` on) into `lookups`."""
    for read, value in zip(reads, record[offset:], strict=True):
        columns, width = read.columns, len(read.columns)
        readable = None if read.implied else allowed.get(read.model)
        if isinstance(read.relation, One):
            if value is None:
                continue
            row = dict(zip(columns, value, strict=False))  # then its relations
            if readable is not None and row["id"] not in readable:
                continue
            for link in read.links:
                lookups[id(link.target)][row["id"]] = row
            if read.children:
                _take(read.children, value, width, row, lookups, allowed)
        else:
            children = []
            for child in value:
                row = dict(zip(columns, child, strict=False))  # then its relations
                if readable is not None and row["id"] not in readable:
                    continue
                children.append(row)
                if read.children:
                    _take(read.children, child, width, row, lookups, allowed)
            for link in read.links:
                lookups[id(link.target)][parent["id"]] = children


def compile_renderer(plan: ObjectPlan) -> Callable[[Any, dict], dict | None]:
    """Turn a plan into straight-line Python: one function whose body is one expression, dict literals
    nested as the response nests (a related object is a conditional expression, a list a
    comprehension), no per-field calls beyond the scalar serializers (this is what replaces
    graphql-core's field-by-field resolution)."""
    namespace: dict[str, Any] = {"_json": _json}
    names = itertools.count(1)

    def embedded(obj: ObjectPlan, value: str) -> str:
        var = f"v{next(names)}"
        items = [f"{key!r}: " + (f"{var}.get({payload!r})" if kind == "get" else repr(payload))
                 for key, kind, payload in obj.fields]
        return f"(None if not ({var} := {value}) else {{{', '.join(items)}}})"

    def literal(obj: ObjectPlan, row: str) -> str:
        """The object as a dict literal, its row (not None) in the variable `row`."""
        items = []
        for key, kind, payload in obj.fields:
            if kind == "scalar":
                column, serialize = payload
                if serialize is _same or serialize is _iso:  # orjson writes dates as _iso would
                    expr = f"{row}[{column!r}]"
                elif serialize is _text:  # inline: a page of a hundred deals writes about a thousand of these
                    var = f"v{next(names)}"
                    expr = f"(None if ({var} := {row}[{column!r}]) is None else str({var}))"
                else:
                    namespace[f"s_{id(serialize)}"] = serialize
                    expr = f"s_{id(serialize)}({row}[{column!r}])"
            elif kind == "one":
                relation, target = payload.relation, payload.target
                lookup = f"lookups[{id(target)}].get({row}[{relation.fk!r}])"
                var = f"v{next(names)}"
                if relation.column is not None:
                    expr = f"(None if ({var} := {lookup}) is None else {var}[{relation.column!r}])"
                else:
                    expr = f"(None if ({var} := {lookup}) is None else {literal(target, var)})"
            elif kind == "many":
                target = payload.target
                var = f"v{next(names)}"
                expr = f"[{literal(target, var)} for {var} in lookups[{id(target)}].get({row}['id'], ())]"
            elif kind == "embedded":
                embedded_field, sub = payload
                expr = embedded(sub, f"_json({row}[{embedded_field.column!r}])")
            elif kind == "computed":
                namespace[f"c_{id(payload)}"] = payload.fn
                expr = f"c_{id(payload)}({row})"
            elif kind == "derived":
                derived, links = payload
                namespace[f"d_{id(derived)}"] = derived.value
                needed = [f"lookups[{id(link.target)}].get({row}[{link.relation.fk!r}])" if isinstance(link.relation, One)
                          else f"lookups[{id(link.target)}].get({row}['id'], ())" for link in links]
                expr = f"d_{id(derived)}({row}, {', '.join(needed)})"
            else:
                expr = repr(payload)
            items.append(f"{key!r}: {expr}")
        return f"{{{', '.join(items)}}}"

    source = (f"def render(row, lookups):\n    if row is None:\n        return None\n"
              f"    return {literal(plan, 'row')}\n")
    exec(compile(source, f"<fastpath plan {plan.type_name}>", "exec"), namespace)  # noqa: S102
    return namespace["render"]


@dataclass
class NodeData:
    rows: list
    lookups: dict


@dataclass
class PageData:
    page: Page
    lookups: dict


# The cache's bound is in rows; a stored response counts one row per this many bytes of JSON.
RESPONSE_BYTES_PER_ROW = 200


def _size(rows: list, lookups: dict) -> int:
    """Rows held by a result, for the cache's bound."""
    size = len(rows)
    for table in lookups.values():
        for value in table.values():
            size += len(value) if isinstance(value, list) else 1
    return size


async def _node_data(plan: QueryPlan, pk: int, scope: Scope) -> NodeData:
    # One row by primary key: straight SQL, and the visibility rule checked on the row.
    node = plan.plan
    assert isinstance(node, ObjectPlan)
    lookups: dict[int, dict] = {}
    if plan.tree is not None and _postgres():
        records = [record for record in await plan.tree.fetch(pk)
                   if opportunity_visible(scope, record["assigned_to_id"])]
        return NodeData(await plan.tree.rows_and_lookups(records, lookups, scope), lookups)
    rows = await _fetch(m.Opportunity, sorted(node.columns | {"assigned_to_id"}), "id", [pk], ("id",))
    rows = [row for row in rows if opportunity_visible(scope, row["assigned_to_id"])]
    await _load(node, rows, lookups, scope)
    return NodeData(rows, lookups)


async def _page_data(plan: QueryPlan, args: dict, scope: Scope, in_turn: bool = False) -> PageData:
    """The page and its relations; `in_turn`: its statements one after the other on one connection."""
    connection = plan.plan
    assert isinstance(connection, ConnectionPlan)
    order = args.get("order_by") or OpportunityOrder()
    columns = sorted(connection.node.columns | {order.field.value})
    f = args.get("filter")
    async with _one_connection() if in_turn else nullcontext():
        page = await paginate(await opportunity_query(f, opportunity_filter(scope)), first=args.get("first"),
                              after=args.get("after"), sort_field=order.field.value,
                              descending=order.direction.value == "desc", columns=columns,
                              nulls_last=order.field.nullable, shape=opportunity_query_shape(f, scope))
        lookups: dict[int, dict] = {}
        # A page of rows reads its relations level by level, in batched `= ANY` reads: for a hundred rows they
        # cost PostgreSQL less than correlated sub-selects or joins into the page's statement (measured: the
        # page joined with its stage, account and owner took 1.1 ms of PostgreSQL CPU, the page and the three
        # batched reads 0.4 ms; bench/README.md). A to-many's leaf to-one relations are joined in (`_joins`).
        await _load(connection.node, page.rows, lookups, scope, in_turn=in_turn)
    return PageData(page, lookups)


def _filters_by_clock(query: str, variables: bytes, args: "_Lazy") -> bool:
    """Whether the list's filter uses stale or overdue (the document and its variables are looked at
    first, so requests naming neither never convert their arguments here)."""
    if not any(word in query for word in ("stale", "overdue")) and b"stale" not in variables \
            and b"overdue" not in variables:
        return False
    return filter_reads_clock(args.value.get("filter"))


async def _total_count(args: dict, scope: Scope) -> int:
    f = args.get("filter")
    return await count_rows(await opportunity_query(f, opportunity_filter(scope)), opportunity_query_shape(f, scope))


def _render_page(plan: QueryPlan, data: PageData, total: int | None) -> dict:
    page, lookups, render = data.page, data.lookups, plan.render
    connection = plan.plan
    assert isinstance(connection, ConnectionPlan)
    nodes = [render(row, lookups) for row in page.rows]
    out: dict[str, Any] = {}
    for key, what, parts in connection.fields:
        if what == "totalCount":
            out[key] = total
        elif what == "nodes":
            out[key] = nodes
        elif what == "typename":
            out[key] = parts
        elif what == "pageInfo":
            info = {"hasNextPage": page.has_next_page, "hasPreviousPage": page.has_previous_page,
                    "startCursor": page.cursors[0] if page.cursors else None,
                    "endCursor": page.cursors[-1] if page.cursors else None, "__typename": connection.page_info_type}
            out[key] = {alias: info[name] for alias, name in parts}
        else:
            out[key] = _edges_renderer(tuple(parts), connection.edge_type)(page.cursors, nodes)
    return out


@lru_cache(maxsize=256)
def _edges_renderer(parts: tuple[tuple[str, str], ...], edge_type: str) -> Callable[[list, list], list]:
    """A connection's edges as one comprehension of dict literals (as compile_renderer writes nodes):
    parts are (response key, "cursor" | "node" | "__typename")."""
    items = ", ".join(f"{alias!r}: " + ("cursor" if part == "cursor" else "node" if part == "node" else repr(edge_type))
                      for alias, part in parts)
    namespace: dict[str, Any] = {}
    exec(compile(f"def edges(cursors, nodes):\n    return [{{{items}}} for cursor, node in zip(cursors, nodes, strict=True)]\n",  # noqa: S102
                 "<fastpath edges>", "exec"), namespace)
    return namespace["edges"]


class Serialized:
    """A compiled response's JSON (`{"data": …}`: what the read cache keeps), and once a client asked for
    gzip, its start compressed (kept with it: cached answers are compressed once)."""

    __slots__ = ("text", "_gzip")

    def __init__(self, text: bytes) -> None:
        self.text = text
        self._gzip: GzipStart | None = None

    def gzip_start(self) -> GzipStart:
        if self._gzip is None:
            self._gzip = GzipStart.of(self.text[:-1])  # all but the closing brace, which the extensions replace
        return self._gzip

    def held_bytes(self) -> int:
        """What keeping it may cost: the text and its compressed copy (counted as a quarter of it; a page of
        deals compresses to about a sixth)."""
        return len(self.text) + len(self.text) // 4


@dataclass(frozen=True)
class CompiledAnswer:
    """What the compiled path answers a request: the response's data and the request's own cost extension."""

    data: Serialized
    cost: dict

    def body(self) -> bytes:
        return with_extensions(self.data.text, self.cost)

    def gzipped(self) -> bytes:
        """The body, gzip-compressed (the data's compressed start is computed once per Serialized)."""
        return self.data.gzip_start().finish(extensions_tail(self.cost))


class _Lazy:
    """A value computed on first use."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self._compute: Callable[[], Any] | None = compute
        self._value: Any = None

    @property
    def value(self) -> Any:
        if self._compute is not None:
            self._value, self._compute = self._compute(), None
        return self._value


class FastPath:
    """Compiled plans per document (bounded LRU), their execution, and (with a read cache) the results
    of their queries per visibility scope, valid until the next commit to a table they read.

    `served` counts the requests the compiled path answered; `fallbacks` why the others went to
    standard execution (bounded: the reasons name schema fields or fixed causes)."""

    MAX_VARIANTS = 16  # plans per document (combinations of @skip/@include variables)

    def __init__(self, schema, max_plans: int = 256, cache: ReadCache | None = None) -> None:
        self.schema = schema
        self.graphql_schema: GraphQLSchema = schema._schema
        self.plans: OrderedDict[tuple[str, str | None], PreparedDocument | str] = OrderedDict()
        self.max_plans = max_plans
        self.cache = cache
        self.served = 0
        self.fallbacks: Counter[str] = Counter()
        self._in_flight: dict[tuple, asyncio.Future] = {}
        self._requests = 0  # requests this path is answering now (in this process)

    def _fall_back(self, reason: str) -> "CompiledAnswer | None":
        """Count why standard execution answers, and say it does (None)."""
        self.fallbacks[reason] += 1
        return None

    def document_for(self, query: str, operation_name: str | None) -> PreparedDocument | str:
        """The prepared document, or why standard execution must answer it (both kept, LRU-bounded)."""
        key = (query, operation_name)
        if key in self.plans:
            self.plans.move_to_end(key)
            return self.plans[key]
        try:
            prepared: PreparedDocument | str = prepare_document(self.graphql_schema, query, operation_name)
        except Unsupported as exc:
            prepared = str(exc)
        except GraphQLError:
            prepared = "syntax error"
        self.plans[key] = prepared
        if len(self.plans) > self.max_plans:
            self.plans.popitem(last=False)
        return prepared

    def plan_for(self, prepared: PreparedDocument, variables: Any) -> QueryPlan | str:
        """The document's plan for these coerced variable values: one per combination of the variables
        its @skip/@include conditions read."""
        coerced = getattr(variables, "coerced", variables)
        key = tuple(coerced.get(name) for name in prepared.conditions)
        variants = prepared.variants
        if key in variants:
            variants.move_to_end(key)
            return variants[key]
        try:
            plan: QueryPlan | str = plan_query(self.graphql_schema, prepared, variables)
        except Unsupported as exc:
            plan = str(exc)
        variants[key] = plan
        if len(variants) > self.MAX_VARIANTS:
            variants.popitem(last=False)
        return plan

    def _arguments(self, plan: QueryPlan, variables: Any) -> dict:
        query_type = self.graphql_schema.query_type
        assert query_type is not None
        field_def = query_type.fields[plan.root.name.value]
        raw = get_argument_values(field_def, plan.root, variables)
        # Strawberry's own conversion: the same input objects the standard resolvers receive.
        strawberry_field = self.schema.get_field_for_type(field_name=plan.root.name.value, type_name="Query")
        return convert_arguments(raw, strawberry_field.arguments, scalar_registry=self.schema.schema_converter.scalar_registry,
                                 config=self.schema.config)

    async def _cached(self, key: tuple, load: Callable[[], Awaitable[Any]], size: Callable[[Any], int] = lambda _: 1):
        cache = self.cache
        if cache is None:
            return await load()
        value = cache.get(key)
        if value is not None:
            return value
        generation = cache.generation()  # before reading: a commit during the read voids the result
        if generation is None:
            return await load()
        # Concurrent misses of one key under one generation share a single read (no stampede of
        # identical counts over a million rows when 50 clients arrive at once).
        flight = (key, generation)
        task = self._in_flight.get(flight)
        if task is None:
            async def load_and_keep():
                value = await load()
                # Kept before the flight ends: a request arriving between the end of the flight and
                # its waiters resuming finds the value instead of starting a second read.
                held = sum(len(part) for part in key if isinstance(part, (str, bytes)))  # the key is held too
                cache.put(key, generation, value, size(value) + held // RESPONSE_BYTES_PER_ROW)
                return value

            task = self._in_flight[flight] = asyncio.ensure_future(load_and_keep())
            task.add_done_callback(lambda _: self._in_flight.pop(flight, None))
        return await asyncio.shield(task)

    async def _scope(self, authorization: str | None) -> Scope | None:
        """The caller's visibility scope, or None to let standard execution explain what is wrong.
        The standard path's authentication (app.services.auth: the header, the token's signature and
        expiry on every request; the user, session and API-key checks) and scope (scope_for); only
        the database part is cached, until a commit to users, sessions (revocations) or API keys
        (revocations) voids it."""
        try:
            credential = auth.read_credential(auth.bearer_token(authorization or ""))
        except NotAuthenticated:
            return None

        async def load() -> Scope | bool:
            try:
                return await scope_for(await auth.user_for(credential))
            except NotAuthenticated:
                return False

        scope = await self._cached(("scope", *credential.cache_key), load)
        if scope:
            await auth.record_use(credential)
        return scope or None

    async def execute(self, query: str, variables: dict | None, operation_name: str | None,
                      authorization: str | None) -> CompiledAnswer | None:
        """The answer, or None when the request must take standard execution."""
        self._requests += 1
        try:
            body = await self._execute(query, variables, operation_name, authorization)
        except Exception as exc:
            if is_outage(exc):
                raise  # a lost database: 503 SERVICE_UNAVAILABLE (app/api/request_guards.py), as for the token check
            # A bug of this path: standard execution answers (and masks what fails there too).
            log.error("compiled read path failed, standard execution answers: %s: %s", type(exc).__name__, exc,
                      exc_info=exc)
            return self._fall_back("unexpected error")
        finally:
            self._requests -= 1
        if body is not None:
            self.served += 1
        return body

    async def _execute(self, query: str, variables: dict | None, operation_name: str | None,
                       authorization: str | None) -> CompiledAnswer | None:
        prepared = self.document_for(query, operation_name)
        if isinstance(prepared, str):
            return self._fall_back(prepared)
        coerced = get_variable_values(self.graphql_schema, prepared.operation.variable_definitions or [], variables or {})
        if isinstance(coerced, list):
            return self._fall_back("variables")  # standard execution reports the errors
        plan = self.plan_for(prepared, coerced)
        if isinstance(plan, str):
            return self._fall_back(plan)
        # The root field's arguments, converted only when the database is read (not for a cached answer).
        args = _Lazy(lambda: self._arguments(plan, coerced))
        scope = await self._scope(authorization)
        if scope is None:
            return self._fall_back("credentials")
        # Priced and charged like standard execution; refusals are left to it (nothing charged here).
        cost = await admit_compiled(self.graphql_schema, plan.document, operation_name, variables, scope.user_id,
                                    prepared.price(self.graphql_schema, operation_name, variables))
        if cost is None:
            return self._fall_back("cost")
        # Results depend on what the sharing model reads of the caller (Scope.sharing_key; admins:
        # everything), not on who asks, and on the variables the document declares (others are
        # ignored, so they must not make new entries).
        declared = {d.variable.name.value for d in plan.operation.variable_definitions or ()}
        used = {k: v for k, v in (variables or {}).items() if k in declared}
        reads = (scope.sharing_key, query, operation_name, orjson.dumps(used, option=orjson.OPT_SORT_KEYS))
        try:
            if plan.kind == "list" and _filters_by_clock(query, reads[3], args):
                # What matches changes with time alone (stale, overdue): read every time, cache nothing.
                return CompiledAnswer(await self._respond(plan, args, scope, reads, cache_data=False,
                                                          cache_count=False), cost)
            if plan.reads_clock:  # cache the data, render every time
                return CompiledAnswer(await self._respond(plan, args, scope, reads, cache_data=True), cost)
            # Nothing depends on the clock: the response itself is what is cached.
            return CompiledAnswer(await self._cached(("response", *reads), lambda: self._respond(plan, args, scope, reads),
                                                     lambda data: 1 + data.held_bytes() // RESPONSE_BYTES_PER_ROW), cost)
        except ValidationFailed:
            await refund_compiled(scope.user_id, cost)
            return self._fall_back("user input")  # a bad filter or cursor: standard execution says which
        except GraphQLError:
            await refund_compiled(scope.user_id, cost)
            return self._fall_back("arguments")

    async def _respond(self, plan: QueryPlan, args: "_Lazy", scope: Scope, reads: tuple,
                       cache_data: bool = False, cache_count: bool = True) -> Serialized:
        if plan.kind == "node":
            data = await self._node(plan, args.value, scope, reads, cache_data)
        else:
            data = await self._list(plan, args.value, scope, reads, cache_data, cache_count)
        return Serialized(orjson.dumps({"data": {key: data if typename is None else typename for key, typename in plan.top}}))

    async def _maybe_cached(self, cache_data: bool, key: tuple, load, size):
        return await (self._cached(key, load, size) if cache_data else load())

    async def _node(self, plan: QueryPlan, args: dict, scope: Scope, reads: tuple, cache_data: bool) -> dict | None:
        from app.api.errors import parse_id

        try:
            pk = parse_id(args["id"], "id", "Opportunity")
        except ValidationFailed:
            return None
        data = await self._maybe_cached(cache_data, ("node", *reads), lambda: _node_data(plan, pk, scope),
                                        lambda d: _size(d.rows, d.lookups))
        return plan.render(data.rows[0], data.lookups) if data.rows else None

    async def _list(self, plan: QueryPlan, args: dict, scope: Scope, reads: tuple, cache_data: bool,
                    cache_count: bool) -> dict:
        counting = any(what == "totalCount" for _, what, _ in plan.plan.fields)
        # Reading a page's statements concurrently shortens its answer while the process is otherwise idle;
        # while it answers other requests too, the cores are busy anyway, and one connection per page read
        # in turn costs the process less CPU (at 10 clients ≈ 0.2 of 3.1 ms per page: no pool hand-offs,
        # no task per read; bench/README.md).
        in_turn = self._requests > 1 and _postgres()
        page = self._maybe_cached(cache_data, ("page", *reads), lambda: _page_data(plan, args, scope, in_turn),
                                  lambda d: _size(d.page.rows, d.lookups))
        if not counting:
            return _render_page(plan, await page, None)

        def count() -> Awaitable[int]:
            # The count does not depend on the page: other pages (and orders) of the same list share it.
            return self._maybe_cached(cache_count, ("count", scope.sharing_key, repr(args.get("filter"))),
                                      lambda: _total_count(args, scope), lambda _: 1)

        if in_turn:
            data = await page
            return _render_page(plan, data, await count())
        data, total = await asyncio.gather(page, count())
        return _render_page(plan, data, total)
