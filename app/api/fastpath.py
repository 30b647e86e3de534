"""A compiled read path for the hot queries (opportunity lists and single opportunities).

graphql-core resolves field by field (≈10 µs a field): for a page of 100 opportunities with their
account, user, products and activities that is most of the request. Here a query document is
compiled ONCE into a plan of plain column selections; executing the plan runs one `values()` query per
relation (the same batches the DataLoaders make) and builds the response dicts in straight-line code.

Only documents made entirely of fields listed in the TYPE specs below take this path; anything else
(fragments, directives, other fields, errors of any kind) goes through standard execution, which
stays the general path. tests/test_fastpath.py runs every benchmark query both ways and compares.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Awaitable, Callable

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from graphql.error import GraphQLError
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.types.arguments import convert_arguments
from tortoise import connections
from tortoise.models import Model

from app import models as m
from app.api.cost import admit_compiled, with_extensions
from app.api.inputs import OpportunityOrder
from app.api.queries import opportunity_query
from app.domain import enums as e
from app.domain.errors import NotAuthenticated, ValidationFailed
from app.domain.pipeline import is_stale as stale_rule
from app.queries.pagination import Page, paginate
from app.queries.read_cache import ReadCache
from app.queries.visibility import Scope, opportunity_filter, opportunity_visible, scope_for, visible_ids
from app.services import auth
from app.settings import get_settings

log = logging.getLogger(__name__)

Serializer = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _enum(enum_cls: type[Enum]) -> Serializer:
    # str enums hash like their values: one lookup serves raw column values and members alike.
    names: dict[Any, Any] = {member.value: member.name for member in enum_cls}
    names[None] = None
    return names.__getitem__


@dataclass(frozen=True)
class One:
    """A to-one relation through a foreign-key column; `column` projects one column of the target.
    `implied`: the sharing model makes the target readable whenever the parent is (the account of an
    opportunity), so no visibility check is needed; every other target is checked (app.queries.visibility)."""

    type_name: str
    fk: str
    column: str | None = None
    implied: bool = False


@dataclass(frozen=True)
class Many:
    """Children through their foreign key; `implied` as for One (an opportunity's products, activities…)."""

    type_name: str
    fk: str
    order_by: tuple[str, ...] = ("id",)
    implied: bool = False


@dataclass(frozen=True)
class Computed:
    columns: tuple[str, ...]
    fn: Callable[[dict], Any]
    reads_clock: bool = False


@dataclass(frozen=True)
class Derived:
    """A value computed from other rows: load(rows) -> {parent id: inputs} fetches the inputs for all
    parents at once, value(inputs, row) computes it when the response is rendered (so a cached read
    still gets values that depend on the current time right)."""

    columns: tuple[str, ...]
    load: Callable[[list], Any]
    value: Callable[[Any, Any], Any]


@dataclass(frozen=True)
class TypeSpec:
    model: type[Model]
    scalars: dict[str, tuple[str, Serializer]]
    relations: dict[str, One | Many] = field(default_factory=dict)
    computed: dict[str, Computed] = field(default_factory=dict)
    derived: dict[str, Derived] = field(default_factory=dict)


def _days_in_stage(row: dict) -> int:
    return (datetime.now(timezone.utc) - row["stage_entered_at"]).days


async def _staleness_inputs(rows: list) -> dict[int, tuple]:
    """What isStale needs besides the clock, per opportunity: its stage, its last meaningful activity and
    the latest still-open scheduled one (same rule and inputs as Opportunity.is_stale in app/api/types.py)."""
    ids = [row["id"] for row in rows]
    stage_ids = list({row["stage_id"] for row in rows})
    stage_rows, activities = await asyncio.gather(
        _fetch(m.PipelineStage, ["expected_duration_days", "id", "kind"], "id", stage_ids, ("id",)),
        _fetch(m.OpportunityActivity, ["completed_at", "opportunity_id", "scheduled_at", "type"], "opportunity_id", ids,
               ("id",)))
    stages = {s["id"]: StageRot(e.StageKind(s["kind"]), s["expected_duration_days"]) for s in stage_rows}
    last_done: dict[int, datetime] = {}
    open_until: dict[int, datetime] = {}
    for a in activities:
        if a["type"] == e.ActivityType.SYSTEM.value:
            continue
        opp = a["opportunity_id"]
        if a["completed_at"] and (opp not in last_done or a["completed_at"] > last_done[opp]):
            last_done[opp] = a["completed_at"]
        if a["scheduled_at"] and a["completed_at"] is None and (opp not in open_until or a["scheduled_at"] > open_until[opp]):
            open_until[opp] = a["scheduled_at"]
    return {row["id"]: (stages[row["stage_id"]], last_done.get(row["id"]), open_until.get(row["id"])) for row in rows}


@dataclass(frozen=True)
class StageRot:
    """The two things the staleness rule reads of a stage."""

    kind: e.StageKind
    expected_duration_days: int

    @property
    def is_closed(self) -> bool:
        return self.kind != e.StageKind.OPEN


def _staleness(inputs: tuple, row: Any) -> bool:
    stage, last_done, open_until = inputs
    now = datetime.now(timezone.utc)
    return stale_rule(stage, row["stage_entered_at"], last_done, open_until is not None and open_until > now, now)


# What each GraphQL type serves from plain columns, exactly as app/api/types.py resolves it.
TYPES: dict[str, TypeSpec] = {
    "Opportunity": TypeSpec(
        m.Opportunity,
        scalars={
            "id": ("id", str), "name": ("name", _same), "probability": ("probability", _same),
            "probabilityOverridden": ("probability_overridden", _same), "value": ("value", _text),
            "budget": ("budget", _text), "expectedCloseDate": ("expected_close_date", _iso),
            "actualCloseDate": ("actual_close_date", _iso), "source": ("source", _enum(e.OpportunitySource)),
            "lostReason": ("lost_reason", _same), "nextStep": ("next_step", _same),
            "description": ("description", _same), "forecastCategory": ("forecast_category", _enum(e.ForecastCategory)),
            "version": ("version", _same), "stageEnteredAt": ("stage_entered_at", _iso),
            "createdAt": ("created_at", _iso), "updatedAt": ("updated_at", _iso),
        },
        relations={
            "stage": One("PipelineStage", "stage_id", column="key"),
            "pipelineStage": One("PipelineStage", "stage_id"),
            "account": One("Account", "account_id", implied=True),
            "contact": One("Contact", "contact_id"),
            "assignedTo": One("User", "assigned_to_id"),
            "products": Many("OpportunityProduct", "opportunity_id", implied=True),
            "activities": Many("OpportunityActivity", "opportunity_id", ("-created_at", "-id"), implied=True),
            "pipeline": One("Pipeline", "pipeline_id"),
            "documents": Many("OpportunityDocument", "opportunity_id", implied=True),
            "stageHistory": Many("StageTransition", "opportunity_id", ("at", "id"), implied=True),
        },
        computed={"daysInStage": Computed(("stage_entered_at",), _days_in_stage, reads_clock=True)},
        derived={"isStale": Derived(("stage_id", "stage_entered_at"), _staleness_inputs, _staleness)},
    ),
    "Pipeline": TypeSpec(
        m.Pipeline, scalars={"id": ("id", str), "name": ("name", _same), "isDefault": ("is_default", _same)},
    ),
    "OpportunityDocument": TypeSpec(
        m.OpportunityDocument,
        scalars={
            "id": ("id", str), "name": ("name", _same), "type": ("type", _enum(e.DocumentType)),
            "url": ("url", _same), "contentType": ("content_type", _same), "createdAt": ("created_at", _iso),
        },
    ),
    "StageTransition": TypeSpec(
        m.StageTransition,
        scalars={
            "id": ("id", str), "at": ("at", _iso), "source": ("source", _enum(e.TransitionSource)),
            "amountBefore": ("amount_before", _text), "amountAfter": ("amount_after", _text),
            "probabilityBefore": ("probability_before", _same), "probabilityAfter": ("probability_after", _same),
        },
        relations={"fromStage": One("PipelineStage", "from_stage_id"), "toStage": One("PipelineStage", "to_stage_id"),
                   "by": One("User", "by_id")},
    ),
    "Account": TypeSpec(
        m.Account,
        scalars={
            "id": ("id", str), "name": ("name", _same), "industry": ("industry", _enum(e.Industry)),
            "size": ("size", _enum(e.AccountSize)), "annualRevenue": ("annual_revenue", _text),
            "status": ("status", _enum(e.AccountStatus)), "tier": ("tier", _enum(e.AccountTier)),
            "healthScore": ("health_score", _same), "lastActivityDate": ("last_activity_date", _iso),
            "renewalDate": ("renewal_date", _iso), "createdAt": ("created_at", _iso), "updatedAt": ("updated_at", _iso),
        },
        relations={"assignedTo": One("User", "assigned_to_id"), "parent": One("Account", "parent_id")},
    ),
    "User": TypeSpec(
        m.User,
        scalars={
            "id": ("id", str), "email": ("email", _same), "name": ("name", _same), "role": ("role", _enum(e.Role)),
            "timezone": ("timezone", _same), "isActive": ("is_active", _same), "createdAt": ("created_at", _iso),
        },
        relations={"manager": One("User", "manager_id")},
    ),
    "Contact": TypeSpec(
        m.Contact,
        scalars={
            "id": ("id", str), "firstName": ("first_name", _same), "lastName": ("last_name", _same),
            "email": ("email", _same), "phone": ("phone", _same), "title": ("title", _same),
            "role": ("role", _enum(e.ContactRole)), "isPrimary": ("is_primary", _same),
        },
        computed={"name": Computed(("first_name", "last_name"), lambda r: f"{r['first_name']} {r['last_name']}")},
    ),
    "OpportunityProduct": TypeSpec(
        m.OpportunityProduct,
        scalars={
            "id": ("id", str), "quantity": ("quantity", _text), "unitPrice": ("unit_price", _text),
            "discount": ("discount", _text), "totalPrice": ("total_price", _text),
        },
        relations={"product": One("Product", "product_id"), "name": One("Product", "product_id", column="name")},
    ),
    "Product": TypeSpec(
        m.Product,
        scalars={
            "id": ("id", str), "sku": ("sku", _same), "name": ("name", _same),
            "category": ("category", _enum(e.ProductCategory)), "unit": ("unit", _enum(e.ProductUnit)),
            "unitPrice": ("unit_price", _text), "description": ("description", _same), "isActive": ("is_active", _same),
        },
    ),
    "OpportunityActivity": TypeSpec(
        m.OpportunityActivity,
        scalars={
            "id": ("id", str), "type": ("type", _enum(e.ActivityType)), "subject": ("subject", _same),
            "description": ("description", _same), "outcome": ("outcome", _enum(e.Outcome)),
            "nextSteps": ("next_steps", _same), "scheduledAt": ("scheduled_at", _iso),
            "completedAt": ("completed_at", _iso), "createdAt": ("created_at", _iso),
        },
        relations={"createdBy": One("User", "created_by_id")},
    ),
    "PipelineStage": TypeSpec(
        m.PipelineStage,
        scalars={
            "id": ("id", str), "key": ("key", _same), "name": ("name", _same), "order": ("order", _same),
            "kind": ("kind", _enum(e.StageKind)), "probability": ("probability", _same),
            "expectedDurationDays": ("expected_duration_days", _same),
            "forecastCategory": ("forecast_category", _enum(e.ForecastCategory)),
        },
    ),
}


class Unsupported(Exception):
    """The document needs standard execution."""


# Plans ---------------------------------------------------------------------------------


@dataclass
class ObjectPlan:
    type_name: str
    columns: set[str]
    # (response key, kind, payload): kind is "scalar" | "computed" | "one" | "many" | "typename"
    fields: list[tuple[str, str, Any]]


def _plan_object(type_name: str, selections, depth: int = 0) -> ObjectPlan:
    if depth > 6:
        raise Unsupported("too deep")
    spec = TYPES[type_name]
    plan = ObjectPlan(type_name, {"id"}, [])
    for node in selections:
        if not isinstance(node, FieldNode) or node.directives or node.arguments:
            raise Unsupported("fragments, directives or arguments")
        name, key = node.name.value, (node.alias or node.name).value
        if name == "__typename":
            plan.fields.append((key, "typename", type_name))
        elif name in spec.scalars:
            column, serialize = spec.scalars[name]
            plan.columns.add(column)
            plan.fields.append((key, "scalar", (column, serialize)))
        elif name in spec.computed:
            plan.columns.update(spec.computed[name].columns)
            plan.fields.append((key, "computed", spec.computed[name]))
        elif name in spec.derived:
            plan.columns.update(spec.derived[name].columns)
            plan.fields.append((key, "derived", spec.derived[name]))
        elif name in spec.relations:
            relation = spec.relations[name]
            if isinstance(relation, One) and relation.column is not None:
                if node.selection_set:
                    raise Unsupported("selection on a scalar")
                target = ObjectPlan(relation.type_name, {"id", relation.column}, [])
            else:
                if not node.selection_set:
                    raise Unsupported("object without selection")
                target = _plan_object(relation.type_name, node.selection_set.selections, depth + 1)
            plan.columns.add(relation.fk if isinstance(relation, One) else "id")
            plan.fields.append((key, "one" if isinstance(relation, One) else "many", (relation, target)))
        else:
            raise Unsupported(f"{type_name}.{name}")
    return plan


@dataclass
class ConnectionPlan:
    node: ObjectPlan
    # (response key, what): what is "totalCount" | "pageInfo" | "edges" | "nodes"
    fields: list[tuple[str, str, Any]]


def _plan_connection(selections) -> ConnectionPlan:
    node_plan: ObjectPlan | None = None
    fields: list[tuple[str, str, Any]] = []

    def merge(plan: ObjectPlan) -> ObjectPlan:
        if node_plan is not None and node_plan.fields != plan.fields:
            raise Unsupported("edges and nodes with different selections")
        return plan

    for node in selections:
        if not isinstance(node, FieldNode) or node.directives or node.arguments:
            raise Unsupported("fragments, directives or arguments")
        name, key = node.name.value, (node.alias or node.name).value
        if name == "totalCount":
            fields.append((key, "totalCount", None))
        elif name == "pageInfo":
            parts = []
            for sub in node.selection_set.selections:
                if not isinstance(sub, FieldNode) or sub.name.value not in (
                        "hasNextPage", "hasPreviousPage", "startCursor", "endCursor"):
                    raise Unsupported("pageInfo field")
                parts.append(((sub.alias or sub.name).value, sub.name.value))
            fields.append((key, "pageInfo", parts))
        elif name == "nodes":
            node_plan = merge(_plan_object("Opportunity", node.selection_set.selections))
            fields.append((key, "nodes", None))
        elif name == "edges":
            parts = []
            for sub in node.selection_set.selections:
                if not isinstance(sub, FieldNode) or sub.directives:
                    raise Unsupported("edge field")
                if sub.name.value == "cursor":
                    parts.append(((sub.alias or sub.name).value, "cursor"))
                elif sub.name.value == "node":
                    node_plan = merge(_plan_object("Opportunity", sub.selection_set.selections))
                    parts.append(((sub.alias or sub.name).value, "node"))
                else:
                    raise Unsupported("edge field")
            fields.append((key, "edges", parts))
        else:
            raise Unsupported(f"connection field {name}")
    return ConnectionPlan(node_plan or ObjectPlan("Opportunity", {"id"}, []), fields)


@dataclass
class QueryPlan:
    document: DocumentNode
    operation: OperationDefinitionNode
    root: FieldNode
    root_key: str
    kind: str  # "list" | "node"
    plan: ObjectPlan | ConnectionPlan
    render: Callable[[Any, dict], dict | None] | None = None

    def __post_init__(self) -> None:
        node = self.plan.node if isinstance(self.plan, ConnectionPlan) else self.plan
        self.render = compile_renderer(node)
        self.reads_clock = _reads_clock(node)


def _reads_clock(plan: ObjectPlan) -> bool:
    """Whether a response of this plan depends on the time it is rendered (then only its data is cached)."""
    for _, kind, payload in plan.fields:
        if kind == "derived" or (kind == "computed" and payload.reads_clock):
            return True
        if kind in ("one", "many") and _reads_clock(payload[1]):
            return True
    return False


def _count_aliases(node) -> int:
    selection_set = getattr(node, "selection_set", None)
    inner = sum(_count_aliases(child) for child in selection_set.selections) if selection_set else 0
    return inner + (1 if getattr(node, "alias", None) else 0)


def compile_document(schema: GraphQLSchema, query: str, operation_name: str | None) -> QueryPlan:
    settings = get_settings()
    # The abuse limits of standard execution hold here too: past them, standard execution refuses.
    document = parse(query, max_tokens=settings.max_tokens)
    if sum(_count_aliases(d) for d in document.definitions) > settings.max_aliases:
        raise Unsupported("too many aliases")
    if validate(schema, document):
        raise Unsupported("invalid document: standard execution reports the errors")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(document.definitions) != len(operations) or len(operations) != 1:
        raise Unsupported("fragments or several operations")
    operation = operations[0]
    if operation.operation != OperationType.QUERY or operation.directives:
        raise Unsupported("not a plain query")
    if operation_name is not None and (operation.name is None or operation.name.value != operation_name):
        raise Unsupported("operation name mismatch")
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode) or roots[0].directives:
        raise Unsupported("one root field only")
    root = roots[0]
    key = (root.alias or root.name).value
    if root.name.value == "opportunities":
        return QueryPlan(document, operation, root, key, "list", _plan_connection(root.selection_set.selections))
    if root.name.value == "opportunity":
        return QueryPlan(document, operation, root, key, "node", _plan_object("Opportunity", root.selection_set.selections))
    raise Unsupported("root field")


