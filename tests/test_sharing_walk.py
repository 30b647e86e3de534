"""The sharing model, checked on every object field of the schema, as every role, on both read paths.

The walk enumerates the GraphQL schema from the Query root: for each object type it finds a path from a
root field, and asks for every field of that type that returns an object or a list of objects (and, as
`__typename id`, every field that returns an interface: `SearchHit.node`). The
fixture makes relations cross scope boundaries (a rep's deal on another rep's account, an account whose
parent, subsidiary, team member and interactions belong to the other team…). Every record that comes
back (anything with `__typename` and `id`) is checked against an oracle written here from the README's
"Who sees what" table, independently of app.queries.visibility. A field added later is walked
automatically; the test fails if the fixture leaves it empty (no coverage), and if a root field needs
arguments the test does not know how to give.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType

from app import models as m
from app.api.app import create_app
from app.api.schema import schema
from app.domain.changelog import Position, decode_cursor, encode_cursor
from app.domain.enums import ActivityType, InteractionType, Role, TeamRole
from app.domain.global_ids import decode_global_id, global_id, node_type_of
from app.services import competition
from app.services.lost_reasons import ensure_default_lost_reasons
from app.queries.visibility import NODE_MODELS, scope_for
from tests import factories

GRAPHQL = schema._schema


def _object_type(name: str) -> GraphQLObjectType:
    t = GRAPHQL.get_type(name)
    assert isinstance(t, GraphQLObjectType), name
    return t


QUERY = _object_type("Query")


def _unwrap(t):
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _object_fields(t: GraphQLObjectType) -> list[str]:
    return [name for name, f in t.fields.items() if isinstance(_unwrap(f.type), GraphQLObjectType)]


def _interface_fields(t: GraphQLObjectType) -> list[str]:
    """Fields returning an interface (`SearchHit.node: Node!`): asked for as `__typename id`, each record
    checked like any other."""
    return [name for name, f in t.fields.items() if isinstance(_unwrap(f.type), GraphQLInterfaceType)]


# The world ------------------------------------------------------------------------------------


@dataclass
class World:
    """Plain facts about every record, for the oracle (no visibility code involved)."""

    records: dict[str, dict[int, dict]] = field(default_factory=lambda: defaultdict(dict))
    ids: dict[str, int] = field(default_factory=dict)

    def add(self, typename: str, obj, key: str | None = None, **facts) -> None:
        self.records[typename][obj.id] = facts
        if key:
            self.ids[key] = obj.id


async def _add_lost_reasons(w: World) -> None:
    await ensure_default_lost_reasons()
    for reason in await m.LostReason.all():
        w.add("LostReason", reason)


async def _add_field_history(w: World, changed_by, now: datetime) -> None:
    """Field history on every deal, account and contact, each changed by someone outside A's scope."""
    for typename, column in (("Opportunity", "opportunity_id"), ("Account", "account_id"), ("Contact", "contact_id")):
        for pk in list(w.records[typename]):
            columns: dict[str, Any] = {column: pk}
            facts: dict[str, Any] = {typename.lower(): pk}
            entry = await m.FieldHistoryEntry.create(**columns, field="name", before="a", after="b",
                                                     changed_by=changed_by, changed_at=now)
            w.add("FieldHistoryEntry", entry, **facts)


