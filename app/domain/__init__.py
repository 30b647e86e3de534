"""Pure business rules over plain values: no Tortoise, no Strawberry."""
