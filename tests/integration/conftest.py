"""Fixtures for tests that run real datastore servers as local processes.

Every state dir is a fresh one under /tmp (mode 0711, so the postgres and mysql users can
traverse it), and everything made in it (processes, files) is destroyed afterwards, also
when the test fails.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from dbaas_api.drivers.local import LocalDriver


def new_state_dir():
    path = Path(tempfile.mkdtemp(prefix="dbaas-it-", dir="/tmp"))
    os.chmod(path, 0o711)
    return path


def wipe(path):
    try:
        driver = LocalDriver(path)
        for key in driver.keys():
            driver.destroy(key)
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def state_dir():
    path = new_state_dir()
    try:
        yield path
    finally:
        wipe(path)


@pytest.fixture
def driver(state_dir):
    return LocalDriver(state_dir)
