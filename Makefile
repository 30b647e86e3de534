# Kitchen Pantry CRM. `make run` and `make test` work on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install js run test test-postgres test-sqlite test-unit lint schema bench bench-quick clean
NODE_STAMP := node_modules/.package-lock.json

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Node clients the tests drive (tests/js/: graphql-http audit, Apollo Client, GraphiQL in headless Chromium).
$(NODE_STAMP): package.json package-lock.json
	@scripts/ensure-client-tools
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

js: $(NODE_STAMP)
	@scripts/ensure-client-tools

## API on http://127.0.0.1:8000/graphql (GraphiQL) + arq worker; embedded SQLite unless DATABASE_URL is set.
run: install
	$(BIN)/crm migrate
	$(BIN)/crm seed-demo
	exec $(BIN)/crm serve --with-worker

## The whole suite on PostgreSQL and on SQLite (side by side: most of the time is spent waiting).
test: install js lint
	@$(BIN)/pytest -q -p no:cacheprovider > .test-postgres.log 2>&1 & pg=$$!; \
	CRM_TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider > .test-sqlite.log 2>&1 & lite=$$!; \
	wait $$pg; pg_status=$$?; wait $$lite; lite_status=$$?; \
	echo "== PostgreSQL"; cat .test-postgres.log; echo "== SQLite"; cat .test-sqlite.log; \
	rm -f .test-postgres.log .test-sqlite.log; \
	test $$pg_status -eq 0 && test $$lite_status -eq 0

test-postgres: install js
	CRM_TEST_DATABASE=postgres $(BIN)/pytest -q

test-sqlite: install js
	CRM_TEST_DATABASE=sqlite $(BIN)/pytest -q

## The unit tests of the pure rules (app/domain) alone: no database, no Redis (--noconftest skips their fixtures).
test-unit: install
	$(BIN)/pytest -q -p no:cacheprovider --noconftest tests/unit

## Layers and import cycles (import-linter), ruff, mypy: all configured in pyproject.toml.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check app workers tests bench examples
	$(BIN)/mypy

## Regenerate the published contract after a schema change.
schema: install
	$(BIN)/crm export-schema --output schema.graphql

## Benchmarks on PostgreSQL at 10k, 100k and 1M opportunities (databases crm_bench_*, reused): see bench/README.md.
bench: install
	$(BIN)/python -m bench
	if [ -f bench/analytics_bench.py ]; then $(BIN)/python -m bench.analytics_bench; fi

## Every benchmark scenario once on ~200 opportunities, no timing.
bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) data *.egg-info node_modules
