"""Redis backups: an RDB snapshot through the replication handshake, restored as the base
of the append-only file."""
import socket

from dbaas_api import errors
from dbaas_api.datastores.base import Backups


class RedisBackups(Backups):
    backup_format = "redis-rdb"

    def backup_stream(self, source, parent_position=None):
        """An RDB snapshot through Redis' own replication handshake (what redis-cli --rdb
        does). Always full: an RDB is the whole dataset."""
        if parent_position is not None:
            raise errors.BadRequest("Redis backups are always full: incremental backups are not supported.")
        return _RdbStream(source.host, source.port, source.password)

    def restore(self, paths, version, admin_password, runner, chain):
        """The RDB becomes the base of the append-only file (Redis 7's multi-part AOF: a
        manifest naming an RDB-format base), which the server loads at start and appends to.
        Users live in the ACL file, not in the RDB: the restored server has its new admin and
        the users its own request names."""
        [(chunks, _position)] = chain
        self.initialise(paths, version, admin_password, runner)
        aof = paths.data / "appendonlydir"
        runner.mkdir(aof)
        runner.write_stream(aof / "appendonly.aof.1.base.rdb", chunks)
        runner.write(aof / "appendonly.aof.manifest", "file appendonly.aof.1.base.rdb seq 1 type b\n")


class _RdbStream:
    """SYNC without 'capa eof', so the master sends a snapshot from disk with its length
    first. (redis-cli --rdb - cannot truncate stdout, so after a diskless transfer it leaves
    the 40-byte end marker in the stream.) The password is sent as AUTH's argument only."""

    def __init__(self, host, port, password, timeout=60):
        self.host, self.port, self.password, self.timeout = host, port, password, timeout
        self.position = {}

    def __iter__(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=10) as sock:
                sock.settimeout(self.timeout)
                reader = sock.makefile("rb")
                for command in (("AUTH", self.password), ("REPLCONF", "rdb-only", "1")):
                    sock.sendall(_resp(command))
                    answer = reader.readline()
                    if not answer.startswith(b"+"):
                        raise errors.DBaaSError(f"Redis refused {command[0]}: {_line(answer)}")
                sock.sendall(_resp(("SYNC",)))
                header = b"\n"
                while header in (b"\n", b"\r\n"):   # newlines keep the link while the snapshot is written
                    header = reader.readline()
                if not header.startswith(b"$") or header.startswith(b"$EOF:"):
                    raise errors.DBaaSError(f"Redis answered SYNC with {_line(header)}")
                remaining = int(header[1:])
                while remaining:
                    chunk = reader.read(min(1 << 20, remaining))
                    if not chunk:
                        raise errors.DBaaSError("Redis closed the connection in the middle of its snapshot.")
                    remaining -= len(chunk)
                    yield chunk
        except OSError as exc:
            raise errors.DBaaSError(f"Redis snapshot from {self.host}:{self.port} failed: {exc}") from None


def _resp(args):
    """A command in the Redis protocol (RESP)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _line(raw):
    return raw.decode("utf-8", "replace").strip()[:200] or "nothing"

