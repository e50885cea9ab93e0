"""Who may do what: oslo.policy rules with their defaults here, overridable in the policy file
(``Settings.policy_file``, the packaged ``etc/policy.yaml`` by default, which lists every rule
commented out). The same rules apply in both profiles; a no-auth caller has the member role.

Every API call has a named rule of its own (``dbaas:<resource>:<action>``), so an operator can
restrict one call (root enable, backup delete...) without touching the others. The calls
without a stricter default take ``rule:dbaas:default:read`` (GET) or ``dbaas:default:write``,
so a policy file that changes those two changes every such call at once.

Defaults follow OpenStack's secure RBAC personas: a project's ``reader`` may look, its
``member`` may also change, ``admin`` may also use the management endpoints that see every
project. Keystone's bootstrap roles imply each other (admin > member > reader), so an admin
token carries all three.
"""
from oslo_config import cfg
from oslo_policy import policy

from dbaas_api import errors

BASE_RULES = (
    policy.RuleDefault("admin", "role:admin", description="A cloud administrator."),
    policy.RuleDefault("project_reader", "role:reader and project_id:%(project_id)s",
                       description="May look at the project's resources."),
    policy.RuleDefault("project_member", "role:member and project_id:%(project_id)s",
                       description="May also create, change and delete them."),
)
# The default of the calls below that take it: reads need reader, changes member.
DEFAULT_READ, DEFAULT_WRITE = "dbaas:default:read", "dbaas:default:write"
# The instance actions (service/actions.py ACTIONS), each its own rule dbaas:instance:<action>.
INSTANCE_ACTIONS = ("restart", "resize", "reset_status", "promote_to_replica_source", "eject_replica_source")
UNKNOWN_ACTION = "dbaas:instance:action"


def _rule(name, check, method, path, description):
    return policy.DocumentedRuleDefault(
        name, check, description, [{"method": method, "path": f"/v1.0/{{project_id}}{path}"}])


def _read(name, path, description):
    return _rule(name, f"rule:{DEFAULT_READ}", "GET", path, description)


def _write(name, method, path, description):
    return _rule(name, f"rule:{DEFAULT_WRITE}", method, path, description)


def action_rule(action):
    """The rule of POST /instances/{id}/action with ``{action: ...}`` (one the API does not
    know: UNKNOWN_ACTION, and then a 400)."""
    return f"dbaas:instance:{action}" if action in INSTANCE_ACTIONS else UNKNOWN_ACTION