# Execution -----------------------------------------------------------------------------


async def _fetch(model: type[Model], columns: list[str], key: str, ids: list[int], order_by: tuple[str, ...]) -> list:
    """Rows of `model` whose `key` is in `ids`: straight through asyncpg on PostgreSQL (records, no
    model objects), through Tortoise's values() elsewhere. Both rows are read as row["column"]."""
    db = connections.get("default")
    if db.capabilities.dialect != "postgres":
        return await model.filter(**{f"{key}__in": ids}).order_by(*order_by).values(*columns)
    sql = _fetch_sql(model._meta.db_table, tuple(columns), key, order_by)
    async with db.acquire_connection() as conn:
        return await conn.fetch(sql, ids)


@lru_cache(maxsize=512)
def _fetch_sql(table: str, columns: tuple[str, ...], key: str, order_by: tuple[str, ...]) -> str:
    order = ", ".join(f'"{o[1:]}" DESC' if o.startswith("-") else f'"{o}" ASC' for o in order_by)
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'SELECT {cols} FROM "{table}" WHERE "{key}" = ANY($1::int[]) ORDER BY {order}'


async def _load(plan: ObjectPlan, rows: list, lookups: dict[int, dict], scope: Scope) -> None:
    """Fetch every relation of these rows into `lookups`, level by level: at each level the to-one
    relations that point to the same table (the deal's owner, the account's owner, who logged each
    activity…) are read in ONE query, each to-many relation in one query, and all of a level's
    queries run concurrently on pooled connections. Rows the caller may not read are dropped (a
    hidden to-one target renders as null, a hidden child is left out), as the DataLoaders do."""
    level: list[tuple[ObjectPlan, list]] = [(plan, rows)]
    while level:
        to_one: dict[str, list[tuple[One, ObjectPlan, list]]] = defaultdict(list)
        reads = []
        for parent, parent_rows in level:
            for _, kind, payload in parent.fields:
                if kind == "one":
                    relation, target = payload
                    to_one[target.type_name].append((relation, target, parent_rows))
                elif kind == "many":
                    reads.append(_load_many(*payload, parent_rows, lookups, scope))
                elif kind == "derived":
                    reads.append(_load_derived(payload, parent_rows, lookups))
        reads += [_load_one(type_name, wanted, lookups, scope) for type_name, wanted in to_one.items()]
        level = [pair for pairs in await asyncio.gather(*reads) for pair in pairs]


