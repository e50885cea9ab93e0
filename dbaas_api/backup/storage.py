"""Backup storage: one interface, two backends, and which one a backup goes to.

- ``backend.py``: the format (numbered segments, then a manifest written last; the backup's
  checksum a hash list of theirs) and the ``Storage`` interface, whose write and read every
  backend shares; ``segments.py`` the streaming beneath them.
- ``local.py``: ``LocalStorage``, files under a directory (the embedded default,
  ``<state>/backups``).
- ``swift.py``: ``SwiftStorage``, objects in one Swift container through python-swiftclient.

A location names its backend (``file:///dir/prefix``, ``swift://container/prefix``), so a
backup is restored from where it was written even after the default changes.
"""
import errno
import re
from pathlib import Path
from urllib.parse import urlparse

from dbaas_api import errors
from dbaas_api.backup import swift
from dbaas_api.backup.backend import CorruptBackup, Storage, Stored, StorageRefused, hash_list, segment_name
from dbaas_api.backup.local import LocalStorage
from dbaas_api.backup.swift import SwiftStorage

__all__ = ["CONTAINER", "REFUSALS", "CorruptBackup", "LocalStorage", "Storage", "StorageRefused", "Stored",
           "SwiftStorage", "for_location", "from_settings", "in_users_account", "hash_list", "segment_name"]

# A container a user may name: safe as a Swift container and as a directory name, and short
# enough for a Heat tag (``container:<name>``, at most 80 characters).
CONTAINER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# What a storage answers that a retry will not change: it is full, over quota, read-only,
# or not ours to write. A backup that meets one fails at once (heat_plugins/backup.py).
REFUSALS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def from_settings(settings, container=None):
    """The storage new backups go to: ``container`` (a user's, or a backup strategy's) or
    the operator's; on local storage a container is a directory under the backup dir."""
    if container is not None and not CONTAINER.match(container):
        raise errors.BadRequest(f"Not a container name: {container!r}.")
    if settings.backup_storage == "local":
        return LocalStorage(settings.backup_root / container if container else settings.backup_root)
    if settings.backup_storage == "swift":
        return SwiftStorage(lambda: swift.connection(settings), container or settings.swift_container,
                            settings.backup_segment_mb << 20)
    raise errors.DBaaSError(f"DBAAS_BACKUP_STORAGE must be 'local' or 'swift', not {settings.backup_storage!r}.")


def in_users_account(url, token, container):
    """Storage in the caller's own Swift account (``url``: the object-store endpoint of the
    caller's token catalog), reached with the caller's token: what the caller's own clients
    then read (``openstack database log save``)."""
    return SwiftStorage(lambda: swift.users_connection(url, token), container, None)


def for_location(settings, location):
    """(storage, prefix) for a location written by either backend."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        path = Path(parsed.path)
        return LocalStorage(path.parent), path.name
    if parsed.scheme == "swift":
        return (SwiftStorage(lambda: swift.connection(settings), parsed.netloc, settings.backup_segment_mb << 20),
                parsed.path.strip("/"))
    raise errors.BadRequest(f"Unknown backup location {location!r}.")

