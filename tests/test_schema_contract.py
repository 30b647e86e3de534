"""schema.graphql is the published contract: it must match what the code serves."""

from pathlib import Path

from app.api.schema import schema


def test_schema_graphql_is_up_to_date():
    committed = (Path(__file__).parent.parent / "schema.graphql").read_text()
    assert committed == schema.as_str() + "\n", "schema.graphql is stale: run `make schema` and commit it"
