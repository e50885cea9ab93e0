"""The embedded Heat's one credential in the no-auth profile: a per-installation secret in
``<state>/heat/access-token`` (0600). Heat's port is open to every local process, and
without Keystone it takes the project from the URL, so without this any local user could
read the admin passwords of every instance and change or delete any of them. Heat's no-auth
filter (noauth.py) refuses every request that does not carry it as ``X-Auth-Token``; the API
(heat_gateway.py) and whoever owns the installation (``dbaas heat-env``) send it.
"""
import os
import secrets
from pathlib import Path


def path(state_dir):
    return Path(state_dir) / "heat" / "access-token"


def ensure(state_dir):
    """The installation's token, made (0600, in a 0700 heat/) when there is none yet; whole
    or not at all, and the same for two processes that make it at once."""
    token_file = path(state_dir)
    token_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not token_file.exists():
        tmp = token_file.with_name(f".access-token.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, token_file)     # never replaces a token another process made
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return read(state_dir)


def read(state_dir):
    """The token, or None when the installation has none (Heat not started here yet)."""
    try:
        return path(state_dir).read_text().strip() or None
    except FileNotFoundError:
        return None
