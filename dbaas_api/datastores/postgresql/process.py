"""PostgreSQL as a local process: postgresql.conf and pg_hba.conf outside the data dir,
initdb, readiness."""
import contextlib
import ipaddress
import signal

import psycopg2

from dbaas_api import errors
from dbaas_api.datastores.base import LocalProcess, UserLog
from dbaas_api.datastores.postgresql import wal
from dbaas_api.datastores.postgresql.client import Client, conf_value


class PostgreSQLProcess(Client, LocalProcess):
    system_user = "postgres"
    # stderr (logging_collector off): start, stop, errors and warnings; no statement text
    # (log_min_error_statement panic), so never a password.
    guest_logs = {"error": "server.log"}
    # Trove's USER log, as Trove has it: the logging collector writing every statement
    # (log_statement all) to its own file, which needs a start of the server; disabled, the
    # statements stop at once (a reload) and the collector goes at the next start. The
    # service's own statements never reach it (client.py's SERVICE_OPTIONS).
    user_logs = {"general": UserLog("data/log/general.log", restart=True)}
    log_settings_file = "logs.conf"
    stop_signal = signal.SIGINT   # "fast" shutdown; SIGTERM ("smart") waits for every client to leave

    # Settings every instance gets. Memory and connections come from the flavor.
    STATIC_SETTINGS = {
        "unix_socket_directories": "",          # TCP only: nothing to clash with the host's server
        "password_encryption": "scram-sha-256",
        # A failing statement is otherwise logged in full, and it may carry a password.
        "log_min_error_statement": "panic",
        "log_line_prefix": "%m [%p] ",
        "logging_collector": "off",             # stderr is server.log
        "timezone": "UTC",
        "log_timezone": "UTC",
        "datestyle": "iso, ymd",
        "lc_messages": "C.UTF-8",
        "lc_monetary": "C.UTF-8",
        "lc_numeric": "C.UTF-8",
        "lc_time": "C.UTF-8",
        "default_text_search_config": "pg_catalog.english",
        "dynamic_shared_memory_type": "posix",
        "wal_level": "replica",                 # ready for a streaming replica later
        "max_wal_senders": 10,
        "wal_keep_size": "64MB",                # a replica that was away a moment catches up
    }

    filters_clients = True        # pg_hba.conf: first matching line wins, no match is refused
    access_file = "pg_hba.conf"

    def flavor_settings(self, flavor):
        """shared_buffers a quarter of the RAM (PostgreSQL's own advice), the planner told
        that the rest is mostly page cache."""
        return {
            "max_connections": flavor.max_connections,
            "shared_buffers": f"{max(flavor.ram_mb // 4, 16)}MB",
            "effective_cache_size": f"{max(flavor.ram_mb * 3 // 4, 32)}MB",
            "maintenance_work_mem": f"{max(flavor.ram_mb // 16, 16)}MB",
        }

    def private_dirs(self, paths):
        return (wal.archive_dir(paths.home),)

    def config_files(self, paths, address, port, flavor):
        """A complete postgresql.conf outside the data dir (the server reads it through
        config_file, and pg_hba.conf, see access_files, through hba_file), so initdb gets
        the empty dir it insists on."""
        settings = {"listen_addresses": address, "port": port,
                    "hba_file": str(paths.conf("pg_hba.conf"))}
        settings.update(self.STATIC_SETTINGS)
        settings.update(self.flavor_settings(flavor))
        settings.update(wal.archive_settings(paths.home))   # continuous, for incrementals
        lines = ["# Written by heat-dbaas; rewritten on resize."]
        lines += [f"{name} = {conf_value(value)}" for name, value in settings.items()]
        # Which primary a replica follows (see follow); absent on a primary.
        lines.append(f"include_if_exists = {conf_value(str(paths.conf(self.replica_file)))}")
        lines.append(f"include_if_exists = {conf_value(str(paths.conf(self.log_settings_file)))}")
        # Last, so that an attached configuration's values win (see override_files).
        lines.append(f"include_if_exists = {conf_value(str(paths.conf(self.override_file)))}")
        return {"postgresql.conf": "\n".join(lines) + "\n"}

    def log_settings(self, paths, enabled, started):
        """Nothing until the server has started with the general log on; then the collector's
        one file (log/general.log in the data dir, never rotated by the server: the service
        caps it, service/logs.py) and whether statements go there."""
        if "general" not in started:
            return {}
        return {"logging_collector": "on", "log_directory": "log", "log_filename": "general.log",
                "log_rotation_age": 0, "log_rotation_size": 0, "log_file_mode": "0600",
                "log_statement": "all" if "general" in enabled else "none"}

    def log_files(self, settings):
        lines = ["# The USER logs that are on; written by heat-dbaas, reloaded in place."]
        lines += [f"{name} = {conf_value(value)}" for name, value in settings.items()]
        return {self.log_settings_file: "\n".join(lines) + "\n"}

    def access_files(self, allowed_cidrs):
        """pg_hba.conf. Every connection needs a password. The admin (and replication, for
        backups and replicas on this host) from the service's address; then clients from
        the allowed networks only, or from anywhere when none are given. A client that no
        line matches is refused before authentication ("no pg_hba.conf entry")."""
        networks = [str(ipaddress.IPv4Network(cidr)) for cidr in allowed_cidrs] or ["all"]
        lines = ["# Written by heat-dbaas from the instance's allowed_cidrs; reloaded in place.",
                 "local all all scram-sha-256",
                 f"host all {self.admin_user} {self.SERVICE_ADDRESS}/32 scram-sha-256",
                 f"host replication all {self.SERVICE_ADDRESS}/32 scram-sha-256"]
        for network in networks:
            lines += [f"host all all {network} scram-sha-256", f"host replication all {network} scram-sha-256"]
        return {self.access_file: "\n".join(lines) + "\n"}

    def override_files(self, values):
        """The configuration's values, included at the end of postgresql.conf: the server
        starts with them (ALTER SYSTEM, see the session, keeps them too)."""
        lines = ["# An attached configuration group's values; written by heat-dbaas."]
        lines += [f"{name} = {conf_value(value)}" for name, value in sorted(values.items())]
        return {self.override_file: "\n".join(lines) + "\n"}

    def initialise(self, paths, version, admin_password, runner):
        """initdb without fsync (the server syncs at its first checkpoint), the admin's
        password read from a pipe: never in argv, never in a file."""
        if "\n" in admin_password or "\r" in admin_password:
            raise errors.BadRequest("field 'admin_password': must be a single line.")
        runner.run([
            f"{self.bin_dir.format(version=version)}/initdb", "-D", str(paths.data),
            "--no-sync", "--auth=scram-sha-256", f"--username={self.admin_user}",
            "--pwfile=/dev/stdin", "--encoding=UTF8", "--locale=C.UTF-8",
        ], stdin=(admin_password + "\n").encode())

    def start_argv(self, paths, version):
        return [f"{self.bin_dir.format(version=version)}/postgres", "-D", str(paths.data),
                "-c", f"config_file={paths.conf('postgresql.conf')}"]

    def probe(self, address, port, password=None):
        try:
            connection = self.connect(address, port, password or "", timeout=1)
        except psycopg2.OperationalError as exc:
            # Without a password, being asked for one means the server is up and accepting.
            return password is None and "no password supplied" in str(exc)
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return True