RULES = BASE_RULES + (
    _rule(DEFAULT_READ, "rule:project_reader", "GET", "/...", "The default of the reads below that take it."),
    _rule(DEFAULT_WRITE, "rule:project_member", "POST", "/...", "The default of the changes below that take it."),
    _rule("dbaas:datastore:list", "rule:project_reader", "GET", "/datastores", "List datastores."),
    _rule("dbaas:datastore:show", "rule:project_reader", "GET", "/datastores/{datastore}",
          "Show a datastore or its versions."),
    _rule("dbaas:flavor:list", "rule:project_reader", "GET", "/flavors", "List flavors."),
    _rule("dbaas:flavor:show", "rule:project_reader", "GET", "/flavors/{flavor_id}", "Show a flavor."),
    _rule("dbaas:volume_type:list", "rule:project_reader", "GET", "/volume-types", "List volume types."),
    _rule("dbaas:volume_type:show", "rule:project_reader", "GET", "/volume-types/{volume_type_id}",
          "Show a volume type."),
    _rule("dbaas:network:list", "rule:project_reader", "GET", "/networks", "List the networks instances may use."),
    _rule("dbaas:instance:list", "rule:project_reader", "GET", "/instances", "List the project's instances."),
    _rule("dbaas:instance:show", "rule:project_reader", "GET", "/instances/{instance_id}", "Show an instance."),
    _rule("dbaas:instance:create", "rule:project_member", "POST", "/instances", "Create an instance."),
    _rule("dbaas:instance:delete", "rule:project_member or rule:admin", "DELETE", "/instances/{instance_id}",
          "Delete an instance (an admin: any project's, as Trove's clean-up does)."),
    _rule("dbaas:instance:reset_status", "rule:project_member or rule:admin", "POST",
          "/instances/{instance_id}/action",
          "reset_status of an instance (an admin: any project's, before a forced delete)."),
    _rule("dbaas:instance:configuration", "rule:project_reader", "GET", "/instances/{instance_id}/configuration",
          "Show the settings an instance's configuration starts from."),
    _write("dbaas:instance:update", "PUT", "/instances/{instance_id}",
           "Rename an instance, attach or detach a configuration group, change its access, detach a replica "
           "(also PATCH)."),
    _write("dbaas:instance:restart", "POST", "/instances/{instance_id}/action", "restart an instance."),
    _write("dbaas:instance:resize", "POST", "/instances/{instance_id}/action",
           "resize an instance's flavor or volume."),
    _write("dbaas:instance:promote_to_replica_source", "POST", "/instances/{instance_id}/action",
           "promote_to_replica_source: a replica takes over from its source (switchover)."),
    _write("dbaas:instance:eject_replica_source", "POST", "/instances/{instance_id}/action",
           "eject_replica_source: the most advanced replica takes over from a dead source (failover)."),
    _write(UNKNOWN_ACTION, "POST", "/instances/{instance_id}/action",
           "An action body that names no known action (answered 400)."),
    _read("dbaas:database:list", "/instances/{instance_id}/databases", "List an instance's databases."),
    _write("dbaas:database:create", "POST", "/instances/{instance_id}/databases", "Create databases."),
    _write("dbaas:database:delete", "DELETE", "/instances/{instance_id}/databases/{database}",
           "Delete a database."),
    _read("dbaas:user:list", "/instances/{instance_id}/users", "List an instance's users."),
    _write("dbaas:user:create", "POST", "/instances/{instance_id}/users",
           "Create users (also POST /users/{user}, as openstacksdk sends it)."),
    _write("dbaas:user:change_password", "PUT", "/instances/{instance_id}/users", "Change users' passwords."),
    _read("dbaas:user:show", "/instances/{instance_id}/users/{user}", "Show a user."),
    _write("dbaas:user:update", "PUT", "/instances/{instance_id}/users/{user}",
           "Change a user's name, host or password."),
    _write("dbaas:user:delete", "DELETE", "/instances/{instance_id}/users/{user}", "Delete a user."),
    _read("dbaas:user:database:list", "/instances/{instance_id}/users/{user}/databases",
          "List the databases a user may use."),
    _write("dbaas:user:grant", "PUT", "/instances/{instance_id}/users/{user}/databases",
           "Grant a user databases."),
    _write("dbaas:user:revoke", "DELETE", "/instances/{instance_id}/users/{user}/databases/{database}",
           "Revoke a user's database."),
    _read("dbaas:root:show", "/instances/{instance_id}/root", "Whether root has been enabled."),
    _write("dbaas:root:create", "POST", "/instances/{instance_id}/root", "Enable root, with a new password."),
    _write("dbaas:root:delete", "DELETE", "/instances/{instance_id}/root", "Disable root."),
    _read("dbaas:configuration:list", "/configurations", "List the project's configuration groups."),
    _write("dbaas:configuration:create", "POST", "/configurations", "Create a configuration group."),
    _read("dbaas:configuration:show", "/configurations/{configuration_id}", "Show a configuration group."),
    _write("dbaas:configuration:update", "PUT", "/configurations/{configuration_id}",
           "Replace a group's values (and apply them to its instances)."),
    _write("dbaas:configuration:edit", "PATCH", "/configurations/{configuration_id}",
           "Merge values into a group (and apply them to its instances)."),
    _write("dbaas:configuration:delete", "DELETE", "/configurations/{configuration_id}",
           "Delete a configuration group."),
    _read("dbaas:configuration:instances", "/configurations/{configuration_id}/instances",
          "List the instances a group is attached to."),
    _read("dbaas:backup:list", "/backups", "List the project's backups."),
    _write("dbaas:backup:create", "POST", "/backups", "Back up an instance."),
    _read("dbaas:backup:show", "/backups/{backup_id}", "Show a backup."),
    _write("dbaas:backup:delete", "DELETE", "/backups/{backup_id}", "Delete a backup and its stored data."),
    _read("dbaas:instance:backup:list", "/instances/{instance_id}/backups", "List an instance's backups."),
    _read("dbaas:cluster:list", "/clusters", "List the project's clusters."),
    _write("dbaas:cluster:create", "POST", "/clusters", "Create a cluster."),
    _read("dbaas:cluster:show", "/clusters/{cluster_id}", "Show a cluster."),
    _write("dbaas:cluster:action", "POST", "/clusters/{cluster_id}", "Grow or shrink a cluster."),
    _write("dbaas:cluster:delete", "DELETE", "/clusters/{cluster_id}", "Delete a cluster."),
    _read("dbaas:cluster:instance:show", "/clusters/{cluster_id}/instances/{instance_id}",
          "Show a member of a cluster."),
    _rule("dbaas:mgmt:instance:list", "rule:admin", "GET", "/mgmt/instances",
          "List every project's instances, with their owners."),
    _rule("dbaas:mgmt:instance:show", "rule:admin", "GET", "/mgmt/instances/{instance_id}",
          "Show any project's instance, with its owner."),
    _rule("dbaas:mgmt:instance:action", "rule:admin", "POST", "/mgmt/instances/{instance_id}/action",
          "Reboot or reset the task status of any project's instance."),
    _rule("dbaas:mgmt:instance:root", "rule:admin", "GET", "/mgmt/instances/{instance_id}/root",
          "Show when root was first enabled on any project's instance, and by whom."),
    _rule("dbaas:mgmt:datastore_version:list", "rule:admin", "GET", "/mgmt/datastore-versions",
          "List every datastore version, inactive ones too, with its management fields."),
    _rule("dbaas:mgmt:datastore_version:show", "rule:admin", "GET", "/mgmt/datastore-versions/{version_id}",
          "Show a datastore version with its management fields."),
    _rule("dbaas:mgmt:datastore_version:create", "rule:admin", "POST", "/mgmt/datastore-versions",
          "Create a datastore version (a name, image and flags for a version number the service runs)."),
    _rule("dbaas:mgmt:datastore_version:update", "rule:admin", "PATCH", "/mgmt/datastore-versions/{version_id}",
          "Change a datastore version: active, default, name, image."),
    _rule("dbaas:mgmt:datastore_version:delete", "rule:admin", "DELETE", "/mgmt/datastore-versions/{version_id}",
          "Delete an operator's datastore version that no instance uses."),
    _rule("dbaas:mgmt:datastore_version:parameter:list", "rule:admin", "GET",
          "/mgmt/datastores/versions/{version_id}/parameters",
          "List (and show) the configuration parameters of a datastore version."),
    _rule("dbaas:mgmt:datastore_version:parameter:change", "rule:admin", "POST",
          "/mgmt/datastores/versions/{version_id}/parameters",
          "Create, change or delete a configuration parameter (501: the rules are the datastore's own data)."),
    _rule("dbaas:mgmt:datastore:delete", "rule:admin", "DELETE", "/datastores/{datastore}",
          "Delete a datastore (501: datastores are the service's own)."),
    _rule("dbaas:instance:log:list", "rule:project_reader", "GET", "/instances/{instance_id}/log",
          "List an instance's logs."),
    _rule("dbaas:instance:log:action", "rule:project_member", "POST", "/instances/{instance_id}/log",
          "Show, publish or discard an instance's log."),
    _rule("dbaas:instance:ssl", "rule:project_member", "POST", "/instances/{instance_id}/ssl",
          "An instance's TLS certificate (not built: 501)."),
    _rule("dbaas:backup_strategy:create", "rule:project_member", "POST", "/backup_strategies",
          "Say where the project's (or one instance's) backups go."),
    _rule("dbaas:backup_strategy:list", "rule:project_reader", "GET", "/backup_strategies",
          "List the project's backup strategies."),
    _rule("dbaas:backup_strategy:delete", "rule:project_member", "DELETE", "/backup_strategies",
          "Delete a backup strategy."),
    _rule("dbaas:backup_strategy:other_project", "rule:admin", "GET", "/backup_strategies?project_id=...",
          "List or delete another project's backup strategies."),
    _rule("dbaas:limits:list", "rule:project_reader", "GET", "/limits", "Show the project's limits."),
    _rule("dbaas:mgmt:quota:show", "rule:admin", "GET", "/mgmt/quotas/{project}",
          "Show a project's quota usage and limits."),
    _rule("dbaas:mgmt:quota:update", "rule:admin", "PUT", "/mgmt/quotas/{project}", "Set a project's limits."),
)


class Policy:
    def __init__(self, policy_file):
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[], default_config_dirs=[])
        self._enforcer = policy.Enforcer(conf, policy_file=str(policy_file))
        self._enforcer.register_defaults(RULES)

    def allows(self, rule, credentials, project_id):
        """Whether ``credentials`` may do ``rule`` on ``project_id``'s resources."""
        return bool(self._enforcer.authorize(rule, {"project_id": project_id}, credentials))

    def enforce(self, rule, credentials, project_id):
        """Raise errors.Forbidden unless ``credentials`` (project_id, user_id, roles) allow
        ``rule`` on ``project_id``'s resources."""
        if not self._enforcer.authorize(rule, {"project_id": project_id}, credentials):
            raise errors.Forbidden(f"Policy does not allow {rule} to be performed.")


def sample():
    """etc/policy.yaml: every rule with its default, commented out."""
    lines = ["# heat-dbaas policy. Uncomment a rule to change it; the defaults are in",
             "# dbaas_api/policy.py. Point DBAAS_POLICY_FILE at your own copy to use it.", ""]
    for rule in RULES:
        lines.append(f"# {rule.description}")
        for operation in getattr(rule, "operations", ()):
            lines.append(f"# {operation['method']}  {operation['path']}")
        lines.extend([f'#"{rule.name}": "{rule.check_str}"', ""])
    return "\n".join(lines)
