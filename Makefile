# Two commands from a fresh clone: `make run` (the whole suite) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACKAGES := shared services/auth services/catalog services/payments gateway web
PYPROJECTS := $(foreach p,$(PACKAGES),$(p)/pyproject.toml)

.PHONY: install run demo loadtest loadtest-install test lint typecheck check bench clean constraints

$(STAMP): $(PYPROJECTS) requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		$(foreach p,$(PACKAGES),-e $(p)) -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install  ## start every service and the gateway (127.0.0.1:8000); Ctrl-C stops them all
	$(PY) deploy/local/run.py

demo: install  ## with `make run` going: a demo catalog and two demo customers (printed)
	$(PY) deploy/local/demo.py

LOADTEST_VENV := .venv-loadtest
LOADTEST_HOST ?= http://127.0.0.1:8000

$(LOADTEST_VENV)/.installed-stamp: loadtest/requirements.txt
	test -x $(LOADTEST_VENV)/bin/python || $(PYTHON) -m venv $(LOADTEST_VENV)
	$(LOADTEST_VENV)/bin/pip install --quiet --disable-pip-version-check -r loadtest/requirements.txt
	touch $@

loadtest-install: $(LOADTEST_VENV)/.installed-stamp  ## Locust in its own venv (.venv-loadtest)

loadtest: loadtest-install  ## Locust's web UI on :8089 against LOADTEST_HOST; LOADTEST_ARGS="--headless -u 20 -t 1m"
	$(LOADTEST_VENV)/bin/locust -f loadtest/locustfile.py --host $(LOADTEST_HOST) $(LOADTEST_ARGS)

test: install  ## the whole suite against real RabbitMQ and PostgreSQL, in throwaway vhost/databases
	$(PY) -m pytest -m "not containers" $(PYTEST_ARGS)

# The whole suite in containers (docs/deploy.md): `make env` once, then `make up` / `make down`.
COMPOSE_ENV ?= deploy/env/compose.env
.PHONY: env k8s-dev-secrets up down test-containers

env:  ## write deploy/env/compose.env with fresh random passwords and signing key (never overwrites)
	$(PYTHON) deploy/env/generate.py --out $(COMPOSE_ENV)

k8s-dev-secrets:  ## the dev k8s overlay's Secret env files, fresh random (never overwrites)
	$(PYTHON) deploy/env/generate.py --k8s-dev deploy/k8s/overlays/dev/secrets

up:  ## build the image and start the whole suite in Docker (gateway 127.0.0.1:8000)
	@compose="$$($(PYTHON) deploy/env/check.py $(COMPOSE_ENV))" || exit 2; \
	  $$compose --env-file $(COMPOSE_ENV) up -d --build && \
	  echo "up: gateway on http://127.0.0.1:8000 (\`$$compose --env-file $(COMPOSE_ENV) ps\` shows health)"

down:  ## stop and remove the containers (the data volumes stay; docs/deploy.md: down -v)
	@compose="$$($(PYTHON) deploy/env/check.py $(COMPOSE_ENV))" || exit 2; \
	  $$compose --env-file $(COMPOSE_ENV) down

test-containers: install  ## the image and compose stack in a private Docker engine (root; ~10 min)
	$(PY) -m pytest -m containers tests/containers $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy -p shared -p gateway -p auth -p catalog -p payments -p web

check: lint typecheck

bench: install  ## the benchmark harness (bench/run.py, ~10 min); BENCH_ARGS=--quick for CI's smoke run
	$(PY) bench/run.py $(BENCH_ARGS)

.PHONY: alerts
alerts:  ## promtool check + unit tests of the alert rules (promtool: apt-get install prometheus)
	promtool check rules deploy/observability/alerts.yaml
	cd deploy/observability && promtool test rules alerts.test.yaml

.PHONY: chaos
chaos: install  ## Jepsen-style run on private RabbitMQ/PostgreSQL: CHAOS_ARGS=--short (CI) or "--seed N --duration S"
	$(PY) chaos/run.py $(CHAOS_ARGS)

clean:
	rm -rf $(VENV)

constraints: install  ## re-pin every transitive dependency after changing a pyproject
	(echo "# Every transitive dependency, pinned: regenerate with 'make constraints' after changing a pyproject."; \
	 $(VENV)/bin/pip freeze --exclude-editable | grep -v '^-e\|^suite-') > constraints.txt
