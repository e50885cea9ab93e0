"""PostgreSQL: what it is, the names it can store and the configuration parameters users
may set (rules as data)."""
from dbaas_api import errors
from dbaas_api.datastores.base import BOOLEAN, FLOAT, INTEGER, STRING, Knowledge, Parameter, parameter_rules

INT_MAX = 2147483647
# What users may set, read from PostgreSQL 15's pg_settings (vartype, min_val, max_val,
# enumvals; context 'postmaster' = restart_required). Integers are in the unit pg_settings
# shows (kB, 8kB pages, ms, s, MB), exactly as ALTER SYSTEM reads a bare number. Left out:
# strings PostgreSQL checks against the machine (timezone, huge_pages), which a pattern
# here could not, and which would leave a server that cannot start again.
PARAMETERS_15 = parameter_rules(
    Parameter("max_connections", INTEGER, 1, 262143, restart_required=True),
    Parameter("shared_buffers", INTEGER, 16, 1073741823, restart_required=True, unit="8kB"),
    Parameter("max_worker_processes", INTEGER, 0, 262143, restart_required=True),
    Parameter("max_locks_per_transaction", INTEGER, 10, INT_MAX, restart_required=True),
    Parameter("max_prepared_transactions", INTEGER, 0, 262143, restart_required=True),
    Parameter("autovacuum_max_workers", INTEGER, 1, 262143, restart_required=True),
    Parameter("wal_buffers", INTEGER, -1, 262143, restart_required=True, unit="8kB"),
    Parameter("track_activity_query_size", INTEGER, 100, 1048576, restart_required=True, unit="B"),
    Parameter("work_mem", INTEGER, 64, INT_MAX, unit="kB"),
    Parameter("maintenance_work_mem", INTEGER, 1024, INT_MAX, unit="kB"),
    Parameter("temp_buffers", INTEGER, 100, 1073741823, unit="8kB"),
    Parameter("effective_cache_size", INTEGER, 1, INT_MAX, unit="8kB"),
    Parameter("temp_file_limit", INTEGER, -1, INT_MAX, unit="kB"),
    Parameter("random_page_cost", FLOAT, 0, 1e300),
    Parameter("seq_page_cost", FLOAT, 0, 1e300),
    Parameter("effective_io_concurrency", INTEGER, 0, 1000),
    Parameter("default_statistics_target", INTEGER, 1, 10000),
    Parameter("max_parallel_workers", INTEGER, 0, 1024),
    Parameter("max_parallel_workers_per_gather", INTEGER, 0, 1024),
    Parameter("jit", BOOLEAN),
    Parameter("statement_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("lock_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("idle_in_transaction_session_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("idle_session_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("deadlock_timeout", INTEGER, 1, INT_MAX, unit="ms"),
    Parameter("default_transaction_isolation", STRING,
              allowed=("serializable", "repeatable read", "read committed", "read uncommitted")),
    Parameter("default_transaction_read_only", BOOLEAN),
    Parameter("synchronous_commit", STRING, allowed=("local", "remote_write", "remote_apply", "on", "off")),
    Parameter("client_min_messages", STRING,
              allowed=("debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error")),
    Parameter("autovacuum", BOOLEAN),
    Parameter("autovacuum_naptime", INTEGER, 1, 2147483, unit="s"),
    Parameter("autovacuum_vacuum_scale_factor", FLOAT, 0, 100),
    Parameter("autovacuum_analyze_scale_factor", FLOAT, 0, 100),
    Parameter("checkpoint_timeout", INTEGER, 30, 86400, unit="s"),
    Parameter("checkpoint_completion_target", FLOAT, 0, 1),
    Parameter("max_wal_size", INTEGER, 2, INT_MAX, unit="MB"),
    Parameter("min_wal_size", INTEGER, 2, INT_MAX, unit="MB"),
    Parameter("log_min_duration_statement", INTEGER, -1, INT_MAX, unit="ms"),
    Parameter("log_statement", STRING, allowed=("none", "ddl", "mod", "all")),
    Parameter("log_connections", BOOLEAN),
    Parameter("log_disconnections", BOOLEAN),
    Parameter("log_lock_waits", BOOLEAN),
    Parameter("log_checkpoints", BOOLEAN),
    Parameter("log_temp_files", INTEGER, -1, INT_MAX, unit="kB"),
    Parameter("log_autovacuum_min_duration", INTEGER, -1, INT_MAX, unit="ms"),
    Parameter("track_io_timing", BOOLEAN),
)

# What a database's ENCODING may be (PostgreSQL 15's server encodings; the others are for
# clients only) and its LC_COLLATE / LC_CTYPE: the locales every server has, on this host and
# in the upstream image alike (initdb's is C.UTF-8). A UTF-8 locale needs UTF8; C and POSIX
# take any encoding. Matched as the server matches encoding names: case and punctuation aside.
ENCODINGS = (
    "EUC_CN", "EUC_JIS_2004", "EUC_JP", "EUC_KR", "EUC_TW", "ISO_8859_5", "ISO_8859_6", "ISO_8859_7",
    "ISO_8859_8", "KOI8R", "KOI8U", "LATIN1", "LATIN2", "LATIN3", "LATIN4", "LATIN5", "LATIN6",
    "LATIN7", "LATIN8", "LATIN9", "LATIN10", "MULE_INTERNAL", "SQL_ASCII", "UTF8", "WIN866", "WIN874",
    "WIN1250", "WIN1251", "WIN1252", "WIN1253", "WIN1254", "WIN1255", "WIN1256", "WIN1257", "WIN1258")
LOCALES = ("C", "POSIX", "C.UTF-8")


def _lookup(offered, value):
    key = "".join(char for char in value.lower() if char.isalnum())
    return next((name for name in offered if "".join(c for c in name.lower() if c.isalnum()) == key), None)



class PostgreSQLKnowledge(Knowledge):
    name = "postgresql"
    title = "PostgreSQL"
    versions = ("15",)
    default_version = "15"
    port = 5432
    admin_user = "os_admin"   # superuser made by initdb; the only one

    # NAMEDATALEN is 64: identifiers are at most 63 bytes, longer ones are silently truncated.
    max_database_name = 63
    max_user_name = 63
    name_length_unit = "bytes"
    reserved_databases = frozenset({"postgres", "template0", "template1"})
    # 'public', 'none' and the current_* words are refused by CREATE ROLE; pg_ is the system's prefix.
    reserved_users = frozenset({"postgres", "os_admin", "os_repl", "root", "public", "none",
                                "current_user", "session_user", "current_role"})
    reserved_user_prefixes = ("pg_",)

    configuration_parameters = {"15": PARAMETERS_15}
    # Set by the service (addresses, files, security, replication): never by a configuration.
    blocked_parameters = frozenset({
        "listen_addresses", "port", "data_directory", "config_file", "hba_file", "ident_file",
        "external_pid_file", "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
        "password_encryption", "ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file",
        "shared_preload_libraries", "local_preload_libraries", "session_preload_libraries",
        "dynamic_library_path", "archive_mode", "archive_command", "restore_command",
        "wal_level", "max_wal_senders", "primary_conninfo", "hot_standby",
        "logging_collector", "log_directory", "log_filename", "log_min_error_statement",
        "log_line_prefix", "lc_messages"})

    def database_options(self, character_set, collate, field="database"):
        """Trove's ENCODING and LC_COLLATE (LC_CTYPE follows it); an encoding that is not
        UTF8 gets the C locale unless one is asked for."""
        encoding = _lookup(ENCODINGS, character_set) if character_set else None
        if character_set and encoding is None:
            raise errors.BadRequest(f"field '{field}.character_set': '{character_set}' is not a PostgreSQL "
                                    f"server encoding ({', '.join(ENCODINGS)}).")
        locale = _lookup(LOCALES, collate) if collate else None
        if collate and locale is None:
            raise errors.BadRequest(f"field '{field}.collate': '{collate}' is not a locale this service's "
                                    f"PostgreSQL servers have ({', '.join(LOCALES)}).")
        if locale == "C.UTF-8" and encoding not in (None, "UTF8"):
            raise errors.BadRequest(f"field '{field}.collate': C.UTF-8 needs character_set UTF8, "
                                    f"not {encoding} (C and POSIX take any).")
        if encoding not in (None, "UTF8") and locale is None:
            locale = "C"
        return encoding, locale

