"""Quotas: how much a project may hold, counted from what exists, with no database of our own.

Resources are Trove's: ``instances`` (replicas and cluster members included), ``volumes``
(GB), ``backups`` and ``ram`` (MB, from the flavors). A limit of -1 is unlimited. The
defaults are Settings (``DBAAS_QUOTA_*``, Trove's defaults); an administrator's limits for a
project are a record stack in the service project (tags only: ``dbaas-quota``,
``project:<id>``, ``limit-<resource>:<n>``), the newest one winning.

Usage is never a stored number: it is what one stack list of the project's records says
(instances, backups and clusters, those still being built or deleted included; a cluster's
members are one stack read each), so it cannot drift.

Racing requests (several threads, several API processes) never exceed a limit: whatever
consumes quota first creates a *claim*, a resource-less stack tagged with the amounts, then
waits until every claim Heat ordered before it (by creation time, then id) is visible,
then counts: what exists plus the claims up to and including its own. Within the limit it
goes on, creates the real record (tagged ``claim:<claim id>`` so the two are not counted
twice) and deletes the claim; over it, it deletes the claim and answers 413. All racers
order the claims the same way, so of N racing for the last unit exactly the first gets it.
docs/api.md (Quotas) has why and what it costs.
"""
import json
import logging
import math
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from dbaas_api import datastores, errors
from dbaas_api.records.tags import fields_of

LOG = logging.getLogger(__name__)

RESOURCES = ("instances", "volumes", "backups", "ram")
QUOTA_MARKER = "dbaas-quota"
CLAIM_MARKER = "dbaas-quota-claim"
INSTANCE_MARKER, BACKUP_MARKER, CLUSTER_MARKER = "dbaas", "dbaas-backup", "dbaas-cluster"
MARKERS = (INSTANCE_MARKER, BACKUP_MARKER, CLUSTER_MARKER, QUOTA_MARKER, CLAIM_MARKER)
CLAIM_TTL = 120     # seconds after which a claim no process deleted (it died) stops counting
LIST_PAGE = 1000    # stacks per Heat call while counting a project's records


@dataclass(frozen=True)
class QuotaUsage:
    """One row of ``GET /mgmt/quotas/{project}``: Trove's QuotaUsageView."""
    resource: str
    in_use: int
    reserved: int     # claimed by requests under way, not yet a record
    limit: int


@dataclass(frozen=True)
class Claim:
    """A granted reservation: its tags go on the record made with it."""
    id: str | None

    @property
    def tags(self):
        return [f"claim:{self.id}"] if self.id else []


