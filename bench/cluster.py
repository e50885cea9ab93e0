#!/usr/bin/env python3
"""Cluster create time: POST /clusters -> every member ACTIVE (and the cluster working),
against the same members started by hand with the datastores' own tools in the same run.

Both sides make the same cluster on loopback addresses at the standard ports:
- MariaDB Galera, 3 members: mariadb-install-db and mariadbd --wsrep-new-cluster for the first,
  the others started with gcomm://<the ones before> and rsync SST, each waited for until it
  says Synced (one after the other, as joining members must);
- Redis Cluster, 3 masters and 1 replica: four redis-server with cluster-enabled,
  redis-cli --cluster create for the masters, --cluster add-node --cluster-slave for the replica.

    .venv/bin/python bench/cluster.py [--runs 1] [--datastores mariadb,redis]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql  # noqa: E402
import redis  # noqa: E402

from tests.e2e.support import settled  # noqa: E402
from bench.common import arguments, embedded_stack, until  # noqa: E402

MEMBER = {"flavorRef": "1", "volume": {"size": 1}}
SIZES = {"mariadb": 3, "redis": 4}
BARE_BAND = "127.0.200"   # far from the service's addresses (127.0.1.x, members from 127.0.100.x)


class Bare:
    """The cluster with nothing of ours: the datastores' own tools, run directly."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-cluster-", dir="/tmp"))
        os.chmod(self.dir, 0o711)
        self.processes = []

    def spawn(self, argv, cwd, user=None):
        log = open(cwd / "server.log", "ab")
        self.processes.append(subprocess.Popen(argv, cwd=cwd, user=user, start_new_session=True,
                                               stdout=log, stderr=log, stdin=subprocess.DEVNULL))

    def mariadb(self, count):
        addresses = [f"{BARE_BAND}.{i + 1}" for i in range(count)]
        for i, address in enumerate(addresses):
            home = self.dir / f"g{i}"
            data = home / "data"
            data.mkdir(parents=True)
            os.chmod(home, 0o711)
            shutil.chown(data, "mysql", "mysql")
            conf = home / "my.cnf"
            conf.write_text(f"""[mariadbd]
datadir = {data}
bind-address = {address}
port = 3306
socket = {data}/mysqld.sock
skip-name-resolve
innodb_log_file_size = 8M
innodb_buffer_pool_size = 32M
binlog_format = ROW
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_name = bench
wsrep_cluster_address = gcomm://{",".join(addresses[:i])}
wsrep_node_address = {address}:4567
wsrep_sst_method = rsync
wsrep_sst_receive_address = {address}:4444
wsrep_provider_options = "gmcast.listen_addr=tcp://{address}:4567; ist.recv_addr={address}:4568; gcache.size=16M"
""")
            if i == 0:
                subprocess.run(["mariadb-install-db", f"--defaults-file={conf}", f"--datadir={data}", "--skip-test-db",
                                "--auth-root-authentication-method=socket", "--auth-root-socket-user=root"],
                               check=True, user="mysql", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            argv = ["/usr/sbin/mariadbd", f"--defaults-file={conf}"] + (["--wsrep-new-cluster"] if i == 0 else [])
            self.spawn(argv, data, user="mysql")
            until(lambda: _synced(data / "mysqld.sock"), timeout=120, pause=0.02, tolerate=True)

    def redis(self, count):
        addresses = [f"{BARE_BAND}.{i + 101}" for i in range(count)]
        for i, address in enumerate(addresses):
            home = self.dir / f"r{i}"
            home.mkdir()
            (home / "redis.conf").write_text(f"bind {address}\nport 6379\ndir {home}\ncluster-enabled yes\n"
                                             f"cluster-config-file {home}/nodes.conf\nappendonly yes\n"
                                             f"daemonize no\nsave \"\"\nprotected-mode no\ncluster-announce-ip {address}\n")
            self.spawn(["redis-server", str(home / "redis.conf")], home)
        for address in addresses:
            until(lambda: redis.Redis(host=address, socket_timeout=1).ping(), timeout=120, pause=0.02, tolerate=True)
        subprocess.run(["redis-cli", "--cluster", "create", *[f"{a}:6379" for a in addresses[:3]], "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=120)
        subprocess.run(["redis-cli", "--cluster", "add-node", f"{addresses[3]}:6379", f"{addresses[0]}:6379",
                        "--cluster-slave"], check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       timeout=120)
        until(lambda: redis.Redis(host=addresses[3], socket_timeout=1).info("replication")
              .get("master_link_status") == "up", timeout=120, pause=0.02, tolerate=True)

    def cleanup(self):
        for process in self.processes:
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
            process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _synced(socket_path):
    connection = pymysql.connect(unix_socket=str(socket_path), user="root", connect_timeout=1)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'")
            return cursor.fetchone()[1] == "Synced"
    finally:
        connection.close()


def through_api(stack, datastore):
    client = stack.client(f"bench-{uuid.uuid4().hex[:8]}")
    version = {"mariadb": "10.11", "redis": "7"}[datastore]
    started = time.monotonic()
    response = client.post("/clusters", {"cluster": {"name": "bench", "datastore": {"type": datastore, "version": version},
                                                     "instances": [MEMBER] * SIZES[datastore]}})
    assert response.status_code == 200, response.text
    cluster_id = response.json()["cluster"]["id"]
    settled(stack, cluster_id, timeout=300)
    cluster = client.get(f"/clusters/{cluster_id}").json()["cluster"]
    elapsed = time.monotonic() - started
    assert all(m["status"] == "ACTIVE" for m in cluster["instances"]), cluster
    client.delete(f"/clusters/{cluster_id}")
    until(lambda: client.get(f"/clusters/{cluster_id}").status_code == 404, timeout=120, pause=0.02)
    return elapsed


def main():
    parser = arguments(__doc__, runs=1, datastores="mariadb,redis")
    args = parser.parse_args()
    rows = []
    with embedded_stack() as stack:
        for datastore in args.datastores.split(","):
            api, bare = [], []
            for _ in range(args.runs):
                api.append(through_api(stack, datastore))
                by_hand = Bare()
                try:
                    started = time.monotonic()
                    getattr(by_hand, datastore)(SIZES[datastore])
                    bare.append(time.monotonic() - started)
                finally:
                    by_hand.cleanup()
            rows.append((datastore, SIZES[datastore], statistics.median(api), statistics.median(bare)))
    print(f"{'cluster':<28}{'API -> ACTIVE':>15}{'by hand':>10}{'overhead':>10}")
    names = {"mariadb": "MariaDB Galera", "redis": "Redis Cluster"}
    for datastore, size, api, bare in rows:
        print(f"{names[datastore] + f' ({size} members)':<28}{api:>14.1f}s{bare:>9.1f}s{api - bare:>9.1f}s")


if __name__ == "__main__":
    main()
