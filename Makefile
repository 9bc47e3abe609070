# The two commands: `make run` and `make test`. Everything else is set up on the way.
# The Lambda runtime's Python (infra/stages.py LAMBDA_RUNTIME): the venv uses the same minor
# version when the machine has it, and says so when it falls back to python3.
RUNTIME_PYTHON := python3.13
PYTHON ?= $(shell for candidate in $(RUNTIME_PYTHON) \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(RUNTIME_PYTHON:python%=%)*/bin/$(RUNTIME_PYTHON) 2>/dev/null); do \
	$$candidate -c pass 2>/dev/null && { echo $$candidate; exit; }; done; echo python3)
VENV_PYTHON_VERSION = $(shell $(PYTHON) -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
VENV := .venv
BIN := $(VENV)/bin
IAC_VENV := .venv-iac
PORT ?= 8000

.PHONY: run test check lint format typecheck unit integration e2e bench deps java chromium clean synth lock swagger-ui

deps: $(VENV)/.installed node_modules/.installed java chromium $(VENV)/.infra-installed $(IAC_VENV)/.installed

$(VENV)/.installed: requirements.in requirements.txt requirements-dev.txt
	@[ "$(VENV_PYTHON_VERSION)" = "$(RUNTIME_PYTHON)" ] || echo "note: $(RUNTIME_PYTHON) (the Lambda runtime's) is not on this machine; the venv uses $(VENV_PYTHON_VERSION)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<26.3"
	$(BIN)/pip install --quiet -r requirements.txt
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

# `make run` sets up only what it runs: the venv, DynamoDB Local (node_modules) and Java.
# The CDK libraries, the template linters and Chromium are for the tests (`deps`).
run: $(VENV)/.installed node_modules/.installed java
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

# requirements.txt, the hashed lock of what ships, from requirements.in (needs PyPI).
lock: $(VENV)/.installed
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file requirements.txt requirements.in

# Re-vendor the docs page's Swagger UI files (version and sha256 in chalicelib/api/swagger_ui/).
swagger-ui: $(VENV)/.installed
	$(BIN)/python -m devtools.vendor_swagger_ui

clean:
	rm -rf $(VENV) $(IAC_VENV) infra/cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache
