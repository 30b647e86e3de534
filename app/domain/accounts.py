"""Account hierarchy rules."""

from __future__ import annotations

from typing import Callable


def creates_cycle(account_id: int, new_parent_id: int | None, parent_of: Callable[[int], int | None]) -> bool:
    """Would making new_parent_id the parent of account_id close a loop in the hierarchy?"""
    seen: set[int] = set()
    current = new_parent_id
    while current is not None:
        if current == account_id:
            return True
        if current in seen:  # an existing loop elsewhere: refuse to extend it
            return True
        seen.add(current)
        current = parent_of(current)
    return False
