"""Search (app/queries/search.py) over accounts, contacts, opportunities and products.

PostgreSQL: the pg_trgm extension and GIN trigram indexes on exactly the expressions the search compares
(lower(name)…, a contact's full name, the digits of a phone), which serve its `%`, `<%` and LIKE operators.
Nothing else to keep in sync: the indexes are the tables'.

SQLite: one FTS5 table per record type with the trigram tokenizer (SQLite ≥ 3.34), rowid = the record's
id, kept in sync by triggers on insert, update of a searched column and delete (whoever writes: services,
the bench's INSERT … SELECT, `crm seed-demo --reset`'s DELETE); existing rows are copied in.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

PG_INDEXES = {
    "search_accounts_name": "accounts USING gin (lower(name) gin_trgm_ops)",
    "search_contacts_full_name": "contacts USING gin (lower(first_name || ' ' || last_name) gin_trgm_ops)",
    "search_contacts_email": "contacts USING gin (lower(email) gin_trgm_ops)",
    "search_contacts_phone": "contacts USING gin (regexp_replace(phone, '\\D', '', 'g') gin_trgm_ops)",
    "search_opportunities_name": "opportunities USING gin (lower(name) gin_trgm_ops)",
    "search_products_name": "products USING gin (lower(name) gin_trgm_ops)",
    "search_products_sku": "products USING gin (lower(sku) gin_trgm_ops)",
}


def _digits(column: str) -> str:
    """SQLite has no regexp_replace: the usual phone punctuation removed (app.domain.search keeps digits only)."""
    expr = column
    for char in (" ", "-", "(", ")", ".", "+", "/"):
        expr = f"replace({expr}, '{char}', '')"
    return expr


# FTS table -> (source table, {FTS column: SQL over the source row, `{row}` standing for new./old.}, watched columns)
SQLITE_TABLES = {
    "search_accounts": ("accounts", {"name": "{row}name"}, ("name",)),
    "search_contacts": ("contacts", {"full_name": "{row}first_name || ' ' || {row}last_name",
                                     "email": "coalesce({row}email, '')",
                                     "phone_digits": _digits("{row}phone")},
                        ("first_name", "last_name", "email", "phone")),
    "search_opportunities": ("opportunities", {"name": "{row}name"}, ("name",)),
    "search_products": ("products", {"name": "{row}name", "sku": "{row}sku"}, ("name", "sku")),
}


def _sqlite_statements() -> list[str]:
    out = []
    for fts, (table, columns, watched) in SQLITE_TABLES.items():
        names = ", ".join(columns)
        values = ", ".join(expr.format(row="new.") for expr in columns.values())
        copied = ", ".join(expr.format(row="") for expr in columns.values())
        insert = f"INSERT INTO {fts} (rowid, {names}) VALUES (new.id, {values});"
        delete = f"DELETE FROM {fts} WHERE rowid = old.id;"
        out += [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({names}, tokenize = 'trigram')",
            f"INSERT INTO {fts} (rowid, {names}) SELECT id, {copied} FROM {table}",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {table} BEGIN {insert} END",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE OF {', '.join(watched)} ON {table} "
            f"BEGIN {delete} {insert} END",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        ]
    return out


async def create_search(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, target in PG_INDEXES.items():
            await client.execute_script(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
        return
    for statement in _sqlite_statements():
        await client.execute_script(statement)


async def drop_search(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        for name in PG_INDEXES:
            await client.execute_script(f"DROP INDEX IF EXISTS {name}")
        return  # the extension stays: something else may use it
    for fts in SQLITE_TABLES:
        for suffix in ("insert", "update", "delete"):
            await client.execute_script(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        await client.execute_script(f"DROP TABLE IF EXISTS {fts}")


class Migration(migrations.Migration):
    dependencies = [('models', '0014_lost_reasons')]

    initial = False

    operations = [ops.RunPython(create_search, drop_search)]
