# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CHURN  := $(BIN)/churn
STAMP  := $(VENV)/.installed
DEMO_CLIENTS ?= 3000
DEMO_MONTHS  ?= 24
DEMO_TRIALS  ?= 20
PORT ?= 3000

PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))

.PHONY: install browser postgres java demo test test-all lint format bench serve docs docs-serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# Debian's Chromium for the headless UI test (Playwright must not download its own).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	    || echo "warning: could not install chromium (the UI test will be skipped)"; \
	  else echo "chromium missing: sudo apt-get install chromium (the UI test will be skipped)"; fi; }

# Debian's PostgreSQL for the store tests: the tests start a throwaway server themselves
# (tests/pg_server.py: initdb + pg_ctl in a temp dir on a free port, stopped at the end).
postgres:
	@if [ -z "$(PG_BIN)" ] && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
	    || echo "warning: could not install postgresql (the PostgreSQL store tests will be skipped)"; \
	  else echo "postgresql missing: sudo apt-get install postgresql (the PostgreSQL store tests will be skipped)"; fi; fi

# Java for the Spark tests (PySpark 4 needs 17+), from Debian when missing.
java:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else echo "java missing: sudo apt-get install openjdk-17-jre-headless (Spark tests need it)"; exit 1; fi; }

# The demo runs what a centre runs: the CRM's reports (here the generator's base written as
# one, `churn export-crm`) imported into the contract (`churn import`), then the pipeline.
demo: install
	rm -rf data/sim data/export data/raw
	$(CHURN) simulate --clients $(DEMO_CLIENTS) --months $(DEMO_MONTHS) --names --out data/sim
	$(CHURN) export-crm data/sim --out data/export
	$(CHURN) import data/export --mapping configs/mappings/crm_report.yaml --out data/raw
	cp -r data/sim/_truth data/raw/_truth   # the generator's hidden truth: the evaluation's reference
	$(CHURN) validate data/raw
	$(CHURN) features --raw data/raw --out data/features/snapshots.parquet --every month
	$(CHURN) train --features data/features/snapshots.parquet --trials $(DEMO_TRIALS) --report reports/train.json
	$(CHURN) models
	$(CHURN) score --out data/scores/latest.parquet
	$(CHURN) call-list --capacity 100 --out data/scores/call_list.csv
	$(CHURN) weekly --raw data/raw --weeks-back 1
	$(CHURN) weekly --raw data/raw --json reports/week.json
	-$(CHURN) monitor --raw data/raw   # exit 4 when an alert fires; the demo goes on
	$(BIN)/python -m serving.demo --port $(PORT)
	@echo ""
	@echo "Done. Where to look next:"
	@echo "  data/export/                              the CRM export the demo imported (Windows-1251 CSV, .xlsx)"
	@echo "  reports/train.json, reports/evaluation/report.html  model vs rule vs reference (true 90-day probability) on the test block"
	@echo "  data/scores/call_list.csv                 this week's call list (top 100 by expected loss, RUB over 90 days)"
	@echo "  data/store.db, reports/week.json          two weekly runs in the score store (churn weekly)"
	@echo "  reports/monitoring/index.html             drift against the training reference (churn monitor)"
	@echo "  $(BIN)/mlflow ui --backend-store-uri sqlite:///models/mlflow.db   runs and the registry"
	@echo "  make serve, then http://localhost:$(PORT)/ui   the supervisor page (key: data/demo_supervisor_key.txt)"

serve: install
	$(CHURN) serve --port $(PORT)

test: install browser postgres java
	$(BIN)/python -m pytest -q -m "not slow" --timeout 900

test-all: install browser postgres java
	$(BIN)/python -m pytest -q --timeout 1800

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/history.py
	$(BIN)/python benchmarks/weekly.py

# The docs site (docs/, mkdocs.yml): reference pages are generated from the code at build time.
MKDOCS := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs

docs: install
	$(MKDOCS) build --strict

docs-serve: install
	$(MKDOCS) serve --dev-addr localhost:8000

clean:
	rm -rf site data reports models/mlflow.db models/mlartifacts .pytest_cache