async def _load_one(type_name: str, wanted: list[tuple[One, ObjectPlan, list]], lookups: dict[int, dict],
                    scope: Scope) -> list:
    ids = {row[relation.fk] for relation, _, rows in wanted for row in rows} - {None}
    columns = set().union(*(target.columns for _, target, _ in wanted))
    model = TYPES[type_name].model
    found = {row["id"]: row for row in await _fetch(model, sorted(columns), "id", list(ids), ("id",))} \
        if ids else {}
    readable = found
    if not all(relation.implied for relation, _, _ in wanted):
        allowed = await visible_ids(model, scope, found)
        if allowed is not None:
            readable = {i: row for i, row in found.items() if i in allowed}
    deeper = []
    for relation, target, rows in wanted:
        targets = lookups[id(target)] = found if relation.implied else readable
        if any(k in ("one", "many", "derived") for _, k, _ in target.fields):
            mine = {row[relation.fk] for row in rows} - {None}
            deeper.append((target, [targets[i] for i in mine if i in targets]))
    return [(target, children) for target, children in deeper if children]


async def _load_many(relation: Many, target: ObjectPlan, rows: list, lookups: dict[int, dict], scope: Scope) -> list:
    ids = [row["id"] for row in rows]
    model = TYPES[target.type_name].model
    children = await _fetch(model, sorted(target.columns | {relation.fk}), relation.fk, ids,
                            relation.order_by) if ids else []
    if not relation.implied:
        allowed = await visible_ids(model, scope, [child["id"] for child in children])
        if allowed is not None:
            children = [child for child in children if child["id"] in allowed]
    grouped: dict[int, list] = defaultdict(list)
    for child in children:
        grouped[child[relation.fk]].append(child)
    lookups[id(target)] = grouped
    return [(target, children)] if children else []


