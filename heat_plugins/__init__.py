"""heat-dbaas's Heat resource plugins (DBaaS:: types).

Heat loads every module in this directory from ``plugin_dirs`` at engine start; each plugin
module ends with ``resource_mapping()``.
"""
