"""DBaaS::SourceSecret: a replica's admin password, copied from its source instance's stack.

A replica's accounts are its source's (PostgreSQL and MariaDB replicate them; a Redis
replica authenticates to its source with the source's password), so the replica's stack
cannot make a password of its own as a single instance's does (OS::Heat::RandomString).
This resource copies the source's, inside the engine (heat_plugins/instance_stacks.py),
into its own encrypted resource data, as RandomString keeps its value: the password never
becomes a parameter, property, output or log line of the replica's stack, and the replica
keeps it when the source is gone (promoted replicas outlive their source).
"""
from heat.common.i18n import _
from heat.engine import attributes, properties, resource, support

from heat_plugins import instance_stacks
from heat_plugins.failures import resource_in_error


class SourceSecret(resource.Resource):
    """The admin password of another instance's stack, kept as this stack's own."""

    support_status = support.SupportStatus(version="27.0.0")

    PROPERTIES = (INSTANCE_ID,) = ("instance_id",)
    ATTRIBUTES = (VALUE,) = ("value",)

    properties_schema = {
        INSTANCE_ID: properties.Schema(
            properties.Schema.STRING,
            _("The instance stack whose admin password is copied (at create only; a later "
              "value changes nothing: the copy stays)."),
            required=True, update_allowed=True),
    }

    attributes_schema = {
        VALUE: attributes.Schema(_("The password (hidden from stack show's outputs: never output it)."),
                                 type=attributes.Schema.STRING, cache_mode=attributes.Schema.CACHE_NONE),
    }

    def handle_create(self):
        with resource_in_error():
            source = instance_stacks.endpoint(self.context, self.properties[self.INSTANCE_ID], running=False)
        self.data_set(self.VALUE, source.password, redact=True)
        self.resource_id_set(self.physical_resource_name())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        """The copy stays whatever the source is now."""

    def _resolve_attribute(self, name):
        if name == self.VALUE:
            return self.data().get(self.VALUE)

    def get_reference_id(self):
        return self.physical_resource_name()   # never the value (get_resource would show it)


def resource_mapping():
    return {"DBaaS::SourceSecret": SourceSecret}
