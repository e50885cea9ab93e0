#!/usr/bin/env python3
"""Provisioning latency: POST /instances -> ACTIVE and accepting the new user's connection,
against the same datastore set up by hand with its own tools in the same run.

Both sides do the same work: initialise a data directory, start the server on a loopback
address at the standard port, create one database and one user, and connect as that user.

    .venv/bin/python bench/provision.py [--runs 5] [--datastores postgresql,mariadb,redis]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg2  # noqa: E402
import pymysql  # noqa: E402
import redis  # noqa: E402

from bench.common import arguments, embedded_stack, until  # noqa: E402

PASSWORD = "bench-Passw0rd"
PG_BIN = "/usr/lib/postgresql/15/bin"


def connect_as_user(datastore, host):
    if datastore == "postgresql":
        psycopg2.connect(host=host, port=5432, user="app", password=PASSWORD, dbname="app",
                         connect_timeout=2).close()
    elif datastore == "mariadb":
        pymysql.connect(host=host, port=3306, user="app", password=PASSWORD, database="app",
                        connect_timeout=2).close()
    else:
        redis.Redis(host=host, port=6379, username="app", password=PASSWORD, socket_timeout=2).ping()
    return True


class Bare:
    """The datastore with nothing of ours: its own tools, run directly."""

    def __init__(self, datastore, host):
        self.datastore, self.host = datastore, host
        self.dir = Path(tempfile.mkdtemp(prefix="bench-bare-", dir="/tmp"))
        os.chmod(self.dir, 0o777)
        self.process = None

    def run(self, argv, user=None, stdin=b""):
        subprocess.run(argv, input=stdin, check=True, user=user, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def spawn(self, argv, user=None):
        self.process = subprocess.Popen(argv, user=user, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def provision(self):
        getattr(self, f"_{self.datastore}")()
        until(lambda: connect_as_user(self.datastore, self.host), tolerate=True)

    def _postgresql(self):
        data = self.dir / "data"
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD)
        shutil.chown(pwfile, "postgres")
        self.run([f"{PG_BIN}/initdb", "--no-sync", "-D", str(data), "-A", "scram-sha-256",
                  "-U", "os_admin", f"--pwfile={pwfile}"], user="postgres")
        self.spawn([f"{PG_BIN}/postgres", "-D", str(data), "-c", f"listen_addresses={self.host}",
                    "-c", "port=5432", "-c", "unix_socket_directories="], user="postgres")
        conn = until(lambda: psycopg2.connect(host=self.host, user="os_admin", password=PASSWORD,
                                              dbname="postgres", connect_timeout=2), tolerate=True)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE app")
            cur.execute("CREATE ROLE app LOGIN PASSWORD %s", (PASSWORD,))
            cur.execute("GRANT ALL ON DATABASE app TO app")
        conn.close()

    def _mariadb(self):
        data, sock = self.dir / "data", self.dir / "mysql.sock"
        options = [f"--datadir={data}", "--innodb-log-file-size=8M"]
        self.run(["mariadb-install-db", "--no-defaults", "--user=mysql", "--skip-test-db",
                  "--auth-root-authentication-method=normal", *options])
        self.spawn(["mariadbd", "--no-defaults", "--user=mysql", *options, f"--bind-address={self.host}",
                    "--port=3306", f"--socket={sock}", "--skip-name-resolve"])
        conn = until(lambda: pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2), tolerate=True)
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE app")
            cur.execute("CREATE USER 'app'@'%%' IDENTIFIED BY %s", (PASSWORD,))
            cur.execute("GRANT ALL ON app.* TO 'app'@'%'")
        conn.close()

    def _redis(self):
        self.spawn(["redis-server", "--bind", self.host, "--port", "6379", "--dir", str(self.dir),
                    "--requirepass", PASSWORD, "--appendonly", "yes", "--save", ""])
        client = until(lambda: redis.Redis(host=self.host, password=PASSWORD, socket_timeout=2))
        until(client.ping, tolerate=True)
        client.acl_setuser("app", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all"])

    def remove(self):
        if self.process:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def ours(client, datastore):
    body = {"name": "bench", "flavorRef": "2", "volume": {"size": 1}, "datastore": {"type": datastore},
            "users": [{"name": "app", "password": PASSWORD,
                       "databases": [] if datastore == "redis" else [{"name": "app"}]}]}
    if datastore != "redis":
        body["databases"] = [{"name": "app"}]
    started = time.monotonic()
    instance = client.create_instance(**body)
    active = client.wait_status(instance["id"])
    until(lambda: connect_as_user(datastore, active["ip"][0]), tolerate=True)
    elapsed = time.monotonic() - started
    client.delete_and_wait(instance["id"])
    return elapsed


def bare(datastore, run):
    server = Bare(datastore, f"127.0.250.{run + 1}")
    try:
        started = time.monotonic()
        server.provision()
        return time.monotonic() - started
    finally:
        server.remove()


def main():
    parser = arguments(__doc__, runs=5)
    args = parser.parse_args()

    with embedded_stack() as stack:
        client = stack.client("bench")
        print(f"{'datastore':<12}{'bare median s':>15}{'heat-dbaas median s':>22}{'ratio':>8}")
        for datastore in args.datastores.split(","):
            bare_times, our_times = [], []
            for run in range(args.runs):  # interleaved, so drift hits both sides alike
                bare_times.append(bare(datastore, run))
                our_times.append(ours(client, datastore))
            b, o = statistics.median(bare_times), statistics.median(our_times)
            print(f"{datastore:<12}{b:>15.3f}{o:>22.3f}{o / b:>7.2f}x")


if __name__ == "__main__":
    main()
