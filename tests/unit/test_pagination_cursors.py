"""Keyset cursors: every kind of sort value comes back as the value it was, and old cursors still read."""

import base64
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from app.domain.enums import OpportunitySource
from app.domain.errors import ValidationFailed
from app.queries.pagination import decode_cursor, encode_cursor

UTC = timezone.utc


@pytest.mark.parametrize(("value", "sort_type"), [
    (datetime(2026, 11, 15, 13, 45, 7, 123456, tzinfo=UTC), datetime),
    (datetime(2026, 11, 15, 13, 45, tzinfo=UTC), datetime),  # no microseconds
    (date(2026, 2, 28), date),
    (Decimal("1250.50"), Decimal),
    (Decimal("0.00"), Decimal),
    (42, int),
    ("Harbor Grill — seafood trial", str),
    (None, datetime),  # a row without a value (nulls-last orders)
])
def test_a_cursor_gives_back_its_sort_value_and_id(value, sort_type):
    for row in ({"created_at": value, "id": 17}, _Record(created_at=value, id=17)):
        assert decode_cursor(encode_cursor("created_at", row), sort_type) == (value, 17)


def test_an_enum_sort_value_is_written_as_its_value():
    cursor = encode_cursor("source", {"source": OpportunitySource.REFERRAL, "id": 3})
    assert decode_cursor(cursor, str) == (OpportunitySource.REFERRAL.value, 3)


def test_dates_are_written_as_isoformat_writes_them():
    moment = datetime(2026, 11, 15, 13, 45, 7, 5, tzinfo=UTC)
    raw = json.loads(base64.urlsafe_b64decode(encode_cursor("at", {"at": moment, "id": 1})))
    assert raw == [moment.isoformat(), 1]


def test_a_cursor_written_before_orjson_still_reads():
    old = base64.urlsafe_b64encode(json.dumps(["2026-11-15T13:45:07+00:00", 9]).encode()).decode()
    assert decode_cursor(old, datetime) == (datetime(2026, 11, 15, 13, 45, 7, tzinfo=UTC), 9)


def test_an_unknown_sort_value_is_refused_when_the_cursor_is_written():
    with pytest.raises(TypeError):
        encode_cursor("x", {"x": object(), "id": 1})


def test_a_malformed_cursor_is_a_typed_error():
    with pytest.raises(ValidationFailed):
        decode_cursor("not a cursor", datetime)


class _Record:
    """A driver record: read by column name only."""

    def __init__(self, **values):
        self._values = values

    def __getitem__(self, key):
        return self._values[key]
