"""gunicorn settings for the API; the API is stateless, so more workers is more capacity."""
import os

bind = f"{os.environ.get('DBAAS_API_HOST', '127.0.0.1')}:{os.environ.get('DBAAS_API_PORT', '8779')}"
workers = int(os.environ.get("DBAAS_API_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("DBAAS_API_THREADS", "8"))
timeout = 120
accesslog = "-"
umask = 0o077   # what gunicorn itself writes (its workers' heartbeat files)
# The access log records method, path and status, never bodies (which carry passwords).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
proc_name = "dbaas-api"

# What gunicorn refuses itself, before the app sees it (a request line over its 4094-byte
# limit: a 10,000-character id, say; a malformed request), it answers with an HTML page.
# Trove's clients read Trove's JSON error body, so the workers write that instead.
_ERROR_KEYS = {400: "badRequest", 403: "forbidden", 431: "badRequest", 501: "notImplemented"}


def _write_json_error(sock, status_int, reason, mesg):
    import json

    from gunicorn import util
    body = json.dumps({_ERROR_KEYS.get(status_int, "instanceFault"): {
        "code": status_int, "message": mesg or reason}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker):
    from gunicorn import util
    util.write_error = _write_json_error
