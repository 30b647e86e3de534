"""A query's invalid argument is one kind of error in every module: top-level BAD_USER_INPUT, the field
named as in the schema (camelCase) at the start of the message and in extensions.field."""

import pytest

CASES = [
    ('{ opportunities(filter: {accountId: "abc"}) { totalCount } }', "accountId"),
    ('{ opportunities(first: -1) { totalCount } }', "first"),
    ('{ accounts(filter: {assignedTo: ["x"]}) { totalCount } }', "assignedTo"),
    ('{ interactions(filter: {accountId: "abc"}) { totalCount } }', "accountId"),
    ('{ tasks(filter: {assigneeId: "abc"}) { totalCount } }', "assigneeId"),
    ('{ stageReadiness(opportunityId: "abc", stage: "proposal") { ready } }', "opportunityId"),
    ('{ pipelineReport(timeframe: "2026-Q3", filters: {valueMin: "-5"}) { ... on PipelineAnalytics { winRate } } }',
     "filters.valueMin"),
    ('{ pipelineReport(timeframe: "last_quarter") { ... on PipelineAnalytics { winRate } } }', "timeframe"),
    ('{ competitorWinLoss(timeframe: "last_week") { won } }', "timeframe"),
]


@pytest.mark.parametrize("query, field", CASES, ids=[field + ":" + q.split("(")[0][2:] for q, field in CASES])
async def test_bad_argument_is_bad_user_input_naming_the_schema_field(gql, team, query, field):
    body = await gql.raw(query, token=team.rep.token)
    assert body.get("data") in (None, {}) or all(v is None for v in body["data"].values()), body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field and error["message"].startswith(f"{field}: "), error
