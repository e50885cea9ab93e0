"""heat-dbaas's Heat resource plugins (DBaaS:: types).

Heat loads every module in this directory from ``plugin_dirs`` at engine start; each plugin
module ends with ``resource_mapping()``. ``dbaas plugin-dir`` prints DIRECTORY, the
``plugin_dirs`` entry for an operator's engines (docs/operators.md).
"""
from pathlib import Path

DIRECTORY = str(Path(__file__).resolve().parent)
