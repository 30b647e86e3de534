"""Timeframes: every accepted form as a half-open UTC interval, and clear errors for the rest."""

from datetime import date, datetime, timedelta, timezone

import pytest

from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.timeframes import Timeframe, parse_timeframe

UTC = timezone.utc
NOW = datetime(2026, 11, 15, 13, 45, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize("text, start, end", [
    ("last_7_days", utc(2026, 11, 9), utc(2026, 11, 16)),
    ("last_30_days", utc(2026, 10, 17), utc(2026, 11, 16)),
    ("last_90_days", utc(2026, 8, 18), utc(2026, 11, 16)),
    ("this_month", utc(2026, 11, 1), utc(2026, 12, 1)),
    ("this_quarter", utc(2026, 10, 1), utc(2027, 1, 1)),
    ("this_year", utc(2026, 1, 1), utc(2027, 1, 1)),
    ("2026-Q1", utc(2026, 1, 1), utc(2026, 4, 1)),
    ("2026-Q3", utc(2026, 7, 1), utc(2026, 10, 1)),
    ("2026-Q4", utc(2026, 10, 1), utc(2027, 1, 1)),
    ("2026-11", utc(2026, 11, 1), utc(2026, 12, 1)),
    ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
    ("2028-02", utc(2028, 2, 1), utc(2028, 3, 1)),
    ("2026-01-01..2026-03-31", utc(2026, 1, 1), utc(2026, 4, 1)),
    ("2026-03-05..2026-03-05", utc(2026, 3, 5), utc(2026, 3, 6)),
    ("2024-02-28..2024-02-29", utc(2024, 2, 28), utc(2024, 3, 1)),
])
def test_accepted_forms(text, start, end):
    tf = parse_timeframe(text, NOW)
    assert (tf.start, tf.end, tf.label) == (start, end, text)
    assert tf.start.tzinfo is UTC and tf.end.tzinfo is UTC


def test_rolling_windows_count_whole_days_including_today():
    for days in (7, 30, 90):
        tf = parse_timeframe(f"last_{days}_days", NOW)
        assert tf.end - tf.start == timedelta(days=days)
        assert tf.contains(NOW) and tf.contains_date(NOW.date())
        assert tf.contains(tf.start) and not tf.contains(tf.end)
        assert not tf.contains(tf.start - timedelta(microseconds=1))


@pytest.mark.parametrize("now, start, end", [
    (utc(2026, 1, 1), utc(2026, 1, 1), utc(2026, 4, 1)),
    (utc(2026, 3, 31, 23, 59, 59), utc(2026, 1, 1), utc(2026, 4, 1)),
    (utc(2026, 4, 1), utc(2026, 4, 1), utc(2026, 7, 1)),
    (utc(2026, 9, 30, 12), utc(2026, 7, 1), utc(2026, 10, 1)),
    (utc(2026, 12, 31, 23, 59), utc(2026, 10, 1), utc(2027, 1, 1)),
])
def test_this_quarter_at_quarter_edges(now, start, end):
    tf = parse_timeframe("this_quarter", now)
    assert (tf.start, tf.end) == (start, end)


def test_now_in_another_zone_is_read_in_utc():
    # 2026-12-01 01:00 in UTC+3 is still 30 November in UTC.
    plus3 = timezone(timedelta(hours=3))
    tf = parse_timeframe("this_month", datetime(2026, 12, 1, 1, 0, tzinfo=plus3))
    assert (tf.start, tf.end) == (utc(2026, 11, 1), utc(2026, 12, 1))


def test_keywords_are_case_and_space_insensitive_with_a_canonical_label():
    assert parse_timeframe("  THIS_Month ", NOW).label == "this_month"
    tf = parse_timeframe("2026-q3", NOW)
    assert (tf.start, tf.label) == (utc(2026, 7, 1), "2026-Q3")


def test_date_bounds_for_date_columns():
    tf = parse_timeframe("2026-01-01..2026-03-31", NOW)
    assert (tf.first_day, tf.end_date) == (date(2026, 1, 1), date(2026, 4, 1))
    assert tf.contains_date(date(2026, 3, 31)) and not tf.contains_date(date(2026, 4, 1))
    assert not tf.contains_date(date(2025, 12, 31))


def test_default_now_is_the_current_time():
    tf = parse_timeframe("last_7_days")
    assert tf.contains(datetime.now(UTC))


@pytest.mark.parametrize("text", [
    "", "last_week", "last_8_days", "2026", "2026-13", "2026-00", "2026-Q5", "2026-Q0", "Q3-2026",
    "2026-02-30..2026-03-01", "2026-01-01..", "2026-1-1..2026-2-1", "0000-Q1", "9999-12", "9999-Q4",
    "9999-12-31..9999-12-31", None, 7,
])
def test_anything_else_names_the_accepted_forms(text):
    with pytest.raises(ValidationFailed) as err:
        parse_timeframe(text, NOW)
    [error] = err.value.errors
    assert (error.field, error.code) == ("timeframe", ErrorCode.INVALID)
    for form in ("last_7_days", "last_30_days", "last_90_days", "this_month", "this_quarter", "this_year",
                 "2026-Q3", "2026-11", "2026-01-01..2026-03-31"):
        assert form in error.message


def test_a_range_that_ends_before_it_starts():
    with pytest.raises(ValidationFailed) as err:
        parse_timeframe("2026-03-31..2026-01-01", NOW)
    [error] = err.value.errors
    assert (error.field, error.code) == ("timeframe", ErrorCode.OUT_OF_RANGE)
    assert "ends before it starts" in error.message


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_timeframe("this_month", datetime(2026, 11, 15))


def test_timeframe_is_a_plain_value():
    assert parse_timeframe("2026-11", NOW) == Timeframe(utc(2026, 11, 1), utc(2026, 12, 1), "2026-11")
