# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test lint install migrate demo clean reliability

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[ml,dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo --tracks

# The product on embedded defaults (SQLite + filesystem broker under var/) with one worker.
run: demo
	$(BIN)/python deploy/run_local.py

# The production web server (uvicorn + the ASGI app, as the web container runs it) on
# SERVE_BIND, against whatever DATABASE_URL / REDIS_URL are set (embedded defaults otherwise).
serve: migrate
	$(BIN)/python deploy/serve.py --local

# The whole suite; uses DATABASE_URL / REDIS_URL when they are set (.ci/run sets them).
test: install
	$(BIN)/python deploy/install_browser.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Reliability/security suite with faults under load + the load benchmark, against the local
# PostgreSQL and Redis (DATABASE_URL / REDIS_URL, else local defaults); prints JSON figures.
reliability: install
	$(BIN)/python -m tests.reliability.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy backend workers ml

clean:
	rm -rf var $(VENV)
