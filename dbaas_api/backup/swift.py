"""SwiftStorage: a backup as objects in one Swift container through python-swiftclient;
each segment is a streamed (chunked) PUT whose ETag Swift computes and we compare with our
own MD5."""
import contextlib
import hashlib

from dbaas_api import errors
from dbaas_api.backup.backend import CorruptBackup, Storage, checked_prefix
from dbaas_api.backup.segments import CHUNK


class SwiftStorage(Storage):
    """Objects ``<prefix>/...`` in one container, created on first use."""

    scheme = "swift"
    etag_md5 = True

    def __init__(self, connect, container, segment_size):
        super().__init__(segment_size)
        self._connect = connect          # () -> swiftclient.Connection
        self.container = container
        self._conn = None
        self._container_ready = False

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def location(self, prefix):
        return f"swift://{self.container}/{checked_prefix(prefix)}"

    def put_stream(self, prefix, name, chunks, headers=None):
        # A segment comes with its MD5 (the splitter's thread computed it); anything else
        # is hashed here as it is sent.
        md5 = None if hasattr(chunks, "md5") else hashlib.md5(usedforsecurity=False)

        def counted():
            for chunk in chunks:
                if md5 is not None:
                    md5.update(chunk)
                yield chunk
        with _swift_errors(self, prefix, name):
            if not self._container_ready:
                # Before the first byte: a streamed PUT cannot be sent again once it has read
                # its source, so a missing container must not be found by a failed PUT.
                self.conn.put_container(self.container)
                self._container_ready = True
            etag = self.conn.put_object(self.container, f"{prefix}/{name}", counted(), headers=headers)
        if etag != (chunks.md5 if md5 is None else md5.hexdigest()):
            raise CorruptBackup(f"Swift stored {prefix}/{name} with ETag {etag}, not the MD5 we sent.")

    def get_stream(self, prefix, name):
        with _swift_errors(self, prefix, name):
            _headers, body = self.conn.get_object(self.container, f"{prefix}/{name}", resp_chunk_size=CHUNK)
        return body

    def delete_prefix(self, prefix):
        from swiftclient import ClientException
        for name in self.names(prefix):
            try:
                self.conn.delete_object(self.container, f"{prefix}/{name}")
            except ClientException as exc:
                if exc.http_status != 404:   # already gone is what we wanted
                    raise errors.ServiceUnavailable(
                        f"Swift refused to delete {prefix}/{name}: {exc.msg} ({exc.http_status}).") from None

    def names(self, prefix):
        from swiftclient import ClientException
        try:
            _headers, objects = self.conn.get_container(self.container, prefix=f"{prefix}/", full_listing=True)
        except ClientException as exc:
            if exc.http_status == 404:
                return []
            raise errors.ServiceUnavailable(f"Swift: {exc.msg} ({exc.http_status}).") from None
        return sorted(obj["name"].split("/", 1)[1] for obj in objects)


def connection(settings):
    import swiftclient
    if not settings.swift_auth_url:
        raise errors.DBaaSError("Swift backups need DBAAS_SWIFT_AUTH_URL.")
    os_options = {"project_name": settings.swift_project} if settings.swift_project else None
    return swiftclient.Connection(authurl=settings.swift_auth_url, user=settings.swift_user,
                                  key=settings.swift_key, auth_version=settings.swift_auth_version,
                                  os_options=os_options, retries=2, timeout=60)


def users_connection(url, token):
    """A connection to a caller's own account (``url``, from its token's catalog) with the
    caller's token, as Trove's swift_client(context) makes one."""
    import swiftclient
    return swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=2, timeout=60)


@contextlib.contextmanager
def _swift_errors(storage, prefix, name):
    """swiftclient's errors -> ours, naming the object and never the credentials."""
    from swiftclient import ClientException
    try:
        yield
    except ClientException as exc:
        if exc.http_status == 404:
            raise CorruptBackup(f"Backup {storage.location(prefix)}: object {name} is missing.") from None
        raise errors.ServiceUnavailable(
            f"Swift refused {prefix}/{name}: {exc.msg} ({exc.http_status or 'no answer'}).") from None

