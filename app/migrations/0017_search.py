"""Search (app/queries/search.py) over accounts, contacts, opportunities and products.

PostgreSQL:
- `crm_search_vector(text)`: a text's words (runs of letters and digits, lower-cased) as a tsvector, so a
  word (or a word's prefix) is found through a GIN index, whatever the table's size. Letters are what the
  database's LC_CTYPE says: with a UTF-8 one (C.UTF-8, en_US.UTF-8) "Zürich" is one word, as in Python.
- `search_words`: every word of every searched field (the lexicon), with a GIN trigram index (pg_trgm):
  a query word's near spellings are looked up here, then searched as words. Statement-level triggers
  add the words of inserted and updated rows that it lacks, without waiting on other writers (words of
  deleted rows stay: they only cost a look-up).
- Indexes on the searched expressions: GIN over `crm_search_vector(...)` (words), btree over
  `lower(...)` (an exact field is always a candidate) and a GIN trigram index over a phone's digits; and
  opportunities (assigned_to_id, account_id) for the account visibility rule's subquery.

SQLite: one FTS5 table per record type with the trigram tokenizer (SQLite ≥ 3.34), rowid = the record's
id, kept in sync by triggers on insert, update of a searched column and delete (whoever writes: services,
the bench's INSERT … SELECT, `crm seed-demo --reset`'s DELETE); existing rows are copied in.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

WORDS_SQL = "array_to_tsvector(string_to_array(trim(regexp_replace(lower($1), '[^[:alnum:]]+', ' ', 'g')), ' '))"

# table -> the columns (or expressions over them) whose words are searched (a contact's full name is its
# first and last names' words)
PG_WORD_COLUMNS = {
    "accounts": ("name", "headquarters->>'city'"),
    "contacts": ("first_name", "last_name", "email"),
    "opportunities": ("name",),
    "products": ("name", "sku"),
}

PG_INDEXES = {
    "search_accounts_words": "accounts USING gin (crm_search_vector(name))",
    "search_accounts_exact": "accounts (lower(name))",
    "search_accounts_city_words": "accounts USING gin (crm_search_vector(headquarters->>'city'))",
    "search_accounts_city_exact": "accounts (lower(headquarters->>'city'))",
    "search_contacts_name_words": "contacts USING gin (crm_search_vector(first_name || ' ' || last_name))",
    "search_contacts_name_exact": "contacts (lower(first_name || ' ' || last_name))",
    "search_contacts_email_words": "contacts USING gin (crm_search_vector(email))",
    "search_contacts_email_exact": "contacts (lower(email))",
    "search_contacts_phone": "contacts USING gin (regexp_replace(phone, '\\D', '', 'g') gin_trgm_ops)",
    "search_opportunities_words": "opportunities USING gin (crm_search_vector(name))",
    "search_opportunities_exact": "opportunities (lower(name))",
    "search_products_name_words": "products USING gin (crm_search_vector(name))",
    "search_products_name_exact": "products (lower(name))",
    "search_products_sku_words": "products USING gin (crm_search_vector(sku))",
    "search_products_sku_exact": "products (lower(sku))",
    # Account visibility's "accounts of the deals you may see" (app/queries/visibility.py) read from the index
    # alone: a rep's search over accounts went from 35 to 9 ms at 1M deals.
    "search_opportunities_owner_account": "opportunities (assigned_to_id, account_id)",
}

PG_FUNCTIONS = [
    # plpgsql, never inlined, with a cost that tells the planner to find words through the indexes: as
    # an inlined expression it looked cheap, and a LIMIT over a sequential scan was planned instead.
    f"CREATE OR REPLACE FUNCTION crm_search_vector(text) RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE "
    f"COST 1000 AS $$ BEGIN RETURN {WORDS_SQL}; END $$",
    # TG_ARGV: the columns (expressions over the row, written in this migration) whose words the new rows
    # bring (transition table `new_rows`).
    "CREATE OR REPLACE FUNCTION crm_search_words_added() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE col text; BEGIN "
    "FOREACH col IN ARRAY TG_ARGV LOOP "
    "EXECUTE format('INSERT INTO search_words (word) SELECT DISTINCT w FROM new_rows, "
    "unnest(tsvector_to_array(crm_search_vector(%s))) AS w "
    "WHERE NOT EXISTS (SELECT 1 FROM search_words s WHERE s.word = w)', col); "
    "END LOOP; RETURN NULL; END $$",
]


async def _create_postgres(client) -> None:
    await client.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in PG_FUNCTIONS:
        await client.execute_script(statement)
    # No unique key, on purpose: two transactions bringing the same new word would wait for each other
    # (ON CONFLICT waits for the other's commit; in two orders, a deadlock). A word written twice by
    # concurrent transactions is harmless: the look-up reads distinct words.
    await client.execute_script("CREATE TABLE IF NOT EXISTS search_words (word text NOT NULL)")
    await client.execute_script("CREATE INDEX IF NOT EXISTS search_words_word ON search_words (word)")
    await client.execute_script(
        "CREATE INDEX IF NOT EXISTS search_words_trigrams ON search_words USING gin (word gin_trgm_ops)")
    for table, columns in PG_WORD_COLUMNS.items():
        for column in columns:
            await client.execute_script(
                f"INSERT INTO search_words (word) SELECT DISTINCT w FROM {table}, "
                f"unnest(tsvector_to_array(crm_search_vector({column}))) AS w "
                f"WHERE NOT EXISTS (SELECT 1 FROM search_words s WHERE s.word = w)")
        args = ", ".join("'" + c.replace("'", "''") + "'" for c in columns)
        for event in ("INSERT", "UPDATE"):
            await client.execute_script(
                f"CREATE TRIGGER search_words_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_search_words_added({args})")
    for name, target in PG_INDEXES.items():
        await client.execute_script(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


async def _drop_postgres(client) -> None:
    for name in PG_INDEXES:
        await client.execute_script(f"DROP INDEX IF EXISTS {name}")
    for table in PG_WORD_COLUMNS:
        for event in ("insert", "update"):
            await client.execute_script(f"DROP TRIGGER IF EXISTS search_words_{event} ON {table}")
    await client.execute_script("DROP TABLE IF EXISTS search_words")
    await client.execute_script("DROP FUNCTION IF EXISTS crm_search_words_added()")
    await client.execute_script("DROP FUNCTION IF EXISTS crm_search_vector(text)")
    # the extension stays: something else may use it


def _digits(column: str) -> str:
    """SQLite has no regexp_replace: the usual phone punctuation removed (app.domain.search keeps digits only)."""
    expr = column
    for char in (" ", "-", "(", ")", ".", "+", "/"):
        expr = f"replace({expr}, '{char}', '')"
    return expr


# FTS table -> (source table, {FTS column: SQL over the source row, `{row}` standing for new./old.}, watched columns)
SQLITE_TABLES = {
    "search_accounts": ("accounts", {"name": "{row}name", "city": "coalesce(json_extract({row}headquarters, '$.city'), '')"},
                        ("name", "headquarters")),
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
        await _create_postgres(client)
        return
    for statement in _sqlite_statements():
        await client.execute_script(statement)


async def drop_search(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await _drop_postgres(client)
        return
    for fts in SQLITE_TABLES:
        for suffix in ("insert", "update", "delete"):
            await client.execute_script(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        await client.execute_script(f"DROP TABLE IF EXISTS {fts}")


class Migration(migrations.Migration):
    dependencies = [('models', '0016_contact_log')]

    initial = False

    operations = [ops.RunPython(create_search, drop_search)]
