"""Query cost: a static price per operation, computed from the parsed document before anything runs.

The price counts the objects an operation may fetch:
- a field returning an object (or a list of them) costs 1 per object it may return;
- a list field with `first` (or `last`) may return that many (its default when the client sends none);
  any other list field is assumed to hold `cost_assumed_list_size` items (an estimate: relation lists
  such as Account.contacts have no page argument);
- the lists inside a connection (edges, nodes) are the connection's page, not a second multiplication;
- counts multiply through nesting, aliases are priced one by one, fragments where they are spread;
- scalar fields are free; introspection fields (`__schema`, `__type`) cost 1 each (their depth is
  bounded by the depth limit); each mutation field costs `cost_per_mutation_field` on top.

An operation above `max_query_cost` is refused with QUERY_TOO_COSTLY before any resolver runs. Below it,
the price is charged to the caller's budget (app/services/query_budget.py); over budget: RATE_LIMITED
with retryAfter (HTTP 429). Every response carries `extensions.cost`:
{requested, maximum, budgetRemaining, budgetCapacity, refillPerSecond}, budgetRemaining null when the
budget was not consulted (switched off, Redis unreachable, or the document never got to execution).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInt,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    value_from_ast,
)
from graphql.language import VariableNode
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from app.queries.pagination import DEFAULT_PAGE_SIZE
from app.services.query_budget import Charge, budget
from app.settings import get_settings

PAGE_ARGUMENTS = ("first", "last")


def _page_size(field: FieldNode, definition: Any, variables: dict) -> int | None:
    """The number of items a paged field may return, or None when it takes no page argument."""
    for name in PAGE_ARGUMENTS:
        argument = definition.args.get(name)
        if argument is None:
            continue
        node = next((a.value for a in field.arguments or () if a.name.value == name), None)
        value = None
        if node is not None and not (isinstance(node, VariableNode) and node.name.value not in variables):
            value = value_from_ast(node, GraphQLInt, variables)
        if value is None or not isinstance(value, int):
            default = argument.default_value
            value = default if isinstance(default, int) else DEFAULT_PAGE_SIZE
        return max(0, value)
    return None


def _is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection")


@dataclass
class _Pricer:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict
    assumed_list_size: int

    def selection_cost(self, parent: Any, selection_set: SelectionSetNode | None, multiplier: int,
                       spread: frozenset[str] = frozenset()) -> int:
        total = 0
        for field, owner in self.fields(parent, selection_set, spread):
            total += self.field_cost(owner, field, multiplier, spread)
        return total

    def fields(self, parent: Any, selection_set: SelectionSetNode | None,
                spread: frozenset[str]) -> Iterator[tuple[FieldNode, Any]]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                owner = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                yield from self.fields(owner, selection.selection_set, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    continue  # unknown or cyclic: validation reports it
                owner = self.schema.get_type(fragment.type_condition.name.value)
                yield from self.fields(owner, fragment.selection_set, spread | {name})

    def field_cost(self, parent: Any, field: FieldNode, multiplier: int, spread: frozenset[str]) -> int:
        name = field.name.value
        if name.startswith("__"):
            return 0 if name == "__typename" else multiplier
        definition = getattr(parent, "fields", {}).get(name)
        if definition is None:
            return 0  # unknown field (validation reports it) or a union's member not selected by type
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        count = _page_size(field, definition, self.variables)
        if count is None:
            is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
            count = self.assumed_list_size if is_list and not _is_connection(parent) else 1
        fetched = multiplier * count
        return fetched + self.selection_cost(named, field.selection_set, fetched, spread)


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                   variables: dict | None) -> int:
    """The static cost of the operation the request runs (0 when there is no such operation)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name is not None and op.name.value == operation_name]
    if len(operations) != 1:
        return 0  # the executor reports a missing or ambiguous operation
    operation = operations[0]
    settings = get_settings()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    pricer = _Pricer(schema, fragments, variables or {}, settings.cost_assumed_list_size)
    root = schema.get_root_type(operation.operation)
    cost = pricer.selection_cost(root, operation.selection_set, 1)
    if operation.operation == OperationType.MUTATION:
        cost += settings.cost_per_mutation_field * sum(1 for _ in pricer.fields(root, operation.selection_set, frozenset()))
    return cost


def cost_extension(requested: int, charge: Charge | None) -> dict:
    settings = get_settings()
    return {
        "requested": requested,
        "maximum": settings.max_query_cost,
        "budgetRemaining": None if charge is None else charge.remaining,
        "budgetCapacity": settings.cost_budget_capacity,
        "refillPerSecond": settings.cost_budget_refill_per_second,
    }