async def _load_derived(derived: Derived, rows: list, lookups: dict[int, dict]) -> list:
    lookups[id(derived)] = await derived.load(rows) if rows else {}
    return []


def compile_renderer(plan: ObjectPlan) -> Callable[[Any, dict], dict | None]:
    """Turn a plan into straight-line Python: one dict literal per object type, no per-field calls
    beyond the scalar serializers (this is what replaces graphql-core's field-by-field resolution)."""
    namespace: dict[str, Any] = {}
    functions: list[str] = []

    def emit(obj: ObjectPlan) -> str:
        name = f"render_{len(functions)}_{obj.type_name}"
        functions.append("")  # reserve the slot: nested objects are emitted first
        slot = len(functions) - 1
        items = []
        for key, kind, payload in obj.fields:
            if kind == "scalar":
                column, serialize = payload
                if serialize is _same:
                    expr = f"row[{column!r}]"
                else:
                    namespace[f"s_{id(serialize)}"] = serialize
                    expr = f"s_{id(serialize)}(row[{column!r}])"
            elif kind == "one":
                relation, target = payload
                lookup = f"lookups[{id(target)}].get(row[{relation.fk!r}])"
                if relation.column is not None:
                    expr = f"_project({lookup}, {relation.column!r})"
                else:
                    expr = f"{emit(target)}({lookup}, lookups)"
            elif kind == "many":
                _, target = payload
                expr = f"[{emit(target)}(c, lookups) for c in lookups[{id(target)}].get(row['id'], ())]"
            elif kind == "computed":
                namespace[f"c_{id(payload)}"] = payload.fn
                expr = f"c_{id(payload)}(row)"
            elif kind == "derived":
                namespace[f"d_{id(payload)}"] = payload.value
                expr = f"d_{id(payload)}(lookups[{id(payload)}][row['id']], row)"
            else:
                expr = repr(payload)
            items.append(f"{key!r}: {expr}")
        functions[slot] = (f"def {name}(row, lookups):\n    if row is None:\n        return None\n"
                           f"    return {{{', '.join(items)}}}\n")
        return name

    root = emit(plan)
    namespace["_project"] = lambda child, column: None if child is None else child[column]
    exec(compile("\n".join(functions), f"<fastpath plan {plan.type_name}>", "exec"), namespace)  # noqa: S102
    return namespace[root]


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
    rows = await _fetch(m.Opportunity, sorted(plan.plan.columns | {"assigned_to_id"}), "id", [pk], ("id",))
    rows = [row for row in rows if opportunity_visible(scope, row["assigned_to_id"])]
    lookups: dict[int, dict] = {}
    await _load(plan.plan, rows, lookups, scope)
    return NodeData(rows, lookups)


