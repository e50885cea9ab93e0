"""The backup role: a datastore's own backup tool as a stream, and a restore from one
(see dbaas_api/backup/ and heat_plugins/backup.py)."""
from dbaas_api import errors


class Backups:
    """A datastore whose running server can be backed up and restored."""

    supports_incremental_backups = False
    backup_format = ""    # what the stream is, for the backup's record (e.g. "pg_basebackup-tar")

    def incremental_parent_problem(self, position):
        """Why a backup with this ``position`` cannot be an incremental's parent (a 400 at
        create), or None."""
        return None

    def backup_stream(self, source, parent_position=None):
        """The datastore's own backup tool's output as an iterable of bytes-like chunks (each
        may be reused for the next, so it is consumed before the next is asked for), taken
        from the running server ``source`` (a backup.streams.Source). Once exhausted its
        ``position`` is what an incremental backup on top of it needs (``parent_position``
        of the next one). Raises errors.DBaaSError when the tool fails."""
        raise errors.NotImplementedYet(f"{self.title} backups are not supported.")

    def restore(self, paths, version, admin_password, runner, chain):
        """Instead of initialise(): fill the empty paths.data from ``chain``, a list of
        (chunks, position) pairs, a full backup first and then its incrementals in order,
        and make admin_user/admin_password the admin (the backup's own admin password is
        not known here). ``runner.feed(argv, chunks)`` runs a command as the datastore user
        with the chunks on its stdin; ``runner.mkdir(path)`` makes a directory that user owns."""
        raise errors.NotImplementedYet(f"Restoring {self.title} backups is not supported.")

