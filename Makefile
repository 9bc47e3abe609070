# The two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
IAC_VENV := .venv-iac
PORT ?= 8000

.PHONY: run test check lint format typecheck unit integration e2e bench deps java chromium clean synth

deps: $(VENV)/.installed node_modules/.installed java chromium $(VENV)/.infra-installed $(IAC_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<26.3"
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The CDK app's libraries (infra/), in the same venv: the tests synthesise in-process.
$(VENV)/.infra-installed: $(VENV)/.installed infra/requirements.txt
	$(BIN)/pip install --quiet -r infra/requirements.txt
	touch $@

# Template linters (cfn-lint, checkov) in their own venv: checkov's pins clash with ours.
$(IAC_VENV)/.installed: infra/requirements-lint.txt
	$(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/pip install --quiet --upgrade pip
	$(IAC_VENV)/bin/pip install --quiet -r infra/requirements-lint.txt
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

java:
	@command -v java >/dev/null 2>&1 || { \
		echo "installing default-jre-headless (java is missing)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }

# Headless Chromium renders the /docs page in the end-to-end tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (the docs page test renders /docs)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

run: deps
	PORT=$(PORT) $(BIN)/python -m devtools.run_local

test: deps check
	$(BIN)/python -m pytest -n 2 --dist loadfile

check: lint typecheck

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

unit: deps
	$(BIN)/python -m pytest tests/unit

integration: deps
	$(BIN)/python -m pytest tests/integration

e2e: deps
	$(BIN)/python -m pytest tests/e2e

bench: deps
	$(BIN)/python -m benchmarks.run

# CloudFormation templates for every stage into infra/cdk.out; no AWS account or CDK CLI.
synth: $(VENV)/.infra-installed
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python -m infra.app

clean:
	rm -rf $(VENV) $(IAC_VENV) infra/cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache
