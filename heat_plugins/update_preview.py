"""Heat's update preview, made to say what the update itself will do.

The service asks Heat's preview before every update and refuses one that would replace a
resource (a new, empty server: heat_gateway.HeatGateway.update_stack). Stock Heat's
``StackUpdate.preview`` resolves the new definitions in the new, never-created stack, where
every ``get_attr`` and ``get_resource`` is empty; so it reports as replaced every resource
with a property fed by another resource (the server's admin password, every database's
host), although the update, which re-parses each new definition in the context of the
existing stack (``StackUpdate._update_in_place``), changes none of them. This makes the
preview re-parse the same way first, and so report what the update will do.

Loaded by every engine that loads the DBaaS plugins (plugin_dirs): the embedded one, the
production profile's and an operator's own.
"""
from heat.engine import update

_stock_preview = update.StackUpdate.preview


def _preview_as_the_update_sees_it(self):
    # As Stack.update does before it updates: the existing resources' data, for get_attr.
    self.existing_stack._update_all_resource_data(for_resources=True, for_outputs=False)
    for name, new in self.new_stack.resources.items():
        existing = self.existing_stack.resources.get(name)
        if existing is not None and type(existing) is type(new):
            # The preview's new stack is thrown away afterwards: its definitions may change.
            new.t = new.t.reparse(self.existing_stack.defn, self.new_stack.t)
    return _stock_preview(self)


if getattr(update.StackUpdate.preview, "__name__", "") != _preview_as_the_update_sees_it.__name__:
    update.StackUpdate.preview = _preview_as_the_update_sees_it


def resource_mapping():
    return {}
