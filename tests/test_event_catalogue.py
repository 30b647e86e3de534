"""The README's event catalogue is the contract: every event offered to webhooks is documented there, and
every document a real worker delivers has the documented example's shape (camelCase keys only).

Generic: a new event kind offered to webhooks needs its README entry (a ```json event=<name> block) and a
mutation in `_drive` that emits it; nothing else here names kinds."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from app.api.realtime import OpportunityEventKind, TaskEventKind
from app.domain.event_documents import RESOURCES
from app.domain.events import webhook_names
from app.domain.webhooks import WEBHOOK_EVENTS
from app.services.reactions import REACTIONS
from app.services import webhooks
from app.domain.events import EVENT_TYPES
from app.settings import get_settings
from tests.http_receiver import Receiver
from tests.worker_utils import run_worker_burst

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```json (event|resource)=(\S+)\n(.*?)\n```", re.S)
RESOURCE_REF = re.compile(r"<(\w+)>")


def catalogue() -> tuple[dict[str, Any], dict[str, Any]]:
    """(event name -> example document, GraphQL type -> example resource), read from the README."""
    events: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for what, name, text in BLOCK.findall(README.read_text()):
        target = events if what == "event" else resources
        assert name not in target, f"{name} documented twice"
        target[name] = json.loads(text)
    return events, resources


def expand(example: Any, resources: dict[str, Any]) -> Any:
    """An event example with each "<Type>" placeholder replaced by that resource's example."""
    if isinstance(example, str) and (ref := RESOURCE_REF.fullmatch(example)):
        return resources[ref.group(1)]
    if isinstance(example, dict):
        return {k: expand(v, resources) for k, v in example.items()}
    if isinstance(example, list):
        return [expand(v, resources) for v in example]
    return example


