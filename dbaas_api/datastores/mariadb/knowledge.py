"""MariaDB: what it is, the names it can store and the configuration parameters users may
set (rules as data)."""
from dbaas_api import errors
from dbaas_api.datastores import mariadb_collations as collations
from dbaas_api.datastores.base import BOOLEAN, FLOAT, INTEGER, STRING, Knowledge, Parameter, parameter_rules

UINT32 = 4294967295
ULONG = 18446744073709551615
SQL_MODES = ("REAL_AS_FLOAT", "PIPES_AS_CONCAT", "ANSI_QUOTES", "IGNORE_SPACE", "IGNORE_BAD_TABLE_OPTIONS",
             "ONLY_FULL_GROUP_BY", "NO_UNSIGNED_SUBTRACTION", "NO_DIR_IN_CREATE", "POSTGRESQL", "ORACLE",
             "MSSQL", "DB2", "MAXDB", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS", "MYSQL323",
             "MYSQL40", "ANSI", "NO_AUTO_VALUE_ON_ZERO", "NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES",
             "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE", "NO_ZERO_DATE", "ALLOW_INVALID_DATES",
             "ERROR_FOR_DIVISION_BY_ZERO", "TRADITIONAL", "NO_AUTO_CREATE_USER", "HIGH_NOT_PRECEDENCE",
             "NO_ENGINE_SUBSTITUTION", "PAD_CHAR_TO_FULL_LENGTH", "EMPTY_STRING_IS_NULL",
             "SIMULTANEOUS_ASSIGNMENT", "TIME_ROUND_FRACTIONAL")
# What users may set, read from MariaDB 10.11's information_schema.SYSTEM_VARIABLES
# (NUMERIC_MIN_VALUE, NUMERIC_MAX_VALUE, ENUM_VALUE_LIST; READ_ONLY = restart_required).
# Left out: variables the server sizes itself at start (thread_cache_size...), whose
# DEFAULT is not what an instance runs with, so a detach could not restore them; and
# start-only ones whose value depends on the machine (innodb_flush_method: O_DIRECT fails
# on some file systems), which would leave a server that cannot start again.
PARAMETERS_10_11 = parameter_rules(
    Parameter("max_connections", INTEGER, 10, 100000),
    Parameter("innodb_buffer_pool_size", INTEGER, 2097152, 18446744073701163008),
    Parameter("max_allowed_packet", INTEGER, 1024, 1073741824),
    Parameter("wait_timeout", INTEGER, 1, 31536000),
    Parameter("interactive_timeout", INTEGER, 1, 31536000),
    Parameter("connect_timeout", INTEGER, 2, 31536000),
    Parameter("net_read_timeout", INTEGER, 1, 31536000),
    Parameter("net_write_timeout", INTEGER, 1, 31536000),
    Parameter("lock_wait_timeout", INTEGER, 0, 31536000),
    Parameter("innodb_lock_wait_timeout", INTEGER, 0, 100000000),
    Parameter("long_query_time", FLOAT, 0, 31536000),
    Parameter("slow_query_log", BOOLEAN),
    Parameter("sort_buffer_size", INTEGER, 1024, ULONG),
    Parameter("join_buffer_size", INTEGER, 128, ULONG),
    Parameter("tmp_table_size", INTEGER, 0, ULONG),
    Parameter("max_heap_table_size", INTEGER, 16384, ULONG),
    Parameter("bulk_insert_buffer_size", INTEGER, 0, ULONG),
    Parameter("group_concat_max_len", INTEGER, 4, 1073741824),
    Parameter("innodb_flush_log_at_trx_commit", INTEGER, 0, 3),
    Parameter("sync_binlog", INTEGER, 0, UINT32),
    Parameter("innodb_io_capacity", INTEGER, 100, UINT32),
    Parameter("innodb_print_all_deadlocks", BOOLEAN),
    Parameter("table_open_cache", INTEGER, 10, 1048576),
    Parameter("table_definition_cache", INTEGER, 400, 2097152),
    Parameter("max_connect_errors", INTEGER, 1, UINT32),
    Parameter("max_user_connections", INTEGER, 0, 2147483647),
    Parameter("max_prepared_stmt_count", INTEGER, 0, UINT32),
    Parameter("auto_increment_increment", INTEGER, 1, 65535),
    Parameter("auto_increment_offset", INTEGER, 1, 65535),
    Parameter("explicit_defaults_for_timestamp", BOOLEAN),
    Parameter("character_set_server", STRING, allowed=("utf8mb4", "utf8mb3", "latin1", "ascii", "binary")),
    Parameter("tx_isolation", STRING, option="transaction-isolation",
              allowed=("READ-UNCOMMITTED", "READ-COMMITTED", "REPEATABLE-READ", "SERIALIZABLE")),
    Parameter("event_scheduler", STRING, allowed=("ON", "OFF")),
    Parameter("sql_mode", STRING, pattern=rf"(?:(?:{'|'.join(SQL_MODES)})(?:,(?:{'|'.join(SQL_MODES)}))*)?"),
    Parameter("performance_schema", BOOLEAN, restart_required=True),
    Parameter("innodb_log_buffer_size", INTEGER, 2097152, 2147479552, restart_required=True),
    Parameter("innodb_open_files", INTEGER, 10, 2147483647, restart_required=True),
)


