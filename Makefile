# qbsync: `make run` starts the product on the embedded default, `make test` runs the suite.
# Needs only Python 3.11+ and make: uv is installed into .tools/ on first use.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
RUN := $(UV) run --frozen --no-sync
SERVICES := ingest mapper poster errors
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

.PHONY: install
install: $(VENV)/.synced ## Create or update the environment (uv workspace, one lock file)

.PHONY: run
run: install ## The embedded stack, three demo tenants and a synced week; serves until Ctrl-C
	$(RUN) qbsync dev up --demo

.PHONY: lint
lint: install ## ruff, mypy --strict and the import rules
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy libs services tests bench
	$(RUN) lint-imports

.PHONY: check-packages
check-packages: | $(UV) ## Each service installs and imports on its own
	@for svc in $(SERVICES); do \
	  echo "== qbsync-$$svc alone"; \
	  UV_PROJECT_ENVIRONMENT=.venvs/$$svc $(UV) sync --frozen --quiet --package qbsync-$$svc --no-dev || exit 1; \
	  .venvs/$$svc/bin/python -c "import qbsync_$$svc.app" || exit 1; \
	done

.PHONY: system-deps
system-deps: ## Debian's chromium + chromedriver for the operator-page browser test
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium and chromium-driver (Debian packages)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "The browser test needs /usr/bin/chromium and /usr/bin/chromedriver: apt-get install chromium chromium-driver" >&2; exit 1; \
	  fi; \
	fi

.PHONY: deploy-check
deploy-check: ## Validate deploy/compose.yaml and the kustomize base with their own tools
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	QBSYNC_POSTER_TOKEN_KEYS=validate QBSYNC_MAPPER_ADMIN_TOKEN=validate docker-compose -f deploy/compose.yaml config -q
	@command -v kubectl >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null; }
	kubectl kustomize deploy/k8s/base >/dev/null

.PHONY: test
test: lint check-packages system-deps deploy-check ## Lint, then the whole pytest suite against a real broker and database
	$(RUN) pytest -v

.PHONY: bench
bench: install ## Benchmarks under bench/; figures go to docs/benchmarks.md (ONLY=poster re-runs one)
	$(RUN) python bench/run_all.py $(ONLY)

.PHONY: docs
docs: install ## Regenerate generated docs: AsyncAPI per service, the event JSON Schema
	@for svc in $(SERVICES); do \
	  $(RUN) faststream docs gen --factory --yaml qbsync_$$svc.asyncapi:docs_app --out docs/asyncapi/$$svc.yaml >/dev/null || exit 1; \
	done
	$(RUN) qbsync schema export --out docs/schema/event-v1.schema.json

.PHONY: clean
clean: ## Remove environments and dev-stack state
	-$(RUN) qbsync dev down
	rm -rf $(VENV) .venvs .tools .qbsync .mypy_cache .ruff_cache .pytest_cache
