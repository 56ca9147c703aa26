# The template repository's own tasks. Needs only python3 (3.11+), make and git; `make test`
# first runs .ci/system-deps, which installs podman, node, shellcheck and the rest (Debian,
# as root) or stops with the command that does.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
DEMO_DIR := build/churn-model
LOCK := {{cookiecutter.project}}/requirements.lock
export PATH := $(BIN):$(PATH)
# pytest-xdist workers. Most slow tests wait on a server, podman or a job for much of their
# time, so one more worker than cores keeps both cores busy; WORKERS=0 runs in one process.
WORKERS ?= 3

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-fast lint lock bench-drift bench-serve bench-ci dashboard

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
		'{name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1)} \
		END {for (i = 1; i <= NR; i++) printf "  %-*s  %s\n", width, name[i], text[i]}'

venv: $(STAMP) ## the shared test environment: the generated project's lock plus the template's tools

$(STAMP): requirements-dev.txt $(LOCK) tests/support/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	# Compiled now: the tests start hundreds of Python processes (every CLI verb, the servers),
	# and where PYTHONDONTWRITEBYTECODE is set (CI machines here) each one compiled sklearn,
	# pandas and MLflow from source again: 17 s of CPU per import of the stack, 7 s compiled.
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python \
		-r requirements-dev.txt
	npm ci --silent --prefix tests/support
	touch $@

# The demo commits the bake with its pipeline's results before registering, so version 1's
# lineage names a real commit (registering first would record `uncommitted`).
demo: venv ## bake the default project into build/churn-model; set up, train, commit, register, test
	rm -rf $(DEMO_DIR)
	cookiecutter --no-input --output-dir $(dir $(DEMO_DIR)) .
	$(MAKE) -C $(DEMO_DIR) setup
	cd $(DEMO_DIR) && PATH="$$PWD/.venv/bin:$$PATH" dvc repro
	git -C $(DEMO_DIR) add -A
	git -C $(DEMO_DIR) commit --quiet -m "Start from cookiecutter-mlops-gitops (trained)"
	$(MAKE) -C $(DEMO_DIR) register test

test: ## every test of the template, slow ones included (what CI runs)
	bash .ci/system-deps
	$(MAKE) --no-print-directory venv
	python -m pytest -n $(WORKERS)

test-fast: venv ## the tests that take seconds, offline: bakes, hooks, linters, Actions on fakes
	bash tests/support/offline.sh python -m pytest -n $(WORKERS) -m "not slow and not image and not network"

lint: venv ## ruff on the template's own code
	ruff check .
	ruff format --check .

lock: venv ## re-lock the generated project's dependencies (with hashes) from its pyproject.toml
	rm -rf build/lock && cookiecutter --no-input --output-dir build/lock .
	cd build/lock/churn-model && uv pip compile --quiet --universal --python-version 3.11 \
		--generate-hashes --extra dev pyproject.toml -o requirements.lock \
		&& uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
		requirements-serve.txt -c requirements.lock -o requirements-serve.lock
	cp build/lock/churn-model/requirements.lock $(LOCK)
	cp build/lock/churn-model/requirements-serve.lock $(dir $(LOCK))

dashboard: venv ## rebuild the generated project's Grafana dashboard (monitoring/grafana/dashboard.json) in code
	python tools/dashboard.py

bench-drift: venv ## time and peak memory of the generated `drift` verb at 10k to 10M rows x 20 columns
	python bench/drift.py $(if $(ROWS),--rows $(ROWS))

bench-serve: venv ## our server vs `mlflow models serve` vs the bare model (PROJECT=a trained one)
	python bench/serve.py $(if $(PROJECT),--project $(PROJECT))

bench-ci: venv ## the generated ci.yml on a pull request under act: job, step and critical-path wall times (RUNS=2: then warm caches)
	python bench/ci_path.py $(if $(RUNS),--runs $(RUNS))
