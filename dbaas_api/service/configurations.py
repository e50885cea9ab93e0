"""Configuration groups: records of the same kind as instances, a Heat stack each.

A group is a stack in the service project with no resources: tags carry what a list shows
(owner, datastore, version, name, description: one Heat call per page), a json parameter
carries its values. So every API process, and the API after a restart, sees the same
groups, and there is still no database of our own.

Values are checked against the datastore version's rules (datastores/<name>/knowledge.py, kept as
data): unknown or service-managed parameters, wrong types and values out of range are 422,
as in Trove. Attaching a group copies its values into the instance's stack (a
DBaaS::Configuration resource applies them, the server keeps them for its next start);
a value that needs a restart leaves the instance RESTART_REQUIRED.

Updating a group that instances use re-applies it to them, as Trove does: the group is
changed only when every instance using it is free to change, and then each one is updated
(waiting for it like any change). An instance that still could not be updated is named in
a 409, and attaching the group to it again applies the new values.
"""
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from dbaas_api import datastores, errors, records, status
from dbaas_api.model import ConfigurationSpec
from dbaas_api.service import catalog
from dbaas_api.service.changes import Change, busy, until_stack, wait_until_free

ALL_PAGE = 100  # stacks per Heat call when every instance using a group is needed
DELETE_WAIT = 5  # seconds a DELETE waits for the group's stack to be gone


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    description: str | None
    datastore: str
    version: str
    created: str
    updated: str
    values: dict | None = None           # show and create only: lists come from tags
    instance_count: int | None = None


@dataclass(frozen=True)
class InstanceRef:
    id: str
    name: str


def configuration_change(current, configuration):
    """The Change that gives ``current`` ``configuration`` (a ConfigurationSpec, or None to
    detach): RESTART_REQUIRED while a value the server only takes at start differs from the
    one it started with (so a detach before any restart is ACTIVE again)."""
    after = configuration.values if configuration else {}
    restart = current.datastore.restart_required(current.spec.version, current.spec.started_with, after)
    return Change(replace(current.spec, configuration=configuration), restart_required=restart)