async def _build(team) -> World:
    w = World()
    A, B, M1, M2, ADMIN = team.rep.user, team.other_rep.user, team.manager.user, team.other_manager.user, team.admin.user
    for u in (A, B, M1, M2, ADMIN):
        w.add("User", u, user=u.id)

    async def account(owner, name, key, **extra):
        acct = await factories.account(owner, name, headquarters={"street": f"{name} HQ"}, **extra)
        w.add("Account", acct, key, owner=owner.id)
        return acct

    b_parent = await account(B, "B Parent Group", "b_parent")
    b_acct = await account(B, "B Bistro", "b_acct", parent_id=b_parent.id)
    a_acct = await account(A, "A Diner", "a_acct")
    # A's account sits under B's, and has a subsidiary that B owns (made by B's manager: a parent B can see).
    await m.Account.filter(id=a_acct.id).update(parent_id=b_acct.id)
    a_sub = await account(B, "A Diner Annex", "a_sub")
    await m.Account.filter(id=a_sub.id).update(parent_id=a_acct.id)

    async def team_member(acct, user):
        tm = await m.AccountTeamMember.create(account_id=acct.id, user=user, role=TeamRole.SUPPORT,
                                              start_date=date(2026, 1, 1))
        w.add("AccountTeamMember", tm, account=acct.id, user=user.id)

    await team_member(a_acct, B)   # someone outside A's scope on A's account
    await team_member(b_acct, M2)  # B's manager on B's account

    for acct in (a_acct, b_acct, b_parent, a_sub):
        contact = await m.Contact.create(account=acct, first_name="C", last_name=acct.name, email=f"c{acct.id}@x.test")
        w.add("Contact", contact, f"contact_{acct.id}", account=acct.id)
        contract = await m.Contract.create(account=acct, name=f"K {acct.name}", value=Decimal("777777.00"),
                                           start_date=date(2026, 1, 1), end_date=date(2027, 1, 1))
        w.add("Contract", contract, account=acct.id)
        location = await m.Location.create(account=acct, name="Main", street=f"{acct.id} Secret St", city="X",
                                           region="R", postal_code="1", country="US")
        w.add("Location", location, account=acct.id)

    now = datetime.now(timezone.utc)
    product = await factories.product(ADMIN, "BRI-12", "87.25")
    w.add("Product", product)

    async def opportunity(owner, acct, name, key, contact_key):
        # Made by the account's owner, then handed to `owner`: a deal on someone else's account.
        account_owner = await m.User.get(id=w.records["Account"][acct.id]["owner"])
        opp = await factories.opportunity(account_owner, acct.id, name, contact_id=w.ids[contact_key],
                                          expected_close_date=now.date() + timedelta(days=1))
        # Long in its stage, so stale: every deal is on the at-risk list of whoever may see it.
        await m.Opportunity.filter(id=opp.id).update(assigned_to_id=owner.id, stage_entered_at=now - timedelta(days=30))
        w.add("Opportunity", opp, key, owner=owner.id, account=acct.id)
        # A supply contract (2 cases a week for a year), so the volume fields have something to sum.
        line = await m.OpportunityProduct.create(opportunity=opp, product=product, quantity=Decimal("2"),
                                                 unit_price=Decimal("87.25"), contract_weeks=52,
                                                 total_price=Decimal("9074.00"))
        w.add("OpportunityProduct", line, opportunity=opp.id)
        activity = await m.OpportunityActivity.create(opportunity=opp, type=ActivityType.CALL, subject="call",
                                                      completed_at=now, created_by=B)
        w.add("OpportunityActivity", activity, opportunity=opp.id)
        document = await m.OpportunityDocument.create(opportunity=opp, name="menu", url="https://d.example/m.pdf")
        w.add("OpportunityDocument", document, opportunity=opp.id)
        for transition in await m.StageTransition.filter(opportunity_id=opp.id):
            transition.by_id = B.id  # someone outside A's scope moved it
            await transition.save()
            w.add("StageTransition", transition, opportunity=opp.id)
        return opp

    a_on_b = await opportunity(A, b_acct, "A's deal on B's account", "a_on_b", f"contact_{b_acct.id}")
    b_on_a = await opportunity(B, a_acct, "B's deal on A's account", "b_on_a", f"contact_{a_acct.id}")

    # B lost a deal on B's account against the rival; the history shows a move out of a stage.
    lost = await opportunity(B, b_acct, "B's lost deal", "b_lost", f"contact_{b_acct.id}")
    lost_stage = await m.PipelineStage.get(pipeline_id=lost.pipeline_id, key="closed_lost")
    await m.StageTransition.create(opportunity=lost, from_stage_id=lost.stage_id, to_stage=lost_stage, at=now, by=B,
                                   amount_after=lost.value, probability_after=0)
    await m.Opportunity.filter(id=lost.id).update(stage_id=lost_stage.id, lost_reason_key="price", actual_close_date=now.date())
    for transition in await m.StageTransition.filter(opportunity_id=lost.id):
        w.add("StageTransition", transition, opportunity=lost.id)
    # B won a deal on A's account: A sees the account, never the deal, nor its volume in the account's.
    won = await opportunity(B, a_acct, "B's won deal", "b_won", f"contact_{a_acct.id}")
    won_stage = await m.PipelineStage.get(pipeline_id=won.pipeline_id, key="closed_won")
    await m.Opportunity.filter(id=won.id).update(stage_id=won_stage.id, probability=100, actual_close_date=now.date())

    rival = await m.Competitor.create(name="Sysco-ish")
    w.add("Competitor", rival, "rival")
    await _add_lost_reasons(w)
    card = await m.BattleCard.create(competitor=rival, title="Beat them", summary="s",
                                     objection_handling=[{"objection": "price", "response": "quality"}])
    w.add("BattleCard", card)
    scope_a = await scope_for(A)
    await competition.add_opportunity_competitor(scope_a, a_on_b.id, rival.id)
    await competition.add_opportunity_competitor(await scope_for(B), b_on_a.id, rival.id)
    await (await m.Opportunity.get(id=lost.id)).competitors.add(rival)

    for acct, author, contact_acct, opp in ((a_acct, B, a_acct, b_on_a), (b_acct, B, b_acct, a_on_b)):
        interaction = await m.CustomerInteraction.create(
            account=acct, contact_id=w.ids[f"contact_{contact_acct.id}"], opportunity=opp, type=InteractionType.MEETING,
            subject="met", occurred_at=now - timedelta(days=1), created_by=author)
        w.add("CustomerInteraction", interaction, f"interaction_{acct.id}", account=acct.id)
        # Its deal's side (app.domain.contact_log): the activity that links to it.
        linked = await m.OpportunityActivity.create(opportunity=opp, type=ActivityType.MEETING, subject="met",
                                                    completed_at=interaction.occurred_at, created_by=author,
                                                    interaction=interaction)
        w.add("OpportunityActivity", linked, opportunity=opp.id)
        participant = await m.InteractionParticipant.create(interaction=interaction,
                                                            contact_id=w.ids[f"contact_{contact_acct.id}"])
        w.add("InteractionParticipant", participant, account=acct.id, contact_account=contact_acct.id)
        await m.AccountHealthSnapshot.create(account=acct, score=50, risk_level="medium", computed_at=now, factors=[
            {"name": "engagement", "score": 12, "impact": "neutral", "detail": "d"}])

    for assignee, opp in ((A, b_on_a), (B, a_on_b)):
        task = await m.Task.create(title="follow up", assignee=assignee, opportunity=opp, account_id=opp.account_id)
        w.add("Task", task, assignee=assignee.id)
    for user in (A, B, M1, M2, ADMIN):
        note = await m.Notification.create(user=user, kind="k", title="t")
        w.add("Notification", note, user=user.id)

    # The month the deals close in (tomorrow): on a month's last day that is the next month.
    period = (now + timedelta(days=1)).strftime("%Y-%m")
    snapshot = await m.ForecastSnapshot.create(period=period, method="hybrid", total_forecast=Decimal("1"),
                                               best_case=Decimal("1"), worst_case=Decimal("1"), confidence=0.5,
                                               computed_at=now)
    w.add("ForecastSnapshot", snapshot)
    hook = await m.Webhook.create(url="https://hooks.example/x", events=["opportunity.created"], secret="s" * 32)
    w.add("Webhook", hook, "hook")
    event = await m.DomainEvent.filter(opportunity_id=a_on_b.id).first()
    delivery = await m.WebhookDelivery.create(webhook=hook, event=event)
    w.add("WebhookDelivery", delivery)
    from app.services.users import create_api_key

    api_key, _secret = await create_api_key(await scope_for(ADMIN), {"name": "walk integration", "role": Role.REP})
    w.add("ApiKey", api_key)
    w.add("User", await m.User.get(id=api_key.user_id), user=api_key.user_id)
    mail = await m.OutgoingMail.create(to_address="a@x.test", subject="s", body="b", source_key="walk")
    w.add("OutgoingMail", mail)
    for pipeline in await m.Pipeline.all():
        w.add("Pipeline", pipeline)
    for stage in await m.PipelineStage.all():
        w.add("PipelineStage", stage)
    await _add_field_history(w, B, now)
    # A change-log entry for every record type, so `changes` carries each kind (checked like any relation).
    logged = (("opportunity.activity_added", "activity_id", "OpportunityActivity", "opportunity"),
              ("contact.created", "contact_id", "Contact", "account"),
              ("interaction.recorded", "interaction_id", "CustomerInteraction", "account"),
              ("notification.created", "notification_id", "Notification", "user"),
              ("task.created", "task_id", "Task", "assignee"))
    for kind, key, typename, link in logged:
        for pk, facts in w.records[typename].items():
            columns = {"opportunity": {"opportunity_id": facts.get("opportunity")},
                       "account": {"account_id": facts.get("account")},
                       "user": {"owner_id": facts.get("user")},
                       "assignee": {"owner_id": facts.get("assignee")}}[link]
            await m.DomainEvent.create(kind=kind, payload={key: pk}, **columns)
    w.ids["period"] = period  # type: ignore[assignment]
    return w


