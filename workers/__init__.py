"""arq workers: thin coroutines that take ids and call app.services (never app.api)."""
