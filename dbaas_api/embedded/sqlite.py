"""Make SQLite safe as the embedded Heat's database (see FIELD-NOTES, "SQLite problem 1/2").

1. oslo.db emits a deferred ``BEGIN``; two writers then upgrade their read locks at the same
   time and one fails with "database is locked" (10 of 20 concurrent creates failed).
   ``BEGIN IMMEDIATE`` takes the write lock up front and waits for it (busy_timeout), and WAL
   lets readers go on meanwhile.
2. SQLite reuses integer row ids. Heat deletes rows by stale in-memory ids and can delete a
   newer row that got the same id, leaving a stack IN_PROGRESS forever. AUTOINCREMENT never
   reuses an id, so every integer-id table is rebuilt with it right after the schema is made.
"""
import re
import sqlite3

import sqlalchemy
from sqlalchemy import event

BUSY_TIMEOUT_MS = 60000


def harden_engine(engine):
    """Swap oslo.db's deferred BEGIN for BEGIN IMMEDIATE on a SQLAlchemy engine."""
    if engine.dialect.name != "sqlite":
        return
    for listener in list(engine.dispatch.begin):
        if getattr(listener, "__name__", "") == "_sqlite_emit_begin":
            event.remove(engine, "begin", listener)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_con, _record):
        dbapi_con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_con.execute("PRAGMA journal_mode = WAL")
        dbapi_con.execute("PRAGMA synchronous = NORMAL")
        # What Heat deletes (a previous template, a purged stack) is overwritten, not left
        # readable in the file's free pages.
        dbapi_con.execute("PRAGMA secure_delete = ON")

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        if "in_transaction" not in conn.info:
            conn.execute(sqlalchemy.text("BEGIN IMMEDIATE"))
            conn.info["in_transaction"] = True

    engine.dispose()  # connections made before the listeners lack the pragmas


_PLAIN_INTEGER_ID = re.compile(r"\bid INTEGER NOT NULL,")
_SEPARATE_PK = re.compile(r",\s*PRIMARY KEY \(id\)")


def use_autoincrement_ids(db_path):
    """Rebuild every table whose integer primary key is 'id' with AUTOINCREMENT. Idempotent."""
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("BEGIN IMMEDIATE")
        tables = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%id INTEGER NOT NULL,%'"
        ).fetchall()
        for name, sql in tables:
            # The LIKE also matches a table whose own id is a string but which has an integer
            # column ending in "id" (stack: "raw_template_id INTEGER NOT NULL,"): such a
            # table keeps its primary key as it is.
            if "AUTOINCREMENT" in sql or not _PLAIN_INTEGER_ID.search(sql) or not _SEPARATE_PK.search(sql):
                continue
            new_sql = _SEPARATE_PK.sub("", _PLAIN_INTEGER_ID.sub("id INTEGER PRIMARY KEY AUTOINCREMENT,", sql, 1), 1)
            new_sql = re.sub(r'^CREATE TABLE\s+"?' + re.escape(name) + '"?', f'CREATE TABLE "{name}__new"', new_sql)
            indexes = [row[0] for row in con.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (name,))]
            columns = ", ".join(f'"{row[1]}"' for row in con.execute(f'PRAGMA table_info("{name}")'))
            # SQLite's own recipe: build the new table beside the old one, then swap, so
            # that foreign keys in other tables keep pointing at the right name.
            con.execute(new_sql)
            con.execute(f'INSERT INTO "{name}__new" ({columns}) SELECT {columns} FROM "{name}"')
            con.execute(f'DROP TABLE "{name}"')
            con.execute(f'ALTER TABLE "{name}__new" RENAME TO "{name}"')
            for index_sql in indexes:
                con.execute(index_sql)
        con.execute("COMMIT")
    finally:
        con.close()
