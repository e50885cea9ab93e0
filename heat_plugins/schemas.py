"""Property schemas that more than one DBaaS resource declares, each in one place."""
from heat.engine import constraints, properties

from dbaas_api import datastores


def datastore_type(description):
    """The datastore a resource works on: one of the registry's names, checked at validate."""
    return properties.Schema(properties.Schema.STRING, description, required=True,
                             constraints=[constraints.AllowedValues([ds.name for ds in datastores.all()])])
