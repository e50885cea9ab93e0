#!/usr/bin/env python3
"""Backup and restore throughput of a PostgreSQL database against the raw tool pipeline, in
the same run, with the peak memory of the processes doing the streaming: the worker process
DBaaS::Backup starts and the one DBaaS::Local::Server's restore starts (their VmHWM), and the
Heat engine.

    raw backup:   pg_basebackup -D - -Ft -X fetch -c fast > file, fsynced  (what our backup runs)
                  and, with --storage swift, the same piped into the Swift all-in-one by
                  python-swiftclient's own CLI: swift upload --segment-size 64M (the raw tool
                  pipeline into the same storage; it checks each segment's ETag as we do)
    raw restore:  tar -x < file, then the server started until it answers; with --storage
                  swift, swift download ... -o - | tar -x of what the raw backup uploaded
    ours:         POST /backups -> COMPLETED (stored in Swift or the local directory)
                  POST /instances with restorePoint -> ACTIVE

Throughput is the backup's bytes over wall time; the ratio is ours / raw, against the raw
pipeline into and out of the same storage (a file for the local directory, Swift for Swift;
with Swift the ratios against the file are printed as well). Memory: the engine's RSS is
sampled every 20 ms (growth = peak during the operation - RSS before it), and the backup
worker's peak RSS. Run at two sizes (--sizes) to see that growth does not follow the
database's size. Each side runs --repeat times, alternating, and the median time of each is
kept (the machine is shared).

    .venv/bin/python bench/backup.py [--sizes 256,1024] [--storage swift|local] [--repeat 3] [--poll 0.1]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg2  # noqa: E402

from bench.common import embedded_stack, until  # noqa: E402
from tests.swift_harness import KEY, USER, SwiftAIO  # noqa: E402

PASSWORD = "bench-Passw0rd"
PG_BIN = "/usr/lib/postgresql/15/bin"
ROW_BYTES = 1000   # about what one row of the bench table takes on disk
# How often the bench asks whether an operation is done (--poll; half of it is lost on
# average). A poll costs the API and the engine a stack read (about 50 ms of CPU for a backup,
# more for an instance), on the same two cores as the operation.
POLL = 0.1


def rss_kb(pid, field="VmRSS"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:   # it has just exited
        pass
    return 0


def peak_kb(pid):
    """The process's peak RSS so far (VmHWM)."""
    return rss_kb(pid, "VmHWM")


def workers(engine):
    """The engine's backup worker processes (dbaas_api/backup/worker.py)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == engine and b"dbaas_api.backup.worker" in cmdline:
                found.append(int(name))
    return found


class PeakRSS:
    """Samples a process's RSS while the block runs, and the peak RSS of its backup workers."""

    def __init__(self, pid):
        self.pid, self.before, self.peak = pid, rss_kb(pid), 0
        self.worker_peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            for worker in workers(self.pid):
                self.worker_peak = max(self.worker_peak, peak_kb(worker))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self):
        return max(0, self.peak - self.before) / 1024


def fill(host, size_mb):
    rows = size_mb * 1024 * 1024 // ROW_BYTES
    with psycopg2.connect(host=host, port=5432, user="app", password=PASSWORD, dbname="app") as conn, \
            conn.cursor() as cur:
        cur.execute("CREATE TABLE bench (id int, v text)")
        step = 200000
        for start in range(0, rows, step):   # random text compresses poorly, as real data often does
            cur.execute("INSERT INTO bench SELECT g, (SELECT string_agg(md5(random()::text), '') "
                        "FROM generate_series(1, 28) WHERE g > 0) FROM generate_series(%s, %s) g",
                        (start, min(start + step, rows) - 1))
            conn.commit()
        cur.execute("SELECT pg_database_size('app')")
        return cur.fetchone()[0]


def raw_backup(host, admin_password, out):
    started = time.monotonic()
    with open(out, "wb") as handle:
        subprocess.run([f"{PG_BIN}/pg_basebackup", "-h", host, "-U", "os_admin", "-D", "-", "-F", "tar",
                        "-X", "fetch", "-c", "fast", "-w"], stdout=handle, check=True,
                       env={"PGPASSWORD": admin_password, "PATH": os.environ["PATH"]})
        os.fsync(handle.fileno())
    return time.monotonic() - started


def raw_backup_swift(host, admin_password, swift):
    """pg_basebackup piped into python-swiftclient's CLI, 64 MiB segments as ours, into the
    same Swift (bench-raw/base.tar, which raw_restore then downloads); returns the seconds
    until the upload (its manifest included) is done."""
    env = {"PGPASSWORD": admin_password, "PATH": os.environ["PATH"]}
    started = time.monotonic()
    tool = subprocess.Popen([f"{PG_BIN}/pg_basebackup", "-h", host, "-U", "os_admin", "-D", "-", "-F", "tar",
                             "-X", "fetch", "-c", "fast", "-w"], stdout=subprocess.PIPE, env=env)
    try:
        subprocess.run([*swift_cli(swift), "upload", "--segment-size", str(64 << 20), "--object-name", "base.tar",
                        "bench-raw", "-"], stdin=tool.stdout, stdout=subprocess.DEVNULL, check=True)
    finally:
        tool.stdout.close()
        if tool.wait() != 0:
            raise RuntimeError("pg_basebackup failed")
    return time.monotonic() - started