# The oracle: the README's table, in plain Python ----------------------------------------------


class Oracle:
    def __init__(self, world: World, team, actor) -> None:
        self.w = world
        user = actor.user
        self.me = user.id
        self.admin = user.role.value == "admin"
        reports = {a.user.id for a in (team.rep, team.other_rep) if a.user.manager_id == user.id}
        self.scope = {user.id} | (reports if user.role.value == "manager" else set())
        self.manager = user.manager_id

    def _owned(self, owner: int) -> bool:
        return self.admin or owner in self.scope

    def _works_on(self, account: int) -> bool:
        team = [tm for tm in self.w.records["AccountTeamMember"].values() if tm["account"] == account]
        return self._owned(self.w.records["Account"][account]["owner"]) or any(self._owned(tm["user"]) for tm in team)

    def _may_read_history(self, facts: dict) -> bool:
        """A deal's history with the deal; an account's and a contact's with the account's children."""
        if "opportunity" in facts:
            return self.may_read("Opportunity", facts["opportunity"])
        if "account" in facts:
            return self._works_on(facts["account"])
        return self._works_on(self.w.records["Contact"][facts["contact"]]["account"])

    def may_read(self, typename: str, pk: int) -> bool:
        if typename == "Change":
            # A change-log entry: its id is the changed record's; the record it carries is walked as its own type.
            return True
        facts = self.w.records[typename][pk]
        if self.admin:
            return True
        if typename == "User":
            return pk in self.scope or pk == self.manager
        if typename == "Opportunity":
            return self._owned(facts["owner"])
        if typename == "Account":
            return self._works_on(pk) or any(self._owned(o["owner"]) for o in self.w.records["Opportunity"].values()
                                              if o["account"] == pk)
        if typename in ("Contact", "Contract", "Location", "AccountTeamMember", "CustomerInteraction"):
            return self._works_on(facts["account"])
        if typename == "InteractionParticipant":
            return self._works_on(facts["account"]) and self._works_on(facts["contact_account"])
        if typename in ("OpportunityProduct", "OpportunityActivity", "OpportunityDocument", "StageTransition"):
            return self.may_read("Opportunity", facts["opportunity"])
        if typename == "FieldHistoryEntry":
            return self._may_read_history(facts)
        if typename == "Task":
            return facts["assignee"] in self.scope
        if typename == "Notification":
            return facts["user"] == self.me
        if typename in ("Product", "Pipeline", "PipelineStage", "Competitor", "BattleCard", "LostReason"):
            return True
        if typename in ("ForecastSnapshot", "Webhook", "WebhookDelivery", "OutgoingMail", "ApiKey"):
            return False
        raise AssertionError(f"the sharing model has no rule for {typename}: add it to the README and here")


