"""Trove's own scenario suite (trove-tempest-plugin 2.8.0, unmodified, tempest 47.0.0) against
the keystone profile: real Keystone, real Heat, real MariaDB and PostgreSQL servers.

The suite runs once per session, serially (tests/tempest/suite.py); each of its tests is one
test here, asserting that tempest's own outcome was a pass. A test this service cannot pass
yet is an expected failure naming the gap (issue 12's item); it is strict, so a gap that
closes shows as XPASS and fails until its line here is removed.

``pytest tests/tempest -k 'TestBackupMariaDB or test_user_database'`` runs only the tempest
tests selected (each class's setup still runs once): to check the gap a change closes.
"""
import json
import os
import time
from pathlib import Path

import pytest

from tests.tempest.suite import TempestSuite, outcome

SCENARIO = "trove_tempest_plugin.tests.scenario."
TESTS = [
    "test_instance_basic.TestInstanceBasicMariaDB.test_database_access",
    "test_instance_basic.TestInstanceBasicMariaDB.test_user_database",
    "test_instance_basic.TestInstanceBasicMariaDB.test_configuration",
    "test_instance_basic.TestInstanceBasicMariaDB.test_root_disable",
    "test_instance_basic.TestInstanceBasicPostgreSQL.test_database_access",
    "test_instance_basic.TestInstanceBasicPostgreSQL.test_user_database",
    "test_instance_basic.TestInstanceBasicPostgreSQL.test_configuration",
    "test_instance_basic.TestInstanceBasicPostgreSQL.test_root_disable",
    "test_instance_actions.TestInstanceActionsMariaDB.test_instance_upgrade",
    "test_instance_actions.TestInstanceActionsMariaDB.test_resize",
    "test_instance_actions.TestInstanceActionsMariaDB.test_rebuild",
    "test_instance_actions.TestInstanceActionsPostgreSQL.test_instance_upgrade",
    "test_instance_actions.TestInstanceActionsPostgreSQL.test_resize",
    "test_instance_actions.TestInstanceActionsPostgreSQL.test_rebuild",
    "test_backup.TestBackupMariaDB.test_backup_full",
    "test_backup.TestBackupMariaDB.test_backup_incremental",
    "test_backup.TestBackupPostgreSQL.test_backup_full",
    "test_backup.TestBackupPostgreSQL.test_backup_incremental",
    "test_replication.TestReplicationMariaDB.test_replication",
    "test_replication.TestReplicationPostgreSQL.test_replication",
    "test_instance_update_access.TestInstanceUpdateAccessMariaDB.test_instance_update_access",
    "test_instance_update_access.TestInstanceUpdateAccessPostgreSQL.test_instance_update_access",
]
# test -> why it cannot pass yet (issue 12's items). Keep each reason true: the report prints it.
NEEDS_NOVA = "needs Nova (checks the Nova server's flavor)"
EXPECTED_FAILURES = {
    # Fail only at their check of the Nova server's flavor: there is no Nova on this machine.
    "test_instance_actions.TestInstanceActionsMariaDB.test_resize": NEEDS_NOVA,
    "test_instance_actions.TestInstanceActionsPostgreSQL.test_resize": NEEDS_NOVA,
}
# Skipped by the plugin's own options, each for a service this machine cannot run (README):
# test_instance_upgrade (pre_upgrade_datastore_versions: one version per datastore here) and
# test_rebuild (rebuild_image_id: a Glance image). A class's tearDownClass may fail too;
# tempest counts that apart from the tests.
RESULTS = Path(os.environ.get("DBAAS_TEMPEST_RESULTS", Path(__file__).resolve().parents[2] / ".tempest-results.json"))


@pytest.fixture(scope="module")
def suite_results(request, keystone, keystone_stack):
    suite = TempestSuite()
    # Only the tests pytest selected (``-k``): the lead's full run takes them all.
    selected = [item.callspec.params["test"] for item in request.session.items
                if item.module.__name__ == __name__ and hasattr(item, "callspec")]
    try:
        suite.prepare(keystone, keystone_stack.url)
        started = time.monotonic()
        results = suite.run(None if len(selected) == len(TESTS) else selected)
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))   # each test's details, to read after
        RESULTS.chmod(0o600)
        passed = sum(outcome(results, SCENARIO + test)["status"] == "success" for test in selected)
        request.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"\ntrove-tempest-plugin 2.8.0: {passed} of {len(selected)} tests pass, "
            f"in {time.monotonic() - started:.0f} s")
        yield results, suite
    finally:
        suite.remove()


@pytest.mark.parametrize("test", [
    pytest.param(test, marks=pytest.mark.xfail(reason=EXPECTED_FAILURES[test], strict=True, raises=AssertionError))
    if test in EXPECTED_FAILURES else test for test in TESTS])
def test_trove_tempest(suite_results, test):
    results, _ = suite_results
    result = outcome(results, SCENARIO + test)
    if result["status"] == "skip":
        pytest.skip(f"tempest skipped it: {result['details'][-300:]}")
    assert result["status"] == "success", f"{result['status']}: {result['details']}"
