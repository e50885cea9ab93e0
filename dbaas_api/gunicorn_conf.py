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
