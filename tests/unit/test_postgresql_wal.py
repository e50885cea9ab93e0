"""The pure parts of PostgreSQL's WAL archive (datastores/postgresql/wal.py): names, ranges, the
archive command's quoting, pruning."""
import os
import shlex
import subprocess

from dbaas_api.datastores.postgresql import wal

MB16 = 16 << 20


def test_segment_names_cover_every_byte_from_start_to_stop():
    assert wal.segment_name(1, 0x3060220, MB16) == "000000010000000000000003"
    assert wal.segment_name(2, (1 << 32) + 5, MB16) == "000000020000000100000000"
    # [0/2000028, 0/4000000): the segment holding the stop byte's predecessor is the last.
    assert wal.segment_names(1, 0x2000028, 0x4000000, MB16) == [
        "000000010000000000000002", "000000010000000000000003"]
    assert wal.segment_names(1, 0x3060220, 0x3060220, MB16) == []
    assert wal.segment_names(1, 0xFF000000, 0x100000001, MB16)[-1] == "000000010000000100000000"


def test_parent_problem():
    assert "without WAL archiving" in wal.parent_problem({})
    assert "without WAL archiving" in wal.parent_problem({"to_lsn": 3})
    assert wal.parent_problem({"wal_from": 1, "timeline": 1}) is None


def test_archive_command_copies_once_and_accepts_only_an_identical_retry(tmp_path):
    home = tmp_path / "home with 'quote"
    (home / wal.ARCHIVE_DIR).mkdir(parents=True)
    segment = tmp_path / "000000010000000000000001"
    segment.write_bytes(b"wal" * 100)
    command = wal.archive_settings(home)["archive_command"]

    def archive():
        line = command.replace("%p", shlex.quote(str(segment))).replace("%f", segment.name)
        return subprocess.run(["sh", "-c", line], check=False).returncode

    assert archive() == 0
    copied = home / wal.ARCHIVE_DIR / segment.name
    assert copied.read_bytes() == segment.read_bytes()
    assert archive() == 0                       # the archiver's retry of what it had copied
    segment.write_bytes(b"other")
    assert archive() != 0                       # never overwritten by something else
    assert not list((home / wal.ARCHIVE_DIR).glob("*.part"))


def test_prune_keeps_what_the_newest_full_backup_and_later_need(tmp_path):
    archive = tmp_path / wal.ARCHIVE_DIR
    archive.mkdir()
    names = ["000000010000000000000002", "000000010000000000000003", "000000010000000000000004",
             "00000002.history", "000000020000000000000004", "000000010000000000000001.part"]
    for name in names:
        (archive / name).write_bytes(b"")
    wal.prune(tmp_path, {})                                    # a replica's full: nothing to say
    assert len(os.listdir(archive)) == len(names)
    wal.prune(tmp_path, {"wal_from": 1, "timeline": 1, "wal_segment": "000000010000000000000003"})
    assert sorted(os.listdir(archive)) == ["000000010000000000000003", "000000010000000000000004",
                                           "00000002.history", "000000020000000000000004"]
