"""The API's mark on the stacks it makes, so that it ignores every stack it did not make.

Tags say whose an instance is (``project:<id>``), and anyone who can create a stack in the
service project can write tags: a stack tagged ``dbaas,project:victim`` made there by hand
would show in the victim's instance list. So every stack the API creates or updates also
carries ``mark:<HMAC of its name and project tag>``, keyed with the installation's Heat access
token (embedded/access_token.py), which only the service reads; a stack without a valid mark
is not there for the API (404, left out of lists). Stacks made before the installation had a
token (an older version's) have no mark and are taken as they are.

In the keystone profile there is no token and no mark: the service project is Keystone's to
guard.
"""
import hashlib
import hmac
import os
from datetime import datetime, timezone

from dbaas_api.embedded import access_token

PREFIX = "mark:"


class StackMarks:
    def __init__(self, state_dir):
        """``state_dir`` None: no marks (the keystone profile)."""
        token = access_token.read(state_dir) if state_dir is not None else None
        self._key = token.encode() if token else None
        try:
            since = os.stat(access_token.path(state_dir)).st_mtime if token else None
        except OSError:
            since = None
        self._since = datetime.fromtimestamp(since, timezone.utc).replace(microsecond=0) if since else None

    def _mark(self, name, tags):
        projects = sorted(tag for tag in tags if tag.startswith("project:"))
        message = "\n".join([name, *projects]).encode()
        return PREFIX + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def tagged(self, name, tags):
        """``tags`` with this installation's mark for a stack named ``name`` (and no other mark)."""
        tags = [tag for tag in tags if not tag.startswith(PREFIX)]
        return tags + [self._mark(name, tags)] if self._key else tags

    def made_here(self, stack):
        """Whether the API made ``stack`` (a stack list's or show's dict)."""
        if not self._key:
            return True
        tags = stack.get("tags") or []
        marks = [tag for tag in tags if tag.startswith(PREFIX)]
        if not marks:
            return self._before_marks(stack.get("creation_time"))
        expected = self._mark(stack.get("stack_name") or "", [t for t in tags if not t.startswith(PREFIX)])
        return any(hmac.compare_digest(mark, expected) for mark in marks)

    def _before_marks(self, creation_time):
        try:
            created = datetime.fromisoformat((creation_time or "").replace("Z", "+00:00"))
        except ValueError:
            return False
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        return self._since is not None and created < self._since
