"""Read side: visibility scopes, keyset pagination, batch loaders and SQL aggregates."""
