"""Who may do what: oslo.policy rules with their defaults here, overridable in the policy file
(``Settings.policy_file``, the packaged ``etc/policy.yaml`` by default, which lists every rule
commented out). The same rules apply in both profiles; a no-auth caller has the member role.

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
# For handlers that name no rule of their own: reads need reader, changes need member.
DEFAULT_READ, DEFAULT_WRITE = "dbaas:default:read", "dbaas:default:write"


def _rule(name, check, method, path, description):
    return policy.DocumentedRuleDefault(
        name, check, description, [{"method": method, "path": f"/v1.0/{{project_id}}{path}"}])


RULES = BASE_RULES + (
    _rule(DEFAULT_READ, "rule:project_reader", "GET", "/...", "Any read without a rule of its own."),
    _rule(DEFAULT_WRITE, "rule:project_member", "POST", "/...", "Any change without a rule of its own."),
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
    _rule("dbaas:mgmt:instance:list", "rule:admin", "GET", "/mgmt/instances",
          "List every project's instances, with their owners."),
    _rule("dbaas:mgmt:instance:show", "rule:admin", "GET", "/mgmt/instances/{instance_id}",
          "Show any project's instance, with its owner."),
    _rule("dbaas:mgmt:instance:action", "rule:admin", "POST", "/mgmt/instances/{instance_id}/action",
          "Reboot or reset the task status of any project's instance."),
    _rule("dbaas:mgmt:datastore_version:list", "rule:admin", "GET", "/mgmt/datastore-versions",
          "List and show datastore versions with their management fields."),
    _rule("dbaas:mgmt:datastore_version", "rule:admin", "POST", "/mgmt/datastore-versions",
          "Create, change or delete datastore versions (501: they are the service's own data)."),
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