# Documents from the schema -------------------------------------------------------------------


def _root_arguments(world: World) -> dict[str, list[dict]]:
    """Arguments for root fields that require some: every id of the type (hidden ones included)."""
    ids = world.records
    period = world.ids["period"]
    all_of = lambda t: [global_id(t, i) for i in ids[t]]  # noqa: E731
    every_id = [global_id(t, i) for t in sorted(ids) if t in NODE_MODELS for i in sorted(ids[t])]
    return {
        "node": [{"id": i} for i in every_id],
        "nodes": [{"ids": every_id[start:start + 100]} for start in range(0, len(every_id), 100)],
        "opportunity": [{"id": i} for i in all_of("Opportunity")],
        "account": [{"id": i} for i in all_of("Account")],
        "interaction": [{"id": i} for i in all_of("CustomerInteraction")],
        "competitor": [{"id": i} for i in all_of("Competitor")],
        "accountHealth": [{"accountId": i, "includeSubsidiaries": True} for i in all_of("Account")],
        "accountHealthHistory": [{"accountId": i} for i in all_of("Account")],
        "interactionInsights": [{"accountId": i, "timeframe": "last_30_days"} for i in all_of("Account")],
        "competitiveAnalysis": [{"opportunityId": i} for i in all_of("Opportunity")],
        "stageReadiness": [{"opportunityId": i, "stage": "closed_won"} for i in all_of("Opportunity")],
        "webhookDeliveries": [{"webhookId": i} for i in all_of("Webhook")],
        "competitorWinLoss": [{"timeframe": "this_year"}],
        "pipelineReport": [{"timeframe": "this_year"}],
        "salesForecast": [{"period": period}],
        "forecastSnapshots": [{"period": period}],
        "forecastAccuracy": [{"period": period}],
        # Names, e-mails and the product of the fixture: every searched type, hidden records among the matches.
        "search": [{"query": q, "first": 100} for q in ("diner", "bistro", "parent group", "deal", "x.test", "product bri")],
    }


