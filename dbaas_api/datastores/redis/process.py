"""Redis as a local process: redis.conf and its included files, the ACL file, readiness."""
import redis

from dbaas_api.datastores.base import LocalProcess
from dbaas_api.datastores.redis.client import Client, conf_value, sha256


class RedisProcess(Client, LocalProcess):
    system_user = "redis"    # its own system user, as PostgreSQL and MariaDB have (Debian makes it)
    guest_logs = {"error": "server.log"}   # its log (logfile ""): events, never commands
    server_bin = "/usr/bin/redis-server"

    ADMIN_RULES = ("on", "~*", "&*", "+@all")

    STATIC_SETTINGS = {
        "protected-mode": "yes",
        "daemonize": "no",
        "supervised": "no",
        "logfile": '""',                 # stdout is server.log
        "appendonly": "yes",             # every write survives a stop/start
        "appendfsync": "everysec",
        "maxmemory-policy": "noeviction",
        "repl-diskless-sync-delay": 0,   # the default 5 s makes a replica take 5 s to link
        "set-proc-title": "no",          # keep argv (it names the instance) for the driver's pid check
    }

    def flavor_settings(self, flavor):
        """maxmemory three quarters of the RAM: the rest is headroom for the fork that
        rewrites the append-only file."""
        return {"maxmemory": f"{max(flavor.ram_mb * 3 // 4, 16)}mb",
                "maxclients": flavor.max_connections}

    def config_files(self, paths, address, port, flavor):
        """No secret here: passwords live, hashed, in the ACL file in the data dir."""
        settings = {"bind": address, "port": port, "dir": str(paths.data),
                    "aclfile": str(paths.data / "users.acl")}
        settings.update(self.STATIC_SETTINGS)
        settings.update(self.flavor_settings(flavor))
        lines = ["# Written by heat-dbaas; rewritten on resize."]
        lines += [f"{name} {value}" for name, value in settings.items()]
        lines.append(f"include {paths.conf(self.replica_file)}")
        if paths.conf(self.cluster_file).exists():   # a Redis Cluster node (see cluster_files)
            lines.append(f"include {paths.conf(self.cluster_file)}")
        return self._main_config(paths, "redis.conf", lines, "include", self.PRIMARY_CONF)

    def override_files(self, values):
        """The configuration's values, included at the end of redis.conf: what keeps them
        across a restart (CONFIG REWRITE would rewrite our own redis.conf instead)."""
        lines = ["# An attached configuration group's values; written by heat-dbaas."]
        lines += [f"{name} {conf_value(value)}" for name, value in sorted(values.items())]
        return {self.override_file: "\n".join(lines) + "\n"}

    def initialise(self, paths, version, admin_password, runner):
        """The ACL file with the admin (default) user and its password's SHA-256: Redis
        accepts hashed passwords there, so the plain password is stored nowhere."""
        runner.write(paths.data / "users.acl",
                     f"user {self.admin_user} {' '.join(self.ADMIN_RULES)} #{sha256(admin_password)}\n")

    def start_argv(self, paths, version):
        # The trailing --dir repeats the config so that argv names the data dir.
        return [self.server_bin, str(paths.conf("redis.conf")), "--dir", str(paths.data)]

    def probe(self, address, port, password=None):
        client = self.connect(address, port, password, timeout=0.5, io_timeout=1)
        try:
            return client.ping()
        except redis.AuthenticationError:
            return password is None   # asked to log in: up, and we had nothing to log in with
        except redis.RedisError:
            return False              # refused, or still loading its data (BusyLoadingError)
        finally:
            client.close()