async def _page_data(plan: QueryPlan, args: dict, scope: Scope) -> PageData:
    connection: ConnectionPlan = plan.plan
    order = args.get("order_by") or OpportunityOrder()
    columns = sorted(connection.node.columns | {order.field.value})
    page = await paginate(opportunity_query(args.get("filter"), opportunity_filter(scope)), first=args.get("first"),
                          after=args.get("after"), sort_field=order.field.value,
                          descending=order.direction.value == "desc", columns=columns)
    lookups: dict[int, dict] = {}
    await _load(connection.node, page.rows, lookups, scope)
    return PageData(page, lookups)


async def _total_count(args: dict, scope: Scope) -> int:
    return await opportunity_query(args.get("filter"), opportunity_filter(scope)).count()


def _render_page(plan: QueryPlan, data: PageData, total: int | None) -> dict:
    page, lookups, render = data.page, data.lookups, plan.render
    nodes = [render(row, lookups) for row in page.rows]
    out: dict[str, Any] = {}
    for key, what, parts in plan.plan.fields:
        if what == "totalCount":
            out[key] = total
        elif what == "nodes":
            out[key] = nodes
        elif what == "pageInfo":
            info = {"hasNextPage": page.has_next_page, "hasPreviousPage": page.has_previous_page,
                    "startCursor": page.cursors[0] if page.cursors else None,
                    "endCursor": page.cursors[-1] if page.cursors else None}
            out[key] = {alias: info[name] for alias, name in parts}
        else:
            out[key] = [{alias: (cursor if part == "cursor" else node) for alias, part in parts}
                        for cursor, node in zip(page.cursors, nodes, strict=True)]
    return out


