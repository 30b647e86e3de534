"""Tasks people write (issue 15): create, reschedule, reassign within scope, delete; filters and
sorts that answer a rep's questions; a reminder at the due time, sent once by the worker (after Redis
lost its jobs too)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.models import DomainEvent, Notification, Task
from app.services import queue, work
from tests import factories
from tests.worker_utils import run_worker_burst
from tests.factories import gid, pk

FIELDS = "id title description dueDate priority status isOverdue assignee { email } opportunity { name } account { name }"
CREATE = f"""mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{
  task {{ {FIELDS} }} errors {{ field message code }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateTaskInput!) {{ updateTask(id: $id, input: $input) {{
  task {{ {FIELDS} }} errors {{ field message code }} }} }}"""
DELETE = """mutation($id: ID!) { deleteTask(id: $id) { deletedId errors { field code } } }"""
LIST = """query($first: Int, $after: String, $filter: TaskFilter, $sort: TaskSort) {
  tasks(first: $first, after: $after, filter: $filter, sort: $sort) {
    totalCount edges { node { title dueDate priority } } pageInfo { hasNextPage endCursor } } }"""


def _at(days: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def _create(gql, actor, **fields) -> dict:
    return (await gql(CREATE, {"input": {"title": "Call the chef", **fields}}, as_=actor))["createTask"]


async def test_a_rep_creates_a_task_on_a_deal_and_it_lands_on_the_deal_s_account(gql, team):
    acct = await factories.account(team.rep.user, "Harbor Grill")
    deal = await factories.opportunity(team.rep.user, acct.id, "Weekly produce")
    created = await _create(gql, team.rep, opportunityId=gid(deal), dueDate=_at(2), priority="HIGH",
                            description="Ask about the new brunch menu")
    assert created["errors"] == []
    task = created["task"]
    assert (task["assignee"], task["opportunity"], task["account"]) == (
        {"email": "rep@pantry.test"}, {"name": "Weekly produce"}, {"name": "Harbor Grill"})
    assert (task["priority"], task["status"], task["isOverdue"]) == ("HIGH", "OPEN", False)
    event = await DomainEvent.get(kind="task.created")
    assert event.payload["task_id"] == pk(task["id"]) and event.owner_id == team.rep.user.id
    # A plain task of one's own, on nothing.
    plain = await _create(gql, team.rep)
    assert plain["errors"] == [] and plain["task"]["account"] is None and plain["task"]["priority"] == "MEDIUM"


async def test_bad_task_input_is_refused_field_by_field_and_writes_nothing(gql, team):
    mine = await factories.account(team.rep.user, "Harbor Grill")
    theirs = await factories.account(team.other_rep.user, "Their Bistro")
    their_deal = await factories.opportunity(team.other_rep.user, theirs.id, "Their deal")
    my_deal = await factories.opportunity(team.rep.user, mine.id, "My deal")
    other_account = await factories.account(team.rep.user, "Second Cafe")
    cases = [
        ({"title": "  "}, [("title", "REQUIRED")]),
        ({"assigneeId": gid(team.other_rep.user)}, [("assigneeId", "NOT_FOUND")]),  # outside the rep's scope
        ({"opportunityId": gid(their_deal)}, [("opportunityId", "NOT_FOUND")]),
        ({"accountId": gid(theirs)}, [("accountId", "NOT_FOUND")]),
        ({"opportunityId": gid(my_deal), "accountId": gid(other_account)}, [("accountId", "INVALID")]),
        ({"title": "x" * 301}, [("title", "OUT_OF_RANGE")]),
    ]
    for fields, expected in cases:
        result = (await gql(CREATE, {"input": {"title": "Call the chef", **fields}}, as_=team.rep))["createTask"]
        assert result["task"] is None and [(e["field"], e["code"]) for e in result["errors"]] == expected, fields
    assert await Task.all().count() == 0 and not await DomainEvent.filter(kind="task.created").exists()


async def test_reschedule_reassign_within_scope_and_delete(gql, team):
    created = (await _create(gql, team.manager, assigneeId=gid(team.rep.user), dueDate=_at(1)))["task"]
    task_id = created["id"]
    # The manager reassigns within their team; the rep cannot hand it to a rep of another team.
    moved = (await gql(UPDATE, {"id": task_id, "input": {"dueDate": _at(3), "priority": "URGENT"}},
                       as_=team.rep))["updateTask"]
    assert moved["errors"] == [] and moved["task"]["priority"] == "URGENT"
    assert moved["task"]["dueDate"].startswith(_at(3)[:16])
    refused = (await gql(UPDATE, {"id": task_id, "input": {"assigneeId": gid(team.other_rep.user)}},
                         as_=team.rep))["updateTask"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("assigneeId", "NOT_FOUND")]
    hidden = (await gql(UPDATE, {"id": task_id, "input": {"title": "mine now"}}, as_=team.other_rep))["updateTask"]
    assert [(e["field"], e["code"]) for e in hidden["errors"]] == [("id", "NOT_FOUND")]
    nulled = (await gql(UPDATE, {"id": task_id, "input": {"title": None}}, as_=team.rep))["updateTask"]
    assert [(e["field"], e["code"]) for e in nulled["errors"]] == [("title", "REQUIRED")]
    updates = await DomainEvent.filter(kind="task.updated").count()
    same = (await gql(UPDATE, {"id": task_id, "input": {"priority": "URGENT"}}, as_=team.rep))["updateTask"]
    assert same["errors"] == [] and await DomainEvent.filter(kind="task.updated").count() == updates  # no change, no event
    # Reassigned away: the event names the previous assignee (their offline copy drops it).
    to_manager = (await gql(UPDATE, {"id": task_id, "input": {"assigneeId": gid(team.manager.user)}},
                            as_=team.rep))["updateTask"]
    assert to_manager["errors"] == [] and to_manager["task"]["assignee"] == {"email": "manager@pantry.test"}
    reassigned = await DomainEvent.filter(kind="task.updated").order_by("-id").first()
    assert reassigned is not None and reassigned.payload["changes"] == {
        "assigned_to_id": {"from": team.rep.user.id, "to": team.manager.user.id}}

    assert (await gql(DELETE, {"id": task_id}, as_=team.other_rep))["deleteTask"]["errors"] == [
        {"field": "id", "code": "NOT_FOUND"}]
    assert (await gql(DELETE, {"id": task_id}, as_=team.manager))["deleteTask"] == {"deletedId": task_id, "errors": []}
    assert not await Task.exists(id=pk(task_id))
    assert await DomainEvent.filter(kind="task.deleted").count() == 1


async def test_filters_overdue_due_range_account_and_sorts_with_undated_tasks_last(gql, team):
    acct = await factories.account(team.rep.user, "Harbor Grill")
    specs = [("late", -2, "LOW"), ("today", 0.2, "URGENT"), ("soon", 2, "MEDIUM"), ("later", 9, "HIGH"),
             ("someday", None, "HIGH"), ("done late", -1, "LOW")]
    for title, days, priority in specs:
        fields = {"title": title, "priority": priority, "accountId": gid(acct)}
        if days is not None:
            fields["dueDate"] = _at(days)
        assert (await _create(gql, team.rep, **fields))["errors"] == []
    done = await Task.get(title="done late")
    await work.complete_task(await _scope(team.rep), done.id)

    async def titles(**variables) -> list[str]:
        out, after = [], None
        while True:  # page by two: the cursor must hold across the dated/undated boundary
            page = (await gql(LIST, {"first": 2, "after": after, **variables}, as_=team.rep))["tasks"]
            out += [e["node"]["title"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return out
            after = page["pageInfo"]["endCursor"]

    assert await titles(filter={"overdue": True}) == ["late"]
    assert sorted(await titles(filter={"overdue": False})) == sorted(["today", "soon", "later", "someday", "done late"])
    assert sorted(await titles(filter={"dueAfter": _at(0), "dueBefore": _at(5)})) == ["soon", "today"]
    assert await titles(filter={"accountId": gid(acct), "status": ["COMPLETED"]}) == ["done late"]
    assert await titles(sort={"field": "DUE_DATE", "direction": "ASC"}) == [
        "late", "done late", "today", "soon", "later", "someday"]
    assert await titles(sort={"field": "DUE_DATE", "direction": "DESC"}) == [
        "later", "soon", "today", "done late", "late", "someday"]
    by_priority = await titles(sort={"field": "PRIORITY", "direction": "DESC"}, filter={"status": ["OPEN"]})
    assert by_priority[0] == "today" and by_priority[-1] == "late"  # urgent first, low last
    # Another rep sees none of them.
    assert (await gql(LIST, {"first": 10}, as_=team.other_rep))["tasks"]["totalCount"] == 0


async def _scope(actor):
    from app.queries.visibility import scope_for

    return await scope_for(actor.user)


async def test_a_reminder_goes_to_the_assignee_at_the_due_time_once(gql, team):
    due = datetime.now(timezone.utc) + timedelta(seconds=2)
    task = (await _create(gql, team.rep, title="Send the price sheet", dueDate=due.replace(microsecond=0).isoformat()))
    assert task["errors"] == []
    assert not await Notification.exists(kind="task_due")
    await run_worker_burst()  # a burst worker runs the deferred job when it is due
    note = await Notification.get(kind="task_due")
    assert (note.user_id, note.title) == (team.rep.user.id, "Task due: Send the price sheet")
    assert note.created_at >= due.replace(microsecond=0)  # not before the due time
    # The catch-up and a second run of the job change nothing.
    assert await work.catch_up_reminders() == 0
    assert await work.send_reminder(pk(task["task"]["id"]), int(due.replace(microsecond=0).timestamp())) == "already_done"
    assert await Notification.filter(kind="task_due").count() == 1


async def test_a_reminder_lost_with_redis_is_sent_by_the_catch_up_and_a_rescheduled_one_waits(gql, team):
    overdue = (await _create(gql, team.rep, title="Confirm delivery days", dueDate=_at(-0.01)))["task"]
    later = (await _create(gql, team.rep, title="Quarterly review", dueDate=_at(-0.01)))["task"]
    # Redis loses every queued job (a restart without persistence) before the worker ran them.
    pool = await queue.get_pool()
    await pool.flushdb()
    # One of them is rescheduled to next week meanwhile: its old due time must not remind anyone.
    moved = (await gql(UPDATE, {"id": later["id"], "input": {"dueDate": _at(7)}}, as_=team.rep))["updateTask"]
    assert moved["errors"] == []
    await pool.flushdb()  # and that job is lost too (a burst worker would otherwise wait a week for it)
    await queue.enqueue("catch_up_task_reminders", job_id="catch-up-now")
    await run_worker_burst()
    assert [n.title for n in await Notification.filter(kind="task_due")] == ["Task due: Confirm delivery days"]
    assert await work.catch_up_reminders() == 0
    del overdue


async def test_twenty_concurrent_deletes_record_one_event(gql, team):
    import asyncio

    task_id = (await _create(gql, team.rep))["task"]["id"]
    answers = await asyncio.gather(*(gql(DELETE, {"id": task_id}, as_=team.rep) for _ in range(20)))
    deleted = [a["deleteTask"] for a in answers if a["deleteTask"]["deletedId"] == task_id]
    assert deleted and all(a["deleteTask"]["errors"] in ([], [{"field": "id", "code": "NOT_FOUND"}]) for a in answers)
    assert not await Task.exists(id=pk(task_id))
    assert await DomainEvent.filter(kind="task.deleted").count() == 1