class QuotaService:
    def __init__(self, settings, gateway, renderer, clock=time.time, sleep=time.sleep):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        self.clock = clock
        self.sleep = sleep

    def defaults(self):
        return {resource: int(getattr(self.settings, f"quota_{resource}")) for resource in RESOURCES}

    def limits(self, project_id):
        return _limits(self.defaults(), self._records(project_id))

    def show(self, project_id):
        records = self._records(project_id)
        limits = _limits(self.defaults(), records)
        in_use = _sum(record.held for record in records)
        reserved = _sum(left for _, left in _live_claims(records, self.clock()))
        return [QuotaUsage(r, in_use[r], reserved[r], limits[r]) for r in RESOURCES]

    def update(self, project_id, requested):
        """Set some of ``project_id``'s limits (Trove's ``{"quotas": {resource: limit}}``);
        answers the ones set. The new record replaces the older ones."""
        if not isinstance(requested, dict) or not requested:
            raise errors.BadRequest("quotas must be an object of resource names and limits.")
        unknown = sorted(set(requested) - set(RESOURCES) - {"xmlns"})
        if unknown:
            raise errors.NotFound(f"Unknown quota resources {unknown}.")
        changes = {}
        for resource, limit in requested.items():
            if resource == "xmlns" or limit is None:
                continue
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise errors.BadRequest(f"quotas.{resource} must be an integer (-1: unlimited).")
            if limit < -1:
                raise errors.BadRequest(
                    f"Quota limit '{limit}' for '{resource}' is too small - must be at least '-1'.")
            changes[resource] = limit
        records = self._records(project_id)
        older = [record for record in records if record.marker == QUOTA_MARKER]
        overrides = {**_overrides(older), **changes}
        tags = [QUOTA_MARKER, f"project:{project_id}"] + [f"limit-{r}:{v}" for r, v in sorted(overrides.items())]
        self.gateway.create_stack(name=f"dbaas-quota-{uuid.uuid4().hex[:12]}",
                                  rendered=self.renderer.render_record(), tags=tags)
        for record in older:
            self._delete_quietly(record.id)
        return changes

    @contextmanager
    def claim(self, project_id, **amounts):
        """Reserve ``amounts`` (instances=, volumes=, backups=, ram=) for the block, which
        makes the record that holds them (tagging it with ``Claim.tags``); 413 when a limit
        would be exceeded. Nothing is claimed when every resource asked for is unlimited."""
        amounts = {resource: int(amount) for resource, amount in amounts.items() if amount and amount > 0}
        records = self._records(project_id)
        limits = _limits(self.defaults(), records)
        limited = {resource: amount for resource, amount in amounts.items() if limits[resource] >= 0}
        if not limited:
            yield Claim(None)
            return
        # Refusing is always safe: when what exists already leaves no room, no claim is made.
        _refuse_over(limited, limits, self._usage(records, mine=None), add_asked=True)
        claim_id = self.gateway.create_stack(
            name=f"dbaas-q-{uuid.uuid4().hex[:12]}", rendered=self.renderer.render_record(),
            tags=[CLAIM_MARKER, f"project:{project_id}"] + [f"{r}:{n}" for r, n in sorted(limited.items())])
        created = self.clock()
        try:
            # Heat shows creation times to the second: a claim ordered before ours was made
            # at most within our second (+ commit delay, rounding, clock skew: the margin).
            self.sleep(max(0.0, math.floor(created) + 1 + self.settings.quota_settle - self.clock()))
            _refuse_over(limited, limits, self._usage(self._records(project_id), mine=claim_id), add_asked=False)
            yield Claim(claim_id)
        finally:
            self._delete_quietly(claim_id)

    def _usage(self, records, mine):
        """What exists plus, with ``mine`` (our claim's id), every live claim ordered up to
        and including it; without, what exists plus every live claim."""
        usage = _sum(record.held for record in records)
        claims = _live_claims(records, self.clock(), keep=mine)
        if mine is not None:
            key = {record.id: record.order for record, _ in claims}.get(mine)
            if key is None:  # Heat lists what it has stored: never expected
                raise errors.ServiceUnavailable("The quota claim just made is not visible yet; try again.")
            claims = [(record, left) for record, left in claims if record.order <= key]
        return _sum([usage] + [left for _, left in claims])

    def _records(self, project_id):
        """Every record of ``project_id`` (all kinds, claims and quota records too), each
        with what it holds: one Heat call per LIST_PAGE stacks, and one read per cluster."""
        stacks, marker = [], None
        while True:
            page = self.gateway.list_stacks(tags=[f"project:{project_id}"], limit=LIST_PAGE, marker=marker)
            stacks += page
            if len(page) < LIST_PAGE:
                return [_Record.of(stack, self._cluster_held) for stack in stacks]
            marker = page[-1]["id"]

    def _cluster_held(self, stack):
        """A cluster's members are in its ``members`` parameter (not in the list): one read."""
        found = self.gateway.get_stack(stack["id"], resolve_outputs=False) or {}
        try:
            members = json.loads((found.get("parameters") or {}).get("members") or "{}")
        except ValueError:
            members = {}
        members = list(members.values()) if isinstance(members, dict) else []
        return {"instances": len(members),
                "volumes": sum(_int(m.get("volume_size")) for m in members if isinstance(m, dict)),
                "ram": sum(flavor_ram(m.get("flavor")) for m in members if isinstance(m, dict))}

    def _delete_quietly(self, stack_id):
        try:
            self.gateway.delete_stack(stack_id)
        except errors.NotFound:
            pass
        except errors.DBaaSError as exc:  # it stops counting after CLAIM_TTL anyway
            LOG.warning("Could not delete quota record %s: %s", stack_id, exc.message)