class MariaDBKnowledge(Knowledge):
    name = "mariadb"
    title = "MariaDB"
    versions = ("10.11",)
    default_version = "10.11"
    port = 3306
    supports_user_hosts = True
    admin_user = "os_admin"   # os_admin@'%' WITH GRANT OPTION; root accounts are dropped

    # Identifiers: 64 characters, user names 80 (MariaDB's limits, counted in characters).
    max_database_name = 64
    max_user_name = 80
    max_host = 255
    reserved_databases = frozenset({"mysql", "information_schema", "performance_schema", "sys",
                                    "lost+found"})
    reserved_database_prefixes = ("#mysql50#",)   # the server's own prefix for old file names
    reserved_users = frozenset({"root", "mysql", "mariadb.sys", "os_admin", "os_repl", "public"})

    configuration_parameters = {"10.11": PARAMETERS_10_11}
    # Set by the service (addresses, files, security, replication): never by a configuration.
    blocked_parameters = frozenset({
        "port", "bind_address", "datadir", "socket", "pid_file", "basedir", "tmpdir", "plugin_dir",
        "skip_networking", "skip_name_resolve", "init_file", "init_connect", "secure_file_priv",
        "log_bin", "log_error", "general_log_file", "slow_query_log_file", "relay_log", "server_id",
        "binlog_format", "gtid_strict_mode", "read_only", "require_secure_transport",
        "ssl_cert", "ssl_key", "ssl_ca", "local_infile"})

    def normalise_parameter(self, name):
        """MariaDB reads max-connections and max_connections alike."""
        return str(name).lower().replace("-", "_")

    def _check_identifier(self, field, name):
        """What MariaDB cannot store: trailing spaces are trimmed (and compare equal), and
        identifiers are utf8mb3, which holds the Basic Multilingual Plane only."""
        if name != name.rstrip(" "):
            raise errors.BadRequest(f"field '{field}': must not end with a space in MariaDB.")
        if any(ord(char) > 0xFFFF for char in name):
            raise errors.BadRequest(
                f"field '{field}': MariaDB names cannot hold characters beyond U+FFFF (such as emoji).")

    def database_options(self, character_set, collate, field="database"):
        """Trove's MySQL rules: a collation alone brings its character set, a character set
        alone its default collation (mariadb_collations.py, read from the server)."""
        charset = collations.canonical(character_set) if character_set else None
        if charset is not None and charset not in collations.COLLATIONS:
            raise errors.BadRequest(f"field '{field}.character_set': '{character_set}' is not a MariaDB "
                                    f"character set ({', '.join(sorted(collations.COLLATIONS))}).")
        if not collate:
            return charset, collations.collations_of(charset)[0] if charset else None
        collation = collations.canonical(collate)
        owner = collations.CHARSET_OF.get(collation)
        if owner is None:
            raise errors.BadRequest(f"field '{field}.collate': '{collate}' is not a MariaDB collation.")
        if charset is not None and owner != charset:
            raise errors.BadRequest(f"field '{field}.collate': '{collate}' is not a collation of "
                                    f"character set '{charset}' (it is {owner}'s).")
        return owner, collation