def too_costly(requested: int) -> GraphQLError:
    maximum = get_settings().max_query_cost
    return GraphQLError(
        f"query cost {requested} exceeds the maximum of {maximum}: ask for fewer items (first) or fewer nested lists",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": requested, "maximum": maximum})


def rate_limited(requested: int, charge: Charge) -> GraphQLError:
    return GraphQLError(
        f"query budget exhausted: this query costs {requested}, {charge.remaining} left; retry in {charge.retry_after} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": charge.retry_after, "cost": requested,
                    "budgetRemaining": charge.remaining})


def caller_key(user_id: int | None, client_host: str | None) -> str:
    """Whose bucket pays: the authenticated user (an API key's service account too), else the address."""
    return f"user:{user_id}" if user_id is not None else f"addr:{client_host or 'unknown'}"


async def admit(requested: int, caller: str) -> Charge | None:
    """Charge the budget for an operation under the maximum; None for one above it (nothing charged)."""
    if requested > get_settings().max_query_cost:
        return None
    return await budget.charge(caller, requested)


def page_variables(document: DocumentNode) -> frozenset[str]:
    """The variables the price of a document reads (those given to `first`/`last`): equal values, equal price."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        for argument in getattr(node, "arguments", None) or ():
            if argument.name.value in PAGE_ARGUMENTS and isinstance(argument.value, VariableNode):
                names.add(argument.value.name.value)
        selection_set = getattr(node, "selection_set", None)
        for child in selection_set.selections if selection_set else ():
            visit(child)

    for definition in document.definitions:
        visit(definition)
    return frozenset(names)


async def admit_compiled(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                         variables: dict | None, user_id: int, requested: int | None = None) -> dict | None:
    """For the compiled read path: the cost extension of an admitted request, or None to let standard
    execution refuse it (nothing is charged then, so the refusal is not paid twice). `requested`: the
    operation's price when the caller already knows it (operation_cost for the same variables)."""
    if requested is None:
        requested = operation_cost(schema, document, operation_name, variables)
    charge = await admit(requested, caller_key(user_id, None))
    if charge is None or not charge.admitted:
        return None
    return cost_extension(requested, charge)


async def refund_compiled(user_id: int, cost: dict) -> None:
    """The compiled path admitted a request, then left it to standard execution, which charges it
    again: give the first charge back, so a fallback is paid once."""
    if cost.get("budgetRemaining") is not None:
        await budget.refund(caller_key(user_id, None), int(cost["requested"]))


def with_extensions(body: bytes, cost: dict) -> bytes:
    """Add `extensions.cost` to a serialised {"data": …} response."""
    return body[:-1] + extensions_tail(cost)


def extensions_tail(cost: dict) -> bytes:
    """What follows a serialised {"data": …} response's last byte but one (its closing brace) to add `extensions.cost`."""
    return b',"extensions":{"cost":' + orjson.dumps(cost) + b"}}"


class QueryCost(SchemaExtension):
    """Standard execution (HTTP and WebSocket): refuse or charge before execution, report after."""

    def __init__(self, *, execution_context=None) -> None:
        self.requested = 0
        self.charge: Charge | None = None

    async def on_execute(self):
        ctx = self.execution_context
        schema = ctx.schema._schema
        document = ctx.graphql_document
        assert document is not None  # strawberry parses (and validates) before execution
        self.requested = operation_cost(schema, document, ctx.operation_name, ctx.variables)
        if self.requested > get_settings().max_query_cost:
            self.charge = await budget.charge(self._caller(), 0)  # only to report what is left
            raise too_costly(self.requested)
        self.charge = await budget.charge(self._caller(), self.requested)
        if not self.charge.admitted:
            response = getattr(ctx.context, "response", None)
            if isinstance(response, Response):  # HTTP; on a WebSocket the error itself says it
                response.status_code = 429
                response.headers["Retry-After"] = str(self.charge.retry_after)
            raise rate_limited(self.requested, self.charge)
        yield

    def _caller(self) -> str:
        context = self.execution_context.context
        user = getattr(context, "user", None)
        client = getattr(getattr(context, "request", None), "client", None)
        return caller_key(getattr(user, "id", None), getattr(client, "host", None))

    def get_results(self) -> dict:
        return {"cost": cost_extension(self.requested, self.charge)}
