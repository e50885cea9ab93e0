"""Trove's own functional suite (trove-tempest-plugin, unmodified) against the keystone profile.

tempest and the plugin live in a venv of their own (`make tempest-venv`, pinned by
tests/tempest/constraints.txt): their pins differ from the service's. ``TempestSuite`` writes a
tempest.conf from what the running service lists (datastores, flavors, networks, volume types),
runs the chosen modules serially, and reads each test's outcome from tempest's subunit stream.
"""
import json
import os
import re
import subprocess
import tempfile
import shutil
import textwrap
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("DBAAS_TEMPEST_VENV", ROOT / ".venv-tempest"))
MODULES = ("test_instance_basic", "test_instance_actions", "test_backup", "test_replication",
           "test_instance_update_access")
DATASTORES = {"mariadb": "MariaDB", "postgresql": "PostgreSQL"}  # name -> the plugin's class suffix
REGEX = (r"^trove_tempest_plugin\.tests\.scenario\.(%s)\.\w+(%s)\."
         % ("|".join(MODULES), "|".join(DATASTORES.values())))

# Read subunit with the tempest venv's own python-subunit: {test id: {"status", "details"}}.
READ_RESULTS = """\
import json, sys
import subunit, testtools
results = {}
def on_test(test):
    details = "".join(v.as_text() for k, v in test["details"].items() if k in ("traceback", "reason"))
    results[test["id"]] = {"status": test["status"], "details": details[-4000:]}
case = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
result = testtools.StreamToDict(on_test)
result.startTestRun()
case.run(result)
result.stopTestRun()
json.dump(results, sys.stdout)
"""


def listed(api_url, token, project_id, path, key):
    response = requests.get(f"{api_url}/v1.0/{project_id}{path}", timeout=30,
                            headers={"X-Auth-Token": token})
    response.raise_for_status()
    return response.json()[key]


def service_lists(api_url, keystone):
    """What the conf is written from: the service's own lists, as the admin sees them."""
    admin = keystone.account("admin")
    token, project_id = keystone.token("admin"), keystone.project_ids["admin"]
    datastores = listed(api_url, token, project_id, "/datastores", "datastores")
    flavors = sorted(listed(api_url, token, project_id, "/flavors", "flavors"), key=lambda f: f["ram"])
    volume_types = listed(api_url, token, project_id, "/volume-types", "volume_types")
    networks = listed(api_url, token, project_id, "/networks", "networks")
    versions = {d["name"]: d.get("default_version") or d["versions"][0]["name"] for d in datastores}
    # The version's name, not its id, as default_datastore_versions wants it.
    names = {v["id"]: v["name"] for d in datastores for v in d["versions"]}
    return {"admin": admin, "versions": {ds: names.get(v, v) for ds, v in versions.items()},
            "flavors": flavors, "volume_types": volume_types,
            "network": networks[0]["id"]}


def tempest_conf(keystone, lists, log_file):
    admin = lists["admin"]
    flavors = lists["flavors"]
    # The smallest flavor to create, the next one up to resize to.
    flavor, resize = flavors[0]["id"], flavors[min(1, len(flavors) - 1)]["id"]
    enabled = [ds for ds in DATASTORES if ds in lists["versions"]]
    volume_type = lists["volume_types"][0]["name"]
    # shared_network a UUID: the plugin then makes no Neutron call (it sends it as nics).
    network = lists["network"]
    return textwrap.dedent(f"""\
        [DEFAULT]
        log_file = {log_file}
        debug = true

        [auth]
        use_dynamic_credentials = true
        admin_username = {admin.username}
        admin_password = {admin.password}
        admin_project_name = {admin.project_name}
        admin_domain_name = Default
        tempest_roles = member

        [identity]
        uri_v3 = {keystone.url}
        auth_version = v3
        region = RegionOne
        v3_endpoint_type = public

        [identity-feature-enabled]
        api_v2 = false

        [service_available]
        trove = true
        nova = false
        cinder = false
        neutron = false
        glance = false
        swift = false
        barbican = false

        [database]
        enabled_datastores = {",".join(enabled)}
        default_datastore_versions = {",".join(f"{ds}:{lists['versions'][ds]}" for ds in enabled)}
        flavor_id = {flavor}
        resize_flavor_id = {resize}
        shared_network = {network}
        volume_type = {volume_type}
        database_build_timeout = 600
        database_restore_timeout = 600
        backup_wait_timeout = 600
        remove_swift_account = false
        """)


class TempestSuite:
    """One run of the chosen modules in a throw-away tempest workspace."""

    def __init__(self, venv=VENV):
        # Absolute: the tempest commands run in the workspace (make passes a relative path).
        self.venv = Path(venv).absolute()
        self.root = Path(tempfile.mkdtemp(prefix="dbaas-tempest-", dir="/tmp"))
        self.workspace = self.root / "workspace"
        self.conf_file = self.workspace / "etc" / "tempest.conf"

    def bin(self, name):
        return str(self.venv / "bin" / name)

    def prepare(self, keystone, api_url):
        if not (self.venv / "bin" / "tempest").exists():
            raise RuntimeError(f"no tempest in {self.venv}: run `make tempest-venv` first")
        # The workspace registry in the temp dir too, not in ~/.tempest where names collide.
        subprocess.run([self.bin("tempest"), "init", "--workspace-path", str(self.root / "workspaces.yaml"),
                        "--name", self.root.name, str(self.workspace)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.conf_file.write_text(tempest_conf(keystone, service_lists(api_url, keystone),
                                               self.workspace / "tempest.log"))
        self.conf_file.chmod(0o600)  # it holds the admin's password

    def run(self, tests=None, timeout=3600):
        """Run the suite serially (only ``tests``, ids under the scenario package, when
        given); returns {test id: {"status", "details"}} (setUpClass failures appear under
        ids such as ``setUpClass (module.Class)``)."""
        regex = REGEX if tests is None else (
            r"^trove_tempest_plugin\.tests\.scenario\.(%s)\b" % "|".join(re.escape(test) for test in tests))
        subprocess.run([self.bin("tempest"), "run", "--regex", regex, "--concurrency", "1"],
                       cwd=self.workspace, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout)
        stream = subprocess.run([self.bin("stestr"), "last", "--subunit"], cwd=self.workspace,
                                capture_output=True, check=True).stdout
        parsed = subprocess.run([self.bin("python"), "-c", READ_RESULTS], input=stream,
                                capture_output=True, check=True).stdout
        return json.loads(parsed)

    def log_tail(self, chars=20000):
        log = self.workspace / "tempest.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


def outcome(results, test_id):
    """One test's outcome: its own result, else its class's setUpClass failure or skip."""
    base = test_id.split("[")[0]
    for key, value in results.items():
        if key.split("[")[0] == base:
            return value
    module_class = base.rsplit(".", 1)[0]
    for key, value in results.items():
        if key.startswith(("setUpClass", "tearDownClass")) and module_class in key:
            return value
    return {"status": "missing", "details": "the suite did not run it"}
