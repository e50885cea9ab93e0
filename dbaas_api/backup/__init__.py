"""Backups: where they are stored (storage.py) and how a byte stream gets there and back
(streams.py). The datastore modules say which tool makes the stream and how to restore it;
heat_plugins/backup.py runs the two together inside the Heat engine."""
