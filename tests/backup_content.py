"""Content to back up and fingerprints to compare restores by: row counts and checksums per
table (PostgreSQL, MariaDB), every key's type and value digest (Redis). A restore is right
when the fingerprint of the restored server equals the source's at backup time."""
import contextlib
import hashlib

import psycopg2
import pymysql
import redis


@contextlib.contextmanager
def _pg(host, user, password, database):
    conn = psycopg2.connect(host=host, port=5432, user=user, password=password, dbname=database,
                            connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


@contextlib.contextmanager
def _maria(host, user, password, database):
    conn = pymysql.connect(host=host, port=3306, user=user, password=password, database=database,
                           connect_timeout=5, charset="utf8mb4", autocommit=True)
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _redis(host, user, password):
    return redis.Redis(host=host, port=6379, username=user, password=password, socket_timeout=10)


def fill(datastore, host, user, password, database, table, rows, start=0):
    """Add ``rows`` rows (keys) numbered from ``start`` to ``table`` (made when missing)."""
    if datastore == "postgresql":
        with _pg(host, user, password, database) as cur:
            cur.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (id int primary key, v text, n numeric)')
            cur.execute(f'INSERT INTO "{table}" SELECT g, md5(g::text), g * 1.5 '
                        "FROM generate_series(%s, %s) g", (start, start + rows - 1))
    elif datastore == "mariadb":
        with _maria(host, user, password, database) as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS `{table}` (id int primary key, v text, n decimal(12,2)) "
                        "ENGINE=InnoDB")
            cur.execute(f"INSERT INTO `{table}` SELECT seq, md5(seq), seq * 1.5 FROM seq_{start}_to_{start + rows - 1}")
    else:
        client = _redis(host, user, password)
        pipe = client.pipeline(transaction=False)
        for i in range(start, start + rows):
            pipe.set(f"{table}:s:{i}", hashlib.md5(str(i).encode()).hexdigest())
            if i % 10 == 0:
                pipe.hset(f"{table}:h:{i}", mapping={"a": i, "b": "x" * (i % 7)})
                pipe.rpush(f"{table}:l:{i}", *range(i % 5 + 1))
        pipe.execute()
        client.close()


def change(datastore, host, user, password, database, table):
    """Update and delete some existing rows (keys), so an incremental has more than appends."""
    if datastore == "postgresql":
        with _pg(host, user, password, database) as cur:
            cur.execute(f"UPDATE \"{table}\" SET v = 'changed' WHERE id % 7 = 0")
            cur.execute(f'DELETE FROM "{table}" WHERE id % 11 = 0')
    elif datastore == "mariadb":
        with _maria(host, user, password, database) as cur:
            cur.execute(f"UPDATE `{table}` SET v = 'changed' WHERE id % 7 = 0")
            cur.execute(f"DELETE FROM `{table}` WHERE id % 11 = 0")
    else:
        client = _redis(host, user, password)
        for key in client.scan_iter(f"{table}:s:*7"):
            client.set(key, "changed")
        for key in client.scan_iter(f"{table}:s:*11"):
            client.delete(key)
        client.close()


def fingerprint(datastore, host, user, password, database=None):
    """{table: (row count, checksum)} of every table in ``database``, or
    {key: (type, digest)} of every Redis key."""
    if datastore == "postgresql":
        with _pg(host, user, password, database) as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            found = {}
            for (table,) in cur.fetchall():
                cur.execute(f'SELECT count(*), md5(coalesce(string_agg(t::text, \',\' ORDER BY t::text), \'\')) '
                            f'FROM "{table}" t')
                found[table] = tuple(cur.fetchone())
            return found
    if datastore == "mariadb":
        with _maria(host, user, password, database) as cur:
            cur.execute("SHOW TABLES")
            found = {}
            for (table,) in sorted(cur.fetchall()):
                cur.execute(f"SELECT count(*) FROM `{table}`")
                count = cur.fetchone()[0]
                cur.execute(f"CHECKSUM TABLE `{table}` EXTENDED")
                found[table] = (count, cur.fetchone()[1])
            return found
    client = _redis(host, user, password)
    try:
        return {key: (client.type(key), hashlib.sha256(client.dump(key)).hexdigest())
                for key in sorted(client.scan_iter(count=1000))}
    finally:
        client.close()
