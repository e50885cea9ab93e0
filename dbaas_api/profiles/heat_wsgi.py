"""Heat's own WSGI application (``heat.wsgi.api:application``, what ``heat-wsgi-api`` serves),
for gunicorn. Heat parses ``sys.argv`` for its options when the module is imported, and under
gunicorn that is gunicorn's command line: this sets it to Heat's config files
(``DBAAS_HEAT_CONFIG_FILES``, ``:``-separated) first. Nothing else of Heat is changed.

    gunicorn dbaas_api.profiles.heat_wsgi:application
"""
import os
import sys

sys.argv = ["heat-api"] + [arg for path in os.environ["DBAAS_HEAT_CONFIG_FILES"].split(":")
                           for arg in ("--config-file", path)]

from heat.wsgi.api import application  # noqa: E402,F401