class FastPath:
    """Compiled plans per document (bounded LRU), their execution, and (with a read cache) the results
    of their queries per visibility scope, valid until the next commit to a table they read."""

    def __init__(self, schema, max_plans: int = 256, cache: ReadCache | None = None) -> None:
        self.schema = schema
        self.graphql_schema: GraphQLSchema = schema._schema
        self.plans: OrderedDict[tuple[str, str | None], QueryPlan | None] = OrderedDict()
        self.max_plans = max_plans
        self.cache = cache
        self._in_flight: dict[tuple, asyncio.Future] = {}

    def plan_for(self, query: str, operation_name: str | None) -> QueryPlan | None:
        key = (query, operation_name)
        if key in self.plans:
            self.plans.move_to_end(key)
            return self.plans[key]
        try:
            plan = compile_document(self.graphql_schema, query, operation_name)
        except (Unsupported, GraphQLError):
            plan = None
        self.plans[key] = plan
        if len(self.plans) > self.max_plans:
            self.plans.popitem(last=False)
        return plan

    def _arguments(self, plan: QueryPlan, variables: dict | None) -> dict | None:
        coerced = get_variable_values(self.graphql_schema, plan.operation.variable_definitions or [], variables or {})
        if isinstance(coerced, list):
            return None  # variable errors: standard execution reports them
        field_def = self.graphql_schema.query_type.fields[plan.root.name.value]
        raw = get_argument_values(field_def, plan.root, coerced)
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
        The same authentication as standard execution (app.services.auth); the token's signature and
        expiry are checked on every request, the database check is cached until a commit to users,
        sessions (revocations) or API keys (revocations) voids it."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            credential = auth.read_credential(token.strip())
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
                      authorization: str | None) -> bytes | None:
        """The response body, or None when the request must take standard execution."""
        plan = self.plan_for(query, operation_name)
        if plan is None:
            return None
        try:
            args = self._arguments(plan, variables)
        except GraphQLError:
            return None
        if args is None:
            return None
        scope = await self._scope(authorization)
        if scope is None:
            return None
        # Priced and charged like standard execution; refusals are left to it (nothing charged here).
        cost = await admit_compiled(self.graphql_schema, plan.document, operation_name, variables, scope.user_id)
        if cost is None:
            return None
        # Results depend on what the sharing model reads of the caller (Scope.sharing_key; admins:
        # everything), not on who asks, and on the variables the document declares (others are
        # ignored, so they must not make new entries).
        declared = {d.variable.name.value for d in plan.operation.variable_definitions or ()}
        used = {k: v for k, v in (variables or {}).items() if k in declared}
        reads = (scope.sharing_key, query, operation_name, orjson.dumps(used, option=orjson.OPT_SORT_KEYS))
        try:
            if plan.reads_clock:  # cache the data, render every time
                return with_extensions(await self._respond(plan, args, scope, reads, cache_data=True), cost)
            # Nothing depends on the clock: the response itself is what is cached.
            return with_extensions(await self._cached(("response", *reads), lambda: self._respond(plan, args, scope, reads),
                                                      lambda body: 1 + len(body) // RESPONSE_BYTES_PER_ROW), cost)
        except (ValidationFailed, NotAuthenticated, Unsupported):
            return None

    async def _respond(self, plan: QueryPlan, args: dict, scope: Scope, reads: tuple, cache_data: bool = False) -> bytes:
        if plan.kind == "node":
            data = await self._node(plan, args, scope, reads, cache_data)
        else:
            data = await self._list(plan, args, scope, reads, cache_data)
        return orjson.dumps({"data": {plan.root_key: data}})

    async def _maybe_cached(self, cache_data: bool, key: tuple, load, size):
        return await (self._cached(key, load, size) if cache_data else load())

    async def _node(self, plan: QueryPlan, args: dict, scope: Scope, reads: tuple, cache_data: bool) -> dict | None:
        from app.api.errors import parse_id

        try:
            pk = parse_id(args["id"], "id")
        except ValidationFailed:
            return None
        data = await self._maybe_cached(cache_data, ("node", *reads), lambda: _node_data(plan, pk, scope),
                                        lambda d: _size(d.rows, d.lookups))
        return plan.render(data.rows[0], data.lookups) if data.rows else None

    async def _list(self, plan: QueryPlan, args: dict, scope: Scope, reads: tuple, cache_data: bool) -> dict:
        counting = any(what == "totalCount" for _, what, _ in plan.plan.fields)
        page = self._maybe_cached(cache_data, ("page", *reads), lambda: _page_data(plan, args, scope),
                                  lambda d: _size(d.page.rows, d.lookups))
        if not counting:
            return _render_page(plan, await page, None)
        # The count does not depend on the page: other pages (and orders) of the same list share it.
        count = self._cached(("count", scope.sharing_key, repr(args.get("filter"))), lambda: _total_count(args, scope))
        data, total = await asyncio.gather(page, count)
        return _render_page(plan, data, total)
