# The two commands: `make run` (the service on its embedded default) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run down status test lint policy-sample unit e2e e2e-production tempest tempest-venv bench clean

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
	$(BIN)/python -m pytest -q tests --ignore=tests/tempest --ignore=tests/e2e/test_production_faults.py
	$(MAKE) e2e-production
	$(MAKE) tempest

# The e2e tests that run on the production profile too (Heat's own heat-engine x2 and WSGI
# API over RabbitMQ and MariaDB; DBAAS_TEST_PROFILE, tests/conftest.py): create, change,
# actions, backup, replica, cluster and the Keystone tests, then the profile's faults.
PRODUCTION_E2E = \
	'tests/e2e/test_instances.py::test_create_connect_write_read_delete' \
	'tests/e2e/test_accounts.py::test_users_databases_grants_and_passwords[postgresql-15]' \
	'tests/e2e/test_actions.py::test_restart_runs_a_new_server_with_the_same_data[postgresql]' \
	'tests/e2e/test_actions.py::test_two_resizes_at_once_one_wins_the_other_is_409' \
	'tests/e2e/test_backups.py::test_local_directory_is_the_embedded_default[postgresql]' \
	'tests/e2e/test_replication.py::test_replicas_promote_eject_detach[redis]' \
	'tests/e2e/test_clusters.py::test_galera_cluster_create_grow_shrink_delete' \
	tests/e2e/test_keystone.py \
	tests/e2e/test_production_faults.py
e2e-production: setup
	DBAAS_TEST_PROFILE=production $(BIN)/python -m pytest -q --durations=10 $(PRODUCTION_E2E)

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

# etc/policy.yaml, generated from the rules in dbaas_api/policy.py (policy.sample(); a unit
# test fails while the packaged file differs from it).
policy-sample: setup
	$(BIN)/python -c 'from dbaas_api import policy; print(policy.sample())' > etc/policy.yaml

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
	$(BIN)/python bench/scale.py

clean:
	-$(BIN)/dbaas down
	rm -rf $(VENV) $(TEMPEST_VENV) .state