def swift_cli(swift):
    return [str(Path(sys.executable).parent / "swift"), "-A", swift.auth_url, "-U", USER, "-K", KEY]


def raw_restore(tarball, workdir, config_dir, swift=None):
    """tar -x into a fresh data dir (of the file, or of `swift download bench-raw base.tar -o -`
    when swift is given), then postgres until it answers on a free address."""
    data = Path(workdir) / "data"
    data.mkdir(mode=0o700)
    shutil.chown(data, "postgres")
    started = time.monotonic()
    if swift is None:
        with open(tarball, "rb") as handle:
            subprocess.run(["tar", "-x", "-C", str(data)], stdin=handle, check=True, user="postgres")
    else:
        download = subprocess.Popen([*swift_cli(swift), "download", "bench-raw", "base.tar", "-o", "-"],
                                    stdout=subprocess.PIPE)
        try:
            subprocess.run(["tar", "-x", "-C", str(data)], stdin=download.stdout, check=True, user="postgres")
        finally:
            download.stdout.close()
            if download.wait() != 0:
                raise RuntimeError("swift download failed")
    address = "127.0.250.1"
    server = subprocess.Popen([f"{PG_BIN}/postgres", "-D", str(data), "-c", f"config_file={config_dir}/postgresql.conf",
                               "-c", f"listen_addresses={address}"], user="postgres",
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        until(lambda: subprocess.run([f"{PG_BIN}/pg_isready", "-q", "-h", address]).returncode == 0, pause=0.02)
        return time.monotonic() - started
    finally:
        server.terminate()
        server.wait()


def measure(stack, client, size_mb, repeat, swift=None, poll=POLL):
    created = client.create_instance(
        name=f"bench-{size_mb}", flavorRef="3", volume={"size": 10}, datastore={"type": "postgresql"},
        databases=[{"name": "app"}], users=[{"name": "app", "password": PASSWORD, "databases": [{"name": "app"}]}])
    host = client.wait_status(created["id"])["ip"][0]
    print(f"  filling {size_mb} MB ...", flush=True)
    db_bytes = fill(host, size_mb)
    engine = stack.embedded.heat.pid()
    local = next(i for i in stack.embedded.driver.list() if i.owner.get("stack_id") == created["id"])
    admin_password = _admin_password(stack, created["id"])
    work = Path(tempfile.mkdtemp(prefix="bench-backup-", dir="/tmp"))
    os.chmod(work, 0o755)
    raw_b, raw_bs, ours_b, raw_r, raw_rs, ours_r = [], [], [], [], [], []
    backup_rss = restore_rss = None
    try:
        # Each side `repeat` times, alternating, medians kept: the machine is shared.
        for attempt in range(repeat):
            tarball = work / "base.tar"
            raw_b.append(raw_backup(host, admin_password, tarball))
            raw_bytes = tarball.stat().st_size
            if swift is not None:
                raw_bs.append(raw_backup_swift(host, admin_password, swift))

            with PeakRSS(engine) as rss:
                started = time.monotonic()
                backup_id = client.post("/backups", {"backup": {"name": "bench", "instance": created["id"]}}
                                        ).json()["backup"]["id"]
                backup = until(lambda: _settled(client, backup_id), timeout=1800, pause=poll)
                ours_b.append(time.monotonic() - started)
            assert backup["status"] == "COMPLETED", backup
            backup_rss = rss if backup_rss is None or rss.growth_mb > backup_rss.growth_mb else backup_rss

            for raw_times, from_swift in ((raw_r, None), (raw_rs, swift)):
                if raw_times is raw_rs and swift is None:
                    continue
                raw_dir = work / f"raw-{attempt}"
                raw_dir.mkdir()
                raw_times.append(raw_restore(tarball, raw_dir, local.datadir.parent, from_swift))
                shutil.rmtree(raw_dir)
            tarball.unlink()
            if swift is not None:
                subprocess.run([*swift_cli(swift), "delete", "bench-raw"], stdout=subprocess.DEVNULL, check=True)
            with PeakRSS(engine) as rss:
                started = time.monotonic()
                restored = client.create_instance(name="bench-restored", flavorRef="3", volume={"size": 10},
                                                  restorePoint={"backupRef": backup_id})
                until(lambda: _active(client, restored["id"]), timeout=1800, pause=poll)
                ours_r.append(time.monotonic() - started)
            restore_rss = rss if restore_rss is None or rss.growth_mb > restore_rss.growth_mb else restore_rss
            client.delete_and_wait(restored["id"])
            client.delete(f"/backups/{backup_id}")
            until(lambda: client.get(f"/backups/{backup_id}").status_code == 404, timeout=600, pause=0.05)
        client.delete_and_wait(created["id"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb, raw_mb = backup["size_bytes"] / 2 ** 20, raw_bytes / 2 ** 20
    median = statistics.median
    return {
        "size_mb": size_mb, "db_mb": db_bytes / 2 ** 20, "backup_mb": mb, "raw_mb": raw_mb,
        "raw_file_mbs": raw_mb / median(raw_b),
        "raw_backup_mbs": raw_mb / median(raw_bs or raw_b), "ours_backup_mbs": mb / median(ours_b),
        "raw_file_restore_mbs": raw_mb / median(raw_r),
        "raw_restore_mbs": raw_mb / median(raw_rs or raw_r), "ours_restore_mbs": mb / median(ours_r),
        "backup_rss_mb": backup_rss.growth_mb, "restore_rss_mb": restore_rss.growth_mb,
        "worker_peak_mb": backup_rss.worker_peak / 1024, "restore_worker_peak_mb": restore_rss.worker_peak / 1024,
        "engine_peak_mb": max(backup_rss.peak, restore_rss.peak) / 1024,
    }


def _active(client, instance_id):
    status = client.get(f"/instances/{instance_id}").json()["instance"]["status"]
    assert status != "ERROR"
    return status == "ACTIVE"


def _settled(client, backup_id):
    backup = client.get(f"/backups/{backup_id}").json()["backup"]
    return backup if backup["status"] in ("COMPLETED", "FAILED") else None


def _admin_password(stack, instance_id):
    """The instance's admin password, read the way the plugin reads it (the bench's raw side
    needs the same credentials): from the instance stack's admin_password resource."""
    from tests.e2e.support import admin_password
    return admin_password(stack, instance_id)


def run(stack, args, swift):
    client = stack.client(f"bench-{uuid.uuid4().hex[:6]}")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"PostgreSQL, {size} MB, storage {args.storage}, polled every {args.poll} s:", flush=True)
        row = measure(stack, client, size, args.repeat, swift, args.poll)
        rows.append(row)
        raw = "pg_basebackup | swift upload" if swift else "pg_basebackup > file"
        print(f"  backup  {row['backup_mb']:.0f} MB: raw ({raw}) {row['raw_backup_mbs']:.0f} MB/s, ours "
              f"{row['ours_backup_mbs']:.0f} MB/s, ratio {row['ours_backup_mbs'] / row['raw_backup_mbs']:.2f}x; "
              f"backup worker peak RSS {row['worker_peak_mb']:.0f} MB, engine RSS +{row['backup_rss_mb']:.0f} MB")
        if swift:
            print(f"  backup  against pg_basebackup > file ({row['raw_file_mbs']:.0f} MB/s): ratio "
                  f"{row['ours_backup_mbs'] / row['raw_file_mbs']:.2f}x")
        raw = "swift download | tar -x, start" if swift else "tar -x < file, start"
        print(f"  restore {row['backup_mb']:.0f} MB: raw ({raw}) {row['raw_restore_mbs']:.0f} MB/s, ours "
              f"{row['ours_restore_mbs']:.0f} MB/s, ratio {row['ours_restore_mbs'] / row['raw_restore_mbs']:.2f}x; "
              f"restore worker peak RSS {row['restore_worker_peak_mb']:.0f} MB, "
              f"engine RSS +{row['restore_rss_mb']:.0f} MB (peak {row['engine_peak_mb']:.0f} MB)", flush=True)
        if swift:
            print(f"  restore against tar -x < file ({row['raw_file_restore_mbs']:.0f} MB/s): ratio "
                  f"{row['ours_restore_mbs'] / row['raw_file_restore_mbs']:.2f}x", flush=True)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"memory growth from {first['backup_mb']:.0f} MB to {last['backup_mb']:.0f} MB of backup: "
              f"backup worker peak {first['worker_peak_mb']:.0f} -> {last['worker_peak_mb']:.0f} MB, "
              f"engine during backup +{first['backup_rss_mb']:.0f} -> +{last['backup_rss_mb']:.0f} MB, "
              f"restore {first['restore_rss_mb']:.0f} -> {last['restore_rss_mb']:.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024", help="database sizes in MB (comma-separated)")
    parser.add_argument("--storage", choices=("swift", "local"), default="swift")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median is kept")
    parser.add_argument("--poll", type=float, default=POLL, help="seconds between status polls of ours")
    args = parser.parse_args()
    swift = SwiftAIO().start() if args.storage == "swift" else None
    settings = ({"backup_storage": "swift", "swift_auth_url": swift.auth_url, "swift_user": USER,
                 "swift_key": KEY} if swift else {})
    try:
        with embedded_stack(**settings) as stack:
            run(stack, args, swift)
    finally:
        if swift:
            swift.stop()


if __name__ == "__main__":
    main()