def _undefined():
    from graphql.pyutils import Undefined

    return Undefined


def _paths() -> dict[str, tuple[str, ...]]:
    """The shortest field path from the Query root to each object type (breadth first)."""
    query = QUERY
    paths: dict[str, tuple[str, ...]] = {}
    frontier: list[tuple[GraphQLObjectType, tuple[str, ...]]] = [(query, ())]
    seen = {query.name}
    while frontier:
        following = []
        for t, path in frontier:
            for name in _object_fields(t):
                target = _unwrap(t.fields[name].type)
                if target.name not in seen:
                    seen.add(target.name)
                    paths[target.name] = (*path, name)
                    following.append((target, (*path, name)))
        frontier = following
    return paths


def _leaf(t: GraphQLObjectType) -> str:
    return "__typename" + (" id" if "id" in t.fields else "")


def _documents(world: World) -> tuple[list[tuple[str, dict, dict]], set[tuple[str, str]]]:
    """(document, variables, tree) per root call, and every (type, field) the documents ask for."""
    paths = _paths()
    root_args = _root_arguments(world)
    trees: dict[str, dict] = defaultdict(dict)
    edges: set[tuple[str, str]] = set()
    for typename, path in paths.items():
        t = _object_type(typename)  # every path leads to an object type
        node = trees[path[0]]
        for step in path[1:]:
            node = node.setdefault(step, {})
        for name in _object_fields(t):
            missing = [a for a, arg in t.fields[name].args.items()
                       if isinstance(arg.type, GraphQLNonNull) and arg.default_value is _undefined()]
            assert not missing, f"{typename}.{name} needs arguments {missing}: teach the walk how to give them"
            node.setdefault(name, {})
            edges.add((typename, name))
        for name in _interface_fields(t):
            node.setdefault(name, {})
            edges.add((typename, name))
    for root in QUERY.fields:
        if isinstance(_unwrap(QUERY.fields[root].type), (GraphQLObjectType, GraphQLInterfaceType)):
            trees.setdefault(root, {})
            edges.add(("Query", root))
    documents = []
    for root, tree in trees.items():
        f = QUERY.fields[root]
        required = [a for a, arg in f.args.items() if isinstance(arg.type, GraphQLNonNull)
                    and arg.default_value is _undefined()]
        calls = root_args.get(root, [{}]) if required or root in root_args else [{}]
        assert not required or root in root_args, f"Query.{root} needs {required}: add it to _root_arguments"
        for args in calls:
            declared = ", ".join(f"${a}: {f.args[a].type}" for a in args)
            passed = ", ".join(f"{a}: ${a}" for a in args)
            text = _selection(_unwrap(f.type), tree)
            document = (f"query{f'({declared})' if declared else ''} {{ {root}{f'({passed})' if passed else ''} "
                        f"{text} }}")
            documents.append((document, args, {root: tree}))
    return documents, edges


