"""The one error hierarchy. Every layer raises these; one Flask handler turns them into
Trove's error body ``{"<key>": {"code": N, "message": "..."}}``. No Flask imports here,
so the service layer, the datastores and the Heat plugins can raise them too.

Messages are shown to users: never put a password or other secret in one.
"""


class DBaaSError(Exception):
    code = 500
    key = "instanceFault"
    default_message = "The server could not complete the request."

    def __init__(self, message=None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message

    def body(self):
        return {self.key: {"code": self.code, "message": self.message}}


class TemplateFault(DBaaSError):
    """A template of the operator's (or ours) would do harm or cannot be used: the service's
    fault, never the caller's 400."""
    default_message = "The service's templates cannot carry out that request."


class BadRequest(DBaaSError):
    code, key, default_message = 400, "badRequest", "The request is not valid."


class Unauthorized(DBaaSError):
    code, key, default_message = 401, "unauthorized", "Authentication is required."


class Forbidden(DBaaSError):
    code, key, default_message = 403, "forbidden", "You are not allowed to do that."


class NotFound(DBaaSError):
    code, key, default_message = 404, "itemNotFound", "The resource could not be found."


class MethodNotAllowed(DBaaSError):
    code, key, default_message = 405, "badMethod", "That method is not allowed here."


class Conflict(DBaaSError):
    code, key, default_message = 409, "conflict", "The resource is busy or in the wrong state."


class UnsupportedMediaType(DBaaSError):
    code, key, default_message = 415, "badMediaType", "The body must be application/json."


class OverLimit(DBaaSError):
    """A quota would be exceeded (Trove's QuotaExceeded: 413 ``overLimit``)."""
    code, key, default_message = 413, "overLimit", "Quota exceeded."


class UnprocessableEntity(DBaaSError):
    code, key, default_message = 422, "unprocessableEntity", "The request cannot be processed."


class NotImplementedYet(DBaaSError):
    code, key, default_message = 501, "notImplemented", "That is not supported."


class ServiceUnavailable(DBaaSError):
    code, key, default_message = 503, "serviceUnavailable", "A backing service is unavailable."

