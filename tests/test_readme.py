"""The README's first ten minutes stay true: its operations run against the schema, its demo users exist."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate

from app.api.schema import schema
from app.domain.enums import Role
from app.models import User
from app.seed import demo_data
from app.services.auth import authenticate

README = Path(__file__).resolve().parent.parent / "README.md"


def _first_ten_minutes() -> str:
    text = README.read_text()
    return text[text.index("## Your first ten minutes"):text.index("## Configuration")]


def test_the_example_operations_validate_against_the_schema():
    section = _first_ten_minutes()
    documents = re.findall(r"```graphql\n(.*?)```", section, re.S)
    documents += re.findall(r"`(subscription \{.*?\})`", section.replace("\n", " "))
    assert len(documents) == 6
    for document in documents:
        assert validate(schema._schema, parse(document)) == [], document


async def test_every_demo_user_in_the_table_logs_in_with_the_documented_password():
    assert await demo_data.seed_demo(7) is not None
    rows = re.findall(r"^\| (admin|manager|rep) \| ([^|]+) \| `([^`]+)` \|", _first_ten_minutes(), re.M)
    users = {u.email: u for u in await User.all()}
    assert len(rows) == len(users) == 1 + len(demo_data.MANAGERS) + len(demo_data.REPS)
    found = re.search(r"the password \*\*`([^`]+)`\*\*", _first_ten_minutes())
    assert found is not None
    password = found.group(1)
    for role, name, email in rows:
        user = users[email]
        assert (user.role, user.name) == (Role(role), name.strip())
    for email in (rows[0][2], rows[1][2], rows[-1][2]):  # argon2 is slow: one login per role
        assert (await authenticate(email, password)) is not None
