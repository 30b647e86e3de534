"""The value and volume rules of a deal (app.domain.opportunities), without a database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from app.domain.enums import ValueSource
from app.domain.opportunities import (
    Line,
    WonDeal,
    account_annualized_value,
    account_weekly_volume,
    annualized_value,
    contract_weeks_error,
    line_total,
    weekly_volume,
)

TODAY = date(2026, 6, 1)


def line(quantity: str, price: str, weeks: int | None, unit: str = "case", discount: str = "0") -> Line:
    q, p, d = Decimal(quantity), Decimal(price), Decimal(discount)
    return Line(q, p, d, weeks, unit, line_total(q, p, d, weeks))


def test_a_contract_line_totals_its_weeks_and_annualises_a_year():
    weekly = line("40", "25.00", 26, discount="10")
    assert weekly.total_price == Decimal("23400.00") and weekly.annualized_value == Decimal("46800.00")
    assert weekly.weekly_quantity == Decimal(40)
    once = line("3", "19.99", None)
    assert once.total_price == once.annualized_value == Decimal("59.97") and once.weekly_quantity is None
    # Rounded once, on the contract's total, not per week.
    assert line_total(Decimal("1"), Decimal("0.333"), Decimal(0), 3) == Decimal("1.00")


def test_weekly_volume_keeps_units_apart_and_skips_one_off_orders():
    lines = [line("40", "25", 26), line("100", "3.1", 52, "lb"), line("5", "25", 13), line("9", "1200", None, "each")]
    assert weekly_volume(lines) == {"case": Decimal(45), "lb": Decimal(100)}
    assert weekly_volume([]) == {}


def test_annualized_value_follows_the_lines_or_scales_a_typed_value():
    two_years = [line("10", "10.00", 104)]  # total 10 400, a year 5 200
    assert annualized_value(Decimal("10400.00"), ValueSource.PRODUCTS, two_years) == Decimal("5200.00")
    assert annualized_value(Decimal("9000.00"), ValueSource.MANUAL, two_years) == Decimal("4500.00")
    assert annualized_value(Decimal("9000.00"), "manual", []) == Decimal("9000.00")
    assert annualized_value(Decimal("0.00"), ValueSource.PRODUCTS, []) == Decimal("0.00")
    free = [Line(Decimal(1), Decimal(0), Decimal(0), 52, "case", Decimal("0.00"))]
    assert annualized_value(Decimal("700.00"), ValueSource.MANUAL, free) == Decimal("700.00")


def test_an_accounts_current_business_is_recent_wins_and_running_contracts():
    running = WonDeal(TODAY - timedelta(weeks=60), Decimal("52000.00"), ValueSource.PRODUCTS,
                      [line("10", "50.00", 104)])  # won 60 weeks ago, supplies for 104
    ended = WonDeal(TODAY - timedelta(weeks=60), Decimal("1300.00"), ValueSource.PRODUCTS, [line("1", "100.00", 13)])
    recent_once = WonDeal(TODAY - timedelta(days=10), Decimal("800.00"), ValueSource.MANUAL, [])
    starts_later = WonDeal(TODAY + timedelta(days=3), Decimal("520.00"), ValueSource.PRODUCTS, [line("1", "10.00", 52)])
    deals = [running, ended, recent_once, starts_later]
    assert account_weekly_volume(deals, TODAY) == {"case": Decimal(10)}
    assert account_annualized_value(deals, TODAY) == Decimal("26000.00") + Decimal("800.00")


def test_contract_weeks_are_bounded():
    assert contract_weeks_error(None) is None and contract_weeks_error(1) is None and contract_weeks_error(520) is None
    assert contract_weeks_error(0) and contract_weeks_error(521) and contract_weeks_error(-4)
