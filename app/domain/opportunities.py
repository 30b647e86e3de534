"""Opportunity arithmetic: line totals and the value they add up to."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

CENT = Decimal("0.01")


def line_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    """quantity × unit price × (1 − discount %), rounded half-up to the cent."""
    gross = Decimal(quantity) * Decimal(unit_price)
    return (gross * (Decimal(100) - Decimal(discount_percent)) / Decimal(100)).quantize(CENT, ROUND_HALF_UP)


def products_value(line_totals: Iterable[Decimal]) -> Decimal:
    return sum((Decimal(t) for t in line_totals), Decimal("0.00")).quantize(CENT)