def _selection(t: GraphQLObjectType, tree: dict) -> str:
    parts = [_leaf(t)]
    for name, sub in tree.items():
        parts.append(f"{name} {_selection(_unwrap(t.fields[name].type), sub)}")
    return "{ " + " ".join(parts) + " }"


def _pk(record: dict) -> int:
    """The key behind a record's global id, which must name the record's own type (a change-log entry's
    names the changed record's)."""
    named = node_type_of(record["id"])
    assert named is not None and (named == record["__typename"] or record["__typename"] == "Change"), record
    return decode_global_id(record["id"], named)


def _records(value, t, tree, parent, seen: list, edges: dict) -> None:
    """Every (type, id) in a response, and per (type, field) the records it returned under which parent."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _records(item, t, tree, parent, seen, edges)
        return
    me = (value["__typename"], _pk(value)) if "id" in value else None
    if me:
        seen.append(me)
    for name, sub in tree.items():
        child_type = _unwrap(t.fields[name].type)
        child = value.get(name)
        children = child if isinstance(child, list) else [child]
        present = [c for c in children if c is not None]
        edges[(t.name, name)].append((me, [(c["__typename"], _pk(c)) if "id" in c else None for c in present]))
        _records(child, child_type, sub, me, seen, edges)


# Running it ------------------------------------------------------------------------------------


@pytest.fixture
async def apps(orm):
    fast, standard = create_app(manage_database=False, fast_path=True), create_app(manage_database=False, fast_path=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as f, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=standard), base_url="http://t") as s:
        yield f, s


async def _post(client, document, variables, token) -> dict:
    response = await client.post("/graphql", json={"query": document, "variables": variables},
                                 headers={"Authorization": f"Bearer {token}"})
    return response.json()


def _roles(team):
    return {"rep": team.rep, "other rep": team.other_rep, "manager": team.manager,
            "other manager": team.other_manager, "admin": team.admin}


async def test_every_object_field_keeps_to_the_sharing_model(apps, team):
    world = await _build(team)
    documents, wanted_edges = _documents(world)
    _, standard = apps
    leaks: list[str] = []
    returned_as_admin: dict = defaultdict(list)
    returned: dict = defaultdict(list)
    crossings = 0
    crossing_fields: set = set()
    for role, actor in _roles(team).items():
        oracle = Oracle(world, team, actor)
        for document, variables, tree in documents:
            body = await _post(standard, document, variables, actor.token)
            seen: list = []
            edges: dict = defaultdict(list)
            _records(body.get("data"), QUERY, tree, None, seen, edges)
            for typename, pk in seen:
                if not oracle.may_read(typename, pk):
                    leaks.append(f"{role}: {typename} {pk} via {document[:120]}")
            for edge, found in edges.items():
                returned[edge] += found if role != "admin" else []
                returned_as_admin[edge] += found if role == "admin" else []
    assert leaks == []
    # Coverage: every object field the schema has came back non-empty for some role somewhere.
    empty = sorted(f"{t}.{f}" for t, f in wanted_edges
                   if not any(children for _, children in returned_as_admin[(t, f)] + returned[(t, f)]))
    assert empty == [], f"object fields the fixture does not reach (extend _build): {empty}"
    # And the fixture crosses scopes: for each record-valued field, some parent a non-admin can read has
    # a child that non-admin may not read (so the field's own filter is what keeps it out).
    for role, actor in _roles(team).items():
        if role == "admin":
            continue
        oracle = Oracle(world, team, actor)
        for edge, found in returned_as_admin.items():
            for parent, children in found:
                if parent is not None and oracle.may_read(*parent) and any(
                        c is not None and not oracle.may_read(*c) for c in children):
                    crossings += 1
                    crossing_fields.add(edge)
    relation_fields = len([e for e in wanted_edges if e[0] != "Query"])
    print(f"\nsharing walk: {relation_fields} relation fields + {len(wanted_edges) - relation_fields} root fields, "
          f"{len(documents)} documents x 5 roles, {crossings} scope crossings on {len(crossing_fields)} fields "
          f"({', '.join(sorted(f'{t}.{f}' for t, f in crossing_fields))}), leaks {len(leaks)}")
    assert crossings > 0


def _fast_tree(type_name: str) -> dict:
    """Every relation the compiled path serves, each asked where it is first reached (breadth first):
    the whole set stays under the cost and depth limits, which nesting every relation in every other
    would not."""
    from app.api.fastpath import TYPES, One

    tree: dict[str, dict] = {}
    asked: set[tuple[str, str]] = set()
    frontier = [(type_name, tree)]
    while frontier:
        following = []
        for parent, node in frontier:
            for name, relation in TYPES[parent].relations.items():
                if (isinstance(relation, One) and relation.column is not None) or (parent, name) in asked:
                    continue
                asked.add((parent, name))
                node[name] = {}
                following.append((relation.type_name, node[name]))
        frontier = following
    return tree


async def test_the_compiled_read_path_keeps_to_the_sharing_model(apps, team):
    """Every relation the compiled path serves, nested, as each role: served by the plan itself, equal
    to standard execution, and nothing outside the model."""
    from app.api.fastpath import TYPES, FastPath

    world = await _build(team)
    tree = _fast_tree("Opportunity")
    node = _selection(_object_type("Opportunity"), tree)
    documents: list[tuple[str, dict, dict]] = [("{ opportunities(first: 50) { nodes " + node + " } }", {}, {"opportunities": {"nodes": tree}})]
    documents += [("query($id: ID!) { opportunity(id: $id) " + node + " }", {"id": global_id("Opportunity", pk)}, {"opportunity": tree})
                  for pk in world.records["Opportunity"]]
    fast, standard = apps
    compiled = FastPath(schema)
    leaks = []
    served_edges: set = set()
    for role, actor in _roles(team).items():
        oracle = Oracle(world, team, actor)
        for document, variables, shape in documents:
            served = await compiled.execute(document, variables, None, f"Bearer {actor.token}")
            assert served is not None, "the compiled path must serve this document"
            expected = await _post(standard, document, variables, actor.token)
            assert "errors" not in expected, expected
            # extensions.cost (what is left of the budget) changes with every request: the data must match.
            assert orjson.loads(served.body())["data"] == expected["data"]
            assert (await _post(fast, document, variables, actor.token))["data"] == expected["data"]
            seen: list = []
            edges: dict = defaultdict(list)
            _records(expected["data"], QUERY, shape, None, seen, edges)
            leaks += [f"{role}: {t} {pk}" for t, pk in seen if not oracle.may_read(t, pk)]
            served_edges |= {e for e, found in edges.items() if any(children for _, children in found)}
    assert leaks == []
    fast_relations = {(t, name) for t, spec in TYPES.items() for name, r in spec.relations.items()
                      if getattr(r, "column", None) is None}
    assert fast_relations - served_edges == set(), "relations of the compiled path the fixture leaves empty"
    print(f"\ncompiled path walk: {len(fast_relations)} relation fields, {len(documents)} documents x 5 roles")


# Subscriptions: their replay (`after`) runs the same resolvers a live event does -------------------


def _object_tree(t: GraphQLObjectType, depth: int = 3) -> dict:
    if depth == 0:
        return {}
    return {name: _object_tree(_unwrap(t.fields[name].type), depth - 1) for name in _object_fields(t)}


async def _sentinels(world: World, team) -> dict[str, dict[int, int]]:
    """Per subscription root, per user: the id of a last event that user may see, so a replay can stop."""
    opportunity_events, task_events = {}, {}
    for actor in _roles(team).values():
        task = await m.Task.create(title="last", assignee=actor.user)
        world.add("Task", task, assignee=actor.user.id)
        opportunity_events[actor.user.id] = (await m.DomainEvent.create(
            kind="opportunity.updated", owner_id=actor.user.id, opportunity_id=world.ids["a_on_b"],
            actor_id=team.other_rep.user.id, payload={"changes": {"name": {"from": "a", "to": "b"}}})).id
    for task in await m.Task.all().order_by("id"):
        event = await m.DomainEvent.create(kind="task.created", owner_id=task.assignee_id, payload={"task_id": task.id})
        task_events[task.assignee_id] = event.id
    return {"opportunityEvents": opportunity_events, "taskEvents": task_events}


async def test_every_subscription_field_keeps_to_the_sharing_model(team, orm):
    from app.api.context import build_context

    world = await _build(team)
    sentinels = await _sentinels(world, team)
    subscription = _object_type("Subscription")
    leaks: list[str] = []
    returned: dict = defaultdict(list)
    wanted_edges: set = set()
    for root, f in subscription.fields.items():
        tree = _object_tree(_unwrap(f.type))
        if not tree:
            continue  # nothing relational to check
        assert root in sentinels, f"Subscription.{root} returns objects: teach the walk how to end its replay"
        wanted_edges |= {(path_type, name) for path_type, name in _tree_edges(_unwrap(f.type), tree)}
        beginning = encode_cursor(Position(0, 0, datetime.now(timezone.utc)))  # the whole retained log
        document = f"subscription {{ {root}(after: \"{beginning}\") {{ cursor {_selection(_unwrap(f.type), tree)[2:]} }}"
        for role, actor in _roles(team).items():
            oracle = Oracle(world, team, actor)
            context = await build_context(None, None, f"Bearer {actor.token}")
            stream = await schema.subscribe(document, context_value=context)
            last = str(sentinels[root][actor.user.id])
            try:
                async for result in stream:
                    assert not result.errors, result.errors
                    assert result.data is not None
                    seen: list = []
                    edges: dict = defaultdict(list)
                    _records(result.data, subscription, {root: tree}, None, seen, edges)
                    leaks += [f"{role}: {t} {pk} via {root}" for t, pk in seen if not oracle.may_read(t, pk)]
                    for edge, found in edges.items():
                        returned[edge] += found
                    if str(decode_cursor(result.data[root]["cursor"], datetime.now(timezone.utc)).id) == last:
                        break
            finally:
                await stream.aclose()
    assert leaks == []
    empty = sorted(f"{t}.{f}" for t, f in wanted_edges if not any(children for _, children in returned[(t, f)]))
    assert empty == [], f"subscription fields the fixture does not reach: {empty}"
    print(f"\nsubscription walk: {len(wanted_edges)} object fields under {len(sentinels)} subscriptions x 5 roles")


def _tree_edges(t: GraphQLObjectType, tree: dict):
    for name, sub in tree.items():
        yield (t.name, name)
        yield from _tree_edges(_unwrap(t.fields[name].type), sub)
