# The two commands: `make run` (the service on its embedded default) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run down status test lint unit e2e tempest tempest-venv bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt constraints.txt pyproject.toml
	scripts/install-system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -r requirements.txt -r requirements-test.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .   # setuptools and wheel: the venv's, pinned
	touch $@

run: setup
	$(BIN)/dbaas up

down:
	$(BIN)/dbaas down

status:
	$(BIN)/dbaas status

test: setup lint
	$(BIN)/python -m pytest -q tests --ignore=tests/tempest
	$(MAKE) tempest

# Trove's own suite (trove-tempest-plugin, unmodified) against the keystone profile, serially:
# tests/tempest/. tempest and the plugin get a venv of their own, pinned.
TEMPEST_VENV ?= .venv-tempest
tempest-venv: $(TEMPEST_VENV)/.installed

$(TEMPEST_VENV)/.installed: tests/tempest/requirements.txt tests/tempest/constraints.txt
	$(PYTHON) -m venv $(TEMPEST_VENV)
	$(TEMPEST_VENV)/bin/pip install -q -c tests/tempest/constraints.txt -r tests/tempest/requirements.txt
	touch $@

tempest: setup tempest-venv
	DBAAS_TEMPEST_VENV=$(TEMPEST_VENV) $(BIN)/python -m pytest -q -rxXs tests/tempest

# ruff, configured in pyproject.toml; make test runs it first.
lint: setup
	$(BIN)/ruff check dbaas_api heat_plugins bench tests

unit: setup
	$(BIN)/python -m pytest -q tests/unit

e2e: setup
	$(BIN)/python -m pytest -q tests/e2e tests/integration

bench: setup
	$(BIN)/python bench/provision.py
	$(BIN)/python bench/list.py
	$(BIN)/python bench/changes.py
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/backup.py
	$(BIN)/python bench/replication.py
	$(BIN)/python bench/engines.py

clean:
	-$(BIN)/dbaas down
	rm -rf $(VENV) $(TEMPEST_VENV) .state