def snake_keys(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [f"{path}.{k}" for k in value if "_" in k or k != k[:1].lower() + k[1:]]
        return found + [p for k, v in value.items() for p in snake_keys(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for v in value for p in snake_keys(v, f"{path}[]")]
    return []


def shape_errors(example: Any, got: Any, path: str = "") -> list[str]:
    """Where `got` differs in shape from `example`: the same keys, recursively; null matches anything
    (an optional value); `previous` names some of the resource's fields (those that changed)."""
    if example is None or got is None:
        return []
    if isinstance(example, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {got!r}"]
        if path.endswith(".previous"):
            return []  # checked against the resource in `previous_errors`
        errors = [f"{path}: keys differ: missing {sorted(set(example) - set(got))}, "
                  f"undocumented {sorted(set(got) - set(example))}"] if set(example) != set(got) else []
        return errors + [e for k in set(example) & set(got) for e in shape_errors(example[k], got[k], f"{path}.{k}")]
    if isinstance(example, list):
        if not isinstance(got, list):
            return [f"{path}: expected a list, got {got!r}"]
        if example and got:
            return [e for item in got for e in shape_errors(example[0], item, f"{path}[]")]
        return []
    if isinstance(got, (dict, list)) or isinstance(got, bool) != isinstance(example, bool):
        return [f"{path}: expected a value like {example!r}, got {got!r}"]
    return []


def previous_errors(document: dict) -> list[str]:
    data = document["data"]
    if "previous" not in data:
        return []
    resource = next((v for k, v in data.items() if k in {r.key for r in RESOURCES.values()}), None)
    if not isinstance(resource, dict):
        return ["previous without a resource"]
    unknown = set(data["previous"]) - set(resource)
    return [f"previous names fields the resource lacks: {sorted(unknown)}"] if unknown else []


def test_every_event_offered_to_webhooks_is_documented_and_nothing_else():
    events, resources = catalogue()
    assert set(events) == set(WEBHOOK_EVENTS), (
        f"undocumented: {sorted(set(WEBHOOK_EVENTS) - set(events))}; "
        f"documented but not offered: {sorted(set(events) - set(WEBHOOK_EVENTS))}")
    for name, example in events.items():
        assert example["type"] == name and set(example) == {"id", "type", "createdAt", "data"}, name
        assert snake_keys(expand(example, resources)) == [], name
    for type_name, example in resources.items():
        assert type_name in RESOURCES, type_name
        assert set(example) == {"id", *(f.api_name for f in RESOURCES[type_name].fields.values())} - \
            _missing_columns(type_name), type_name


def _missing_columns(type_name: str) -> set[str]:
    """API names of a resource's fields whose column this code's model does not have (yet)."""
    from app import models

    model = getattr(models, type_name)
    return {f.api_name for column, f in RESOURCES[type_name].fields.items()
            if column not in model._meta.fields_map and column != "stage_key"}


def test_every_offered_kind_reaches_the_webhook_fan_out():
    for kind in webhook_names():
        assert webhooks.fan_out in REACTIONS[EVENT_TYPES[kind]], kind


def test_subscription_kinds_are_documented():
    text = README.read_text()
    section = text[text.index("### Subscription events"):]
    for kind in [*OpportunityEventKind, *TaskEventKind]:
        assert f"`{kind.name}`" in section, kind


# The deliveries themselves ------------------------------------------------------------------------

CREATE_HOOK = """mutation($url: String!, $events: [String!]!) { createWebhook(url: $url, events: $events) {
  webhook { id } errors { field message } } }"""


@pytest.fixture
def allow_local(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)


async def _drive(gql, team) -> None:
    """Real mutations through the API, as an admin, emitting every documented event."""
    admin = team.admin

    async def call(mutation: str, variables: dict | None = None) -> dict:
        data = await gql(mutation, variables, as_=admin)
        (payload,) = data.values()
        assert not payload.get("errors"), payload
        return payload

    account = (await call("""mutation { createAccount(input: {name: "Harbor Grill", annualRevenue: "1200000",
        headquarters: {street: "1 Pier Rd", city: "Portland", region: "OR", postalCode: "97201", country: "US"}}) {
        account { id } errors { field message } } }"""))["account"]["id"]
    await call("""mutation($id: ID!) { updateAccount(id: $id, input: {tier: KEY}) { errors { field message } } }""",
               {"id": account})
    contact = (await call("""mutation($a: ID!) { createContact(accountId: $a, input: {firstName: "Ana", lastName: "Ruiz",
        email: "ana@harborgrill.com", role: DECISION_MAKER}) { contact { id } errors { field message } } }""",
                          {"a": account}))["contact"]["id"]
    await call("""mutation($id: ID!) { updateContact(id: $id, input: {title: "Chef"}) { errors { field message } } }""",
               {"id": contact})
    product = (await call("""mutation { createProduct(input: {sku: "OIL-20", name: "Fryer oil", category: DRY_GOODS,
        unit: CASE, unitPrice: "42.5"}) { product { id } errors { field message } } }"""))["product"]["id"]
    await call("""mutation($id: ID!) { updateProduct(id: $id, input: {unitPrice: "44.00"}) { errors { field message } } }""",
               {"id": product})
    await call("""mutation($id: ID!) { deleteProduct(id: $id) { errors { field message } } }""", {"id": product})

    deal = (await call("""mutation($a: ID!, $c: ID!) { createOpportunity(input: {name: "Weekly produce", accountId: $a,
        contactId: $c, expectedCloseDate: "2026-12-15", value: "6500"}) { opportunity { id } errors { field message } } }""",
                       {"a": account, "c": contact}))["opportunity"]["id"]
    await call("""mutation($id: ID!) { updateOpportunity(id: $id, input: {nextStep: "Send samples", value: "7200.00"}) {
        errors { field message } } }""", {"id": deal})
    activity = (await call("""mutation($o: ID!) { addOpportunityActivity(opportunityId: $o, input: {type: EMAIL,
        subject: "Prices sent"}) { activity { id } errors { field message } } }""", {"o": deal}))["activity"]["id"]
    await call("""mutation($id: ID!) { updateOpportunityActivity(id: $id, input: {subject: "Price list sent"}) {
        errors { field message } } }""", {"id": activity})
    await call("""mutation($id: ID!) { deleteOpportunityActivity(id: $id) { errors { field message } } }""", {"id": activity})
    await call("""mutation($id: ID!) { advanceOpportunity(input: {id: $id, stage: "closed_lost",
        data: {lostReasonKey: "price"}}) { errors { field message } } }""", {"id": deal})

    # closed_won without the default pipeline's gates: a pipeline of one open stage.
    pipeline = (await call("""mutation { createPipeline(name: "Direct") { pipeline { id } errors { field message } } }"""))
    await call("""mutation($p: ID!) { addPipelineStage(pipelineId: $p, input: {key: "intro", name: "Intro", order: 1,
        probability: 10}) { errors { field message } } }""", {"p": pipeline["pipeline"]["id"]})
    won = (await call("""mutation($a: ID!, $p: ID!) { createOpportunity(input: {name: "Fryer oil", accountId: $a,
        pipelineId: $p, stage: "intro", expectedCloseDate: "2026-12-01", value: "900"}) {
        opportunity { id } errors { field message } } }""", {"a": account, "p": pipeline["pipeline"]["id"]}))
    await call("""mutation($id: ID!) { advanceOpportunity(input: {id: $id, stage: "closed_won"}) { errors { field message } } }""",
               {"id": won["opportunity"]["id"]})

    task = (await call("""mutation($o: ID!) { createTask(input: {title: "Call back", opportunityId: $o, priority: HIGH,
        dueDate: "2026-12-01T15:00:00Z"}) { task { id } errors { field message } } }""", {"o": deal}))["task"]["id"]
    await call("""mutation($id: ID!) { updateTask(id: $id, input: {priority: LOW}) { errors { field message } } }""",
               {"id": task})
    await call("""mutation($id: ID!) { completeTask(id: $id) { errors { field message } } }""", {"id": task})
    await call("""mutation($id: ID!) { reopenTask(id: $id) { errors { field message } } }""", {"id": task})
    await call("""mutation($id: ID!) { deleteTask(id: $id) { errors { field message } } }""", {"id": task})

    interaction = (await call("""mutation($a: ID!, $c: ID!) { recordInteraction(input: {accountId: $a, contactId: $c,
        type: PHONE, subject: "Menu review", description: "Chef loved the brisket samples", duration: 20}) {
        interaction { id } errors { field message } } }""", {"a": account, "c": contact}))["interaction"]["id"]
    await call("""mutation($id: ID!) { updateInteraction(id: $id, input: {nextSteps: "Send the price list"}) {
        errors { field message } } }""", {"id": interaction})

    # Archive and restore: each record put away and brought back (the account with what hangs under it).
    work = (await call("""mutation($o: ID!) { addOpportunityActivity(opportunityId: $o, input: {type: PROPOSAL,
        subject: "Price sheet"}) { activity { id } errors { field message } } }""", {"o": deal}))["activity"]["id"]
    for record, record_id in (("OpportunityActivity", work), ("Interaction", interaction), ("Contact", contact),
                              ("Opportunity", deal), ("Account", account)):
        for verb in ("archive", "restore"):
            await call(f"""mutation($id: ID!) {{ {verb}{record}(id: $id) {{ errors {{ field message }} }} }}""",
                       {"id": record_id})

    await call("""mutation($id: ID!) { eraseContact(contactId: $id) { errors { field message } } }""", {"id": contact})
    await call("""mutation($id: ID!) { deleteContact(id: $id) { errors { field message } } }""", {"id": contact})
    await call("""mutation($id: ID!) { deleteOpportunity(id: $id) { errors { field message } } }""", {"id": deal})
    await call("""mutation($id: ID!) { deleteOpportunity(id: $id) { errors { field message } } }""",
               {"id": won["opportunity"]["id"]})
    await call("""mutation($id: ID!) { deleteAccount(id: $id) { errors { field message } } }""", {"id": account})


async def test_delivered_documents_have_the_documented_shapes(gql, team, allow_local):
    events, resources = catalogue()
    with Receiver() as receiver:
        hook = (await gql(CREATE_HOOK, {"url": receiver.url, "events": list(WEBHOOK_EVENTS)}, as_=team.admin))
        assert hook["createWebhook"]["errors"] == []
        await _drive(gql, team)
        await run_worker_burst()
    delivered: dict[str, list[dict]] = {}
    for hit in receiver.received:
        document = json.loads(hit.body)
        assert hit.headers["x-crm-event"] == document["type"]
        delivered.setdefault(document["type"], []).append(document)
    if os.environ.get("CRM_DUMP_EVENT_DOCUMENTS"):  # to refresh the README's examples by hand
        Path(os.environ["CRM_DUMP_EVENT_DOCUMENTS"]).write_text(json.dumps(delivered, indent=2, sort_keys=True))
    assert sorted(set(events) - set(delivered)) == [], "documented events this test did not see delivered"
    for name, documents in delivered.items():
        assert name in events, f"{name} delivered but not in the README's catalogue"
        example = expand(events[name], resources)
        for document in documents:
            assert snake_keys(document) == [], (name, snake_keys(document))
            assert shape_errors(example, document, name) + previous_errors(document) == [], document
    # One close, two documents: the stage change and the close, each under its own name.
    lost = delivered["opportunity.closed_lost"][0]["data"]["opportunity"]
    moves = [d["data"] for d in delivered["opportunity.stage_changed"] if d["data"]["opportunity"]["id"] == lost["id"]]
    assert [(m["fromStage"], m["toStage"]) for m in moves] == [("discovery", "closed_lost")]
    # The record as the API returns it: money as strings, enums by name, ids as global ids.
    created = delivered["opportunity.created"][0]["data"]["opportunity"]
    assert created["value"] == "6500.00" and created["source"] == "OTHER" and created["expectedCloseDate"] == "2026-12-15"
    updated = next(d["data"] for d in delivered["opportunity.updated"] if "nextStep" in d["data"]["previous"])
    assert updated["previous"] == {"nextStep": "", "value": "6500.00"} and updated["opportunity"]["value"] == "7200.00"
    # A deletion carries the record as it was.
    gone = delivered["account.deleted"][0]["data"]
    assert gone["account"]["name"] == "Harbor Grill" and gone["account"]["tier"] == "KEY"