class ConfigurationService:
    def __init__(self, settings, gateway, renderer, changes):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        self.changes = changes   # the one InstanceChanges: a group's new values reach its instances

    def create(self, project_id, body):
        datastore, version = catalog.requested_datastore(body.get("datastore") or {}, "datastore: ",
                                                         known=catalog.read(self.gateway))
        values = datastore.validate_configuration(version, body["values"])
        group_tags = records.configuration.ConfigurationTags(
            project_id=project_id, datastore=datastore.name, version=version, name=body["name"],
            description=body.get("description"))
        stack_id = self.gateway.create_stack(
            name=f"dbaas-cfg-{uuid.uuid4().hex[:12]}",
            rendered=self.renderer.render_configuration(datastore.name, version, values),
            tags=records.configuration.TAGS.encode(group_tags))
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _group(stack_id, group_tags, now, now, values=values, instance_count=0)

    def list(self, project_id, limit, marker=None):
        """One page, newest first, from the stack list alone."""
        return records.stack.page(self.gateway, records.configuration.TAGS.filter(project_id), limit, marker,
                                  _from_stack, what="a configuration group")

    def get_record(self, project_id, configuration_id):
        """The group as its tags describe it (no values, no count): one Heat call."""
        return _from_stack(self._owned(project_id, configuration_id))

    def get(self, project_id, configuration_id):
        stack = self._owned(project_id, configuration_id)
        return _from_stack(stack, values=records.configuration.values_of(stack),
                           instance_count=len(self._all_instances(project_id, configuration_id)))

    def instances(self, project_id, configuration_id, limit, marker=None):
        """A page of the project's instances that have the group attached."""
        self._owned(project_id, configuration_id)
        return records.stack.page(self.gateway, records.instance.with_configuration(project_id, configuration_id),
                                  limit, marker, _instance_ref)

    def defaults_of(self, project_id, instance_id):
        """GET /instances/{id}/configuration: what Trove calls the instance's default
        configuration, the settings its config file starts from for its flavor (no group's
        values; ``None`` is a bare flag), and its port. One stack read."""
        instance = records.instance.TAGS.decode(
            records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS).get("tags"))
        datastore = datastores.get(instance.datastore)
        settings = datastore.base_settings(datastores.find_flavor(instance.flavor_id))
        return {"port": datastore.port, **{name: "" if value is None else value for name, value in settings.items()}}

    def spec_for(self, project_id, reference, datastore, version):
        """The ConfigurationSpec attaching group ``reference`` (an id or a link) gives an
        instance of ``datastore`` ``version``; 404 when there is no such group, 400 when it
        is another datastore's or version's."""
        configuration_id = str(reference).rstrip("/").rsplit("/", 1)[-1]
        stack = self._owned(project_id, configuration_id)
        group = records.configuration.TAGS.decode(stack.get("tags"))
        if (group.datastore, group.version) != (datastore, version):
            raise errors.BadRequest(
                f"configuration: group '{configuration_id}' is for {group.datastore} {group.version}; "
                f"the instance is {datastore} {version}.")
        return ConfigurationSpec(stack["id"], records.configuration.values_of(stack))

    def update(self, project_id, configuration_id, body, merge):
        """PATCH (merge=True) adds or changes values; PUT replaces them (and name and
        description when given). Then the instances using the group get the new values."""
        def attempt():
            stack = self._owned(project_id, configuration_id)
            if stack.get("stack_status") not in records.stack.CHANGEABLE:
                raise busy(f"Configuration group '{configuration_id}' is being changed; try again.")
            group = records.configuration.TAGS.decode(stack.get("tags"))
            datastore, _ = catalog.requested_datastore({"type": group.datastore, "version": group.version},
                                                       "datastore: ")
            given = datastore.validate_configuration(group.version, body.get("values") or {})
            values = {**records.configuration.values_of(stack), **given} if merge else given
            group = replace(group, name=body.get("name", group.name),
                            description=body.get("description", group.description))
            users = self._all_instances(project_id, configuration_id)
            for instance in users:  # all free first, so the group never runs ahead of them
                self._free(instance.id)
            rendered = self.renderer.render_configuration(group.datastore, group.version, values)
            rendered = records.stack.as_update(rendered, stack)
            try:
                self.gateway.update_stack(stack["id"], rendered, records.configuration.TAGS.encode(group))
            except errors.Conflict as exc:
                raise busy(exc.message) from None
            return ConfigurationSpec(stack["id"], values), users
        configuration, users = wait_until_free(self.settings.change_wait, attempt)
        self._reapply(project_id, configuration, users)

    def delete(self, project_id, configuration_id):
        self._owned(project_id, configuration_id)
        if self.gateway.list_stacks(tags=records.instance.with_configuration(project_id, configuration_id), limit=1):
            raise errors.BadRequest(
                f"Configuration group '{configuration_id}' is attached to instances; detach it from "
                f"them first (GET .../configurations/{configuration_id}/instances lists them).")
        self.gateway.delete_stack(configuration_id)
        # A group is a stack with nothing in it: Heat deletes it in moments. The answer
        # waits for that, so the group is gone (404, out of the list) once it comes, as
        # Trove's is.
        until_stack(self.gateway, configuration_id, lambda stack: stack is None or status.is_gone(
            stack.get("stack_status")), DELETE_WAIT)

    def _reapply(self, project_id, configuration, users):
        """Each instance in turn, answered once each has the values (service/changes.py);
        one whose server failed to take them does not stop the others."""
        missed, failed = [], []
        for instance in users:
            try:
                self.changes.apply(project_id, instance.id, lambda current: _reattach(current, configuration))
            except errors.NotFound:
                pass  # deleted, or the group detached, meanwhile: nothing to apply
            except errors.Conflict:
                missed.append(instance.id)
            except errors.ServiceUnavailable as exc:
                failed.append(exc.message)
        if failed:
            raise errors.ServiceUnavailable(f"Configuration group '{configuration.id}' was changed, but "
                                            + " ".join(failed))
        if missed:
            raise errors.Conflict(
                f"Configuration group '{configuration.id}' was changed, but instances {', '.join(missed)} "
                "were busy and keep its previous values: attach the group to them again "
                "(PUT /instances/{id}) to apply them.")

    def _free(self, instance_id):
        if records.stack.busy(self.gateway.get_stack(instance_id, resolve_outputs=False)):
            raise busy(f"Instance '{instance_id}', which uses this configuration group, is busy; try again.")

    def _all_instances(self, project_id, configuration_id):
        found, marker = [], None
        while True:
            stacks = self.gateway.list_stacks(tags=records.instance.with_configuration(project_id, configuration_id),
                                              limit=ALL_PAGE, marker=marker)
            found += [_instance_ref(s) for s in stacks
                      if not status.is_gone(s.get("stack_status"))]
            if len(stacks) < ALL_PAGE:
                return found
            marker = stacks[-1]["id"]

    def _owned(self, project_id, configuration_id):
        return records.stack.owned(self.gateway, project_id, configuration_id, records.configuration.TAGS,
                                   what="Configuration group")


def _reattach(current, configuration):
    if current.spec.configuration is None or current.spec.configuration.id != configuration.id:
        raise errors.NotFound(f"Instance '{current.id}' no longer has configuration group "
                              f"'{configuration.id}' attached.")
    return configuration_change(current, configuration)




def _instance_ref(stack):
    return InstanceRef(stack["id"], records.instance.TAGS.decode(stack.get("tags")).name)


def _from_stack(stack, **fields):
    group = records.configuration.TAGS.decode(stack.get("tags"))
    created = stack.get("creation_time") or ""
    return _group(stack["id"], group, created, stack.get("updated_time") or created, **fields)


def _group(stack_id, group, created, updated, **fields):
    return Group(id=stack_id, name=group.name, description=group.description, datastore=group.datastore,
                 version=group.version, created=created, updated=updated, **fields)