def _refuse_over(amounts, limits, usage, add_asked):
    """413 naming every resource ``amounts`` would take past its limit."""
    total = {resource: usage[resource] + (amount if add_asked else 0) for resource, amount in amounts.items()}
    over = sorted(resource for resource in amounts if total[resource] > limits[resource])
    if over:
        detail = "; ".join(f"{r}: {total[r]} with this request and those under way, limit {limits[r]}"
                           for r in over)
        raise errors.OverLimit(f"Quota exceeded for resources: {over}. ({detail})")


@dataclass(frozen=True)
class _Record:
    """A stack of the project as the count sees it."""
    id: str
    order: tuple         # (creation time, id): how every process orders claims
    status: str
    marker: str | None   # its kind: instance, backup, cluster, quota record, claim
    fields: dict         # its ``key:value`` tags
    held: dict           # what it holds of each resource

    @classmethod
    def of(cls, stack, cluster_held):
        marker = next((tag for tag in stack.get("tags") or () if tag in MARKERS), None)
        fields = fields_of(stack)
        if marker == INSTANCE_MARKER:
            held = {"instances": 1, "volumes": _int(fields.get("volume")), "ram": flavor_ram(fields.get("flavor"))}
        elif marker == BACKUP_MARKER:
            held = {"backups": 1}
        elif marker == CLUSTER_MARKER:
            held = cluster_held(stack)
        else:
            held = {}
        return cls(stack["id"], (stack.get("creation_time") or "", stack["id"]),
                   str(stack.get("stack_status") or ""), marker, fields, held)


def _live_claims(records, now, keep=None):
    """[(claim, what it still holds)] of the claims that count: not being deleted, not
    expired (``keep``, our own, never is), less what the records made with it (tagged
    ``claim:<id>``) hold already."""
    made = {}
    for record in records:
        if record.fields.get("claim"):
            made[record.fields["claim"]] = _sum([made.get(record.fields["claim"], {}), record.held])
    live = []
    for record in records:
        if (record.marker != CLAIM_MARKER or record.status.startswith("DELETE")
                or (record.id != keep and now - _epoch(record.order[0]) >= CLAIM_TTL)):
            continue
        done = made.get(record.id, {})
        live.append((record, {resource: max(0, _int(record.fields.get(resource)) - done.get(resource, 0))
                              for resource in RESOURCES}))
    return live


def _sum(amounts):
    total = dict.fromkeys(RESOURCES, 0)
    for amount in amounts:
        for resource, value in amount.items():
            total[resource] += value
    return total


def _limits(defaults, records):
    return {**defaults, **_overrides([record for record in records if record.marker == QUOTA_MARKER])}


def _overrides(quota_records):
    """The limits set by the newest quota record."""
    if not quota_records:
        return {}
    newest = max(quota_records, key=lambda record: record.order)
    return {key[len("limit-"):]: int(value) for key, value in newest.fields.items()
            if key.startswith("limit-") and key[len("limit-"):] in RESOURCES and _is_int(value)}


def flavor_ram(flavor_id):
    """The RAM (MB) of the flavor ``flavor_id``; 0 for one no longer offered."""
    if flavor_id in (None, ""):
        return 0
    try:
        return datastores.find_flavor(str(flavor_id)).ram_mb
    except errors.NotFound:
        return 0


def _int(value):
    return int(value) if _is_int(value) and int(value) > 0 else 0


def _is_int(value):
    try:
        int(value)
        return True
    except (TypeError, ValueError):
        return False


def _epoch(text):
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0
