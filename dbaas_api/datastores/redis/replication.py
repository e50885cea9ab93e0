"""Redis replication (replicaof)."""
from dbaas_api import errors
from dbaas_api.datastores.base import Replication
from dbaas_api.datastores.redis.client import Client
from dbaas_api.waiting import TimedOut, poll_until


class RedisReplication(Client, Replication):
    # A replica follows its source as the ACL user os_repl (replication commands only),
    # whose password derives from the admin password every member shares; replica.conf
    # (included by redis.conf: replicaof, masteruser, masterauth; 0600) keeps it following
    # across restarts. Redis does not replicate its ACL: a new replica starts with a copy of
    # its source's ACL file (hashes only), so the source's users can read it; users made on
    # the source later are not on its replicas (docs/replication.md). Positions are the
    # replication offset (PSYNC2 keeps it across a promotion).

    supports_replication = True
    replicates_accounts = False   # the ACL is not replicated (above)
    replica_file = "replica.conf"
    PRIMARY_CONF = "# A primary: takes writes; written by heat-dbaas.\n"
    LINK_TIMEOUT = 60.0

    def prepare_source(self, source):
        with self._replication_client(source.host, source.port, source.password) as client:
            self._replication_account(client, source.password)

    def seed_replica(self, paths, version, runner, source):
        """The source's ACL file (its users' hashes, os_repl's and the shared admin's), and
        replica.conf: the server loads the source's data over replication at its first start."""
        acl = source.datadir / "users.acl" if source.datadir is not None else None
        if acl is not None and acl.exists():
            runner.write(paths.data / "users.acl", acl.read_text())
        else:
            self.initialise(paths, version, source.password, runner)
        self._write_replica_conf(paths, runner, source)

    def after_replica_start(self, paths, address, port, password, source):
        """Done once the link to the source is up (the first full sync is loaded)."""
        try:
            poll_until(lambda: self._info(address, port, password).get("master_link_status") == "up",
                       timeout=self.LINK_TIMEOUT, interval=0.05)
        except TimedOut:
            raise errors.DBaaSError(f"The Redis replica at {address} did not link to its source within "
                                    f"{self.LINK_TIMEOUT:.0f} s.") from None

    def replication_state(self, address, port, password):
        info = self._info(address, port, password)
        return {"role": "primary" if info.get("role") == "master" else "replica",
                "position": int(info.get("master_repl_offset", 0))}

    def fence(self, address, port, password):
        """CLIENT PAUSE WRITE: clients' writes wait (and time out), the replication stream
        still flows; returns the offset every replica must reach."""
        with self._replication_client(address, port, password) as client:
            client.execute_command("CLIENT", "PAUSE", int(self.LINK_TIMEOUT * 1000), "WRITE")
            return int(client.info("replication").get("master_repl_offset", 0))

    def unfence(self, address, port, password):
        with self._replication_client(address, port, password) as client:
            client.execute_command("CLIENT", "UNPAUSE")

    def follow(self, paths, runner, address, port, password, source, running, restart):
        self._write_replica_conf(paths, runner, source)
        if not running:
            restart()
            return
        with self._replication_client(address, port, password) as client:
            client.execute_command("CONFIG", "SET", "masteruser", self.replication_user)
            client.execute_command("CONFIG", "SET", "masterauth", self.replication_password(source.password))
            client.execute_command("REPLICAOF", source.host, str(source.port))
            client.execute_command("CLIENT", "UNPAUSE")   # a fenced old primary: it follows now

    def promote(self, paths, runner, address, port, password):
        with self._replication_client(address, port, password) as client:
            client.execute_command("REPLICAOF", "NO", "ONE")
        runner.write(paths.conf(self.replica_file), self.PRIMARY_CONF)

    def _write_replica_conf(self, paths, runner, source):
        runner.write(paths.conf(self.replica_file),
                     "# The primary this replica follows; written by heat-dbaas.\n"
                     f"replicaof {source.host} {int(source.port)}\n"
                     f"masteruser {self.replication_user}\n"
                     f"masterauth {self.replication_password(source.password)}\n")

