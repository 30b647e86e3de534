"""Use cases: the only code that writes. Workers reuse these without GraphQL."""
