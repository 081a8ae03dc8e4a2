# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test lint install migrate demo clean reliability reference-venv

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

# A separate venv with the reference packages (TensorFlow, `fer`, `mtcnn`), never the project's:
# for python -m ml.tools.compare_reference. torch comes from the local CPU build first, so that
# nothing pulls a CUDA one; `fer` without its dependencies (it would pull facenet-pytorch and
# torch for an MTCNN we do not use; its classifier needs only what is listed).
REF := .venv-reference
reference-venv:
	test -x $(REF)/bin/python || $(PYTHON) -m venv $(REF)
	$(REF)/bin/pip install --quiet tensorflow-cpu==2.21.0 mtcnn==1.0.0 \
		opencv-contrib-python-headless==5.0.0.93 pandas==3.1.1 requests==2.34.2 \
		tqdm==4.70.1 pillow==13.0.0 'setuptools<81'
	$(REF)/bin/pip install --quiet --no-deps fer==25.10.3

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy backend workers ml

clean:
	rm -rf var $(VENV)
