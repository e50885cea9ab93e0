"""Our errors as Heat's: the one translation every plugin uses (as Heat's own plugins use
``client_plugin.ignore_not_found``). A DBaaSError's message becomes the resource's reason,
which the API shows as the instance's fault."""
import contextlib

from heat.common import exception

from dbaas_api.errors import DBaaSError


@contextlib.contextmanager
def resource_in_error():
    """The block's DBaaSError as ResourceInError: the resource failed, and Heat may retry it."""
    try:
        yield
    except DBaaSError as exc:
        raise exception.ResourceInError(resource_status="ERROR", status_reason=exc.message) from exc


@contextlib.contextmanager
def validation_failed():
    """The block's DBaaSError as StackValidationFailed: the template or its properties are wrong."""
    try:
        yield
    except DBaaSError as exc:
        raise exception.StackValidationFailed(message=exc.message) from exc
