"""Unit tests of the pure rules in app.domain: no database, no Redis, no server.

tests/conftest.py makes every test start on a migrated, emptied database (autouse `orm` and
`clean_database`); the same names here stand in for them below this directory, so these tests
neither create nor wait for a database. Run just them with `make test-unit`."""

import pytest


@pytest.fixture(scope="session")
def orm():
    return None


@pytest.fixture
def clean_database():
    return None
