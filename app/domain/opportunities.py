"""Opportunity arithmetic: line totals, the value they add up to, and food-service volumes.

A product line sells `quantity` units of its product (cases, pounds, … — the product's unit). With
`contract_weeks` it is a supply contract: `quantity` per week for that many weeks, and its total is the
contract's value; without, it is a one-off order. A deal's value either follows its lines
(`ValueSource.PRODUCTS`) or is typed by a person (`MANUAL`); lines never overwrite a typed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from app.domain.enums import ValueSource

CENT = Decimal("0.01")
WEEKS_PER_YEAR = 52
MAX_CONTRACT_WEEKS = 520  # ten years


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def _net(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    return Decimal(quantity) * Decimal(unit_price) * (Decimal(100) - Decimal(discount_percent)) / Decimal(100)


def line_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal,
               contract_weeks: int | None = None) -> Decimal:
    """quantity × unit price × (1 − discount %) [× contract weeks], rounded half-up to the cent."""
    return _cents(_net(quantity, unit_price, discount_percent) * (contract_weeks or 1))


def products_value(line_totals: Iterable[Decimal]) -> Decimal:
    return sum((Decimal(t) for t in line_totals), Decimal("0.00")).quantize(CENT)


@dataclass(frozen=True)
class Line:
    """What the volume rules need of a product line."""
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    contract_weeks: int | None
    unit: str
    total_price: Decimal

    @property
    def recurring(self) -> bool:
        return self.contract_weeks is not None

    @property
    def weekly_quantity(self) -> Decimal | None:
        return Decimal(self.quantity) if self.recurring else None

    @property
    def annualized_value(self) -> Decimal:
        """A contract line: a year (52 weeks) of its weekly value; a one-off order: its total."""
        if not self.recurring:
            return Decimal(self.total_price)
        return _cents(_net(self.quantity, self.unit_price, self.discount) * WEEKS_PER_YEAR)

    def running_on(self, closed_on: date | None, today: date) -> bool:
        """A won contract line supplies from the close date for its contract weeks."""
        if not self.recurring or closed_on is None:
            return False
        return closed_on <= today < closed_on + timedelta(weeks=self.contract_weeks or 0)


def weekly_volume(lines: Iterable[Line]) -> dict[str, Decimal]:
    """Units per week of the contract lines, per unit (cases and pounds never add up)."""
    volume: dict[str, Decimal] = {}
    for line in lines:
        if line.recurring:
            volume[line.unit] = volume.get(line.unit, Decimal(0)) + Decimal(line.quantity)
    return dict(sorted(volume.items()))


def annualized_value(value: Decimal, source: ValueSource | str, lines: list[Line]) -> Decimal:
    """A year of the deal. Following its lines: the lines' annualised values. A typed value is the
    deal's whole value, so it is annualised in the proportion its lines are (a 2-year contract's
    typed value counts half); with no lines to say, the typed value is taken as a year's."""
    annual = sum((line.annualized_value for line in lines), Decimal(0))
    if ValueSource(source) is ValueSource.PRODUCTS:
        return _cents(annual) if lines else _cents(Decimal(value))
    total = sum((Decimal(line.total_price) for line in lines), Decimal(0))
    if not lines or total <= 0:
        return _cents(Decimal(value))
    return _cents(Decimal(value) * annual / total)


def contract_weeks_error(weeks: int | None) -> str | None:
    if weeks is not None and not 1 <= weeks <= MAX_CONTRACT_WEEKS:
        return f"must be between 1 and {MAX_CONTRACT_WEEKS} weeks"
    return None


@dataclass(frozen=True)
class WonDeal:
    """A won deal as an account's current business sees it."""
    closed_on: date | None
    value: Decimal
    source: ValueSource | str
    lines: list[Line]

    def current(self, today: date) -> bool:
        """Won within the last year, or a contract line still supplying."""
        if self.closed_on is not None and today - timedelta(weeks=WEEKS_PER_YEAR) < self.closed_on <= today:
            return True
        return any(line.running_on(self.closed_on, today) for line in self.lines)


def account_weekly_volume(deals: Iterable[WonDeal], today: date) -> dict[str, Decimal]:
    """What an account takes per week now: its won deals' contract lines still supplying."""
    return weekly_volume(line for deal in deals for line in deal.lines if line.running_on(deal.closed_on, today))


def account_annualized_value(deals: Iterable[WonDeal], today: date) -> Decimal:
    """A year of an account's current business: the annualised value of each current won deal."""
    return sum((annualized_value(d.value, d.source, d.lines) for d in deals if d.current(today)), Decimal("0.00"))
