"""Seed data: the demo data set loaded by `crm seed-demo` (not a use case; it writes through the models and services)."""
