"""heat-dbaas: a stateless Trove-compatible DBaaS whose records are Heat stacks.

Keep this module free of imports: the Heat plugins import ``dbaas_api.datastores``
inside the engine process, which must not pull in Flask.
"""
