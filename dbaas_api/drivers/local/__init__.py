"""The local driver: datastore servers as private local processes (the embedded default).

Each instance lives in ``<state>/instances/<key>/``:

    owner.json     who it belongs to (the stack); written before anything is spawned, so a
                   crash never leaves a process or directory that nothing can trace
    instance.json  datastore, version, address, port, flavor (no secrets)
    <conf files>   the datastore's config, written by us, read by the server (no secrets)
    <override file> an attached configuration's values, included by the config (no secrets)
    <access file>  the networks clients may connect from, as the server's own rules
    logs.json      the USER logs that are on, and the ones the running server started with
    <log settings file> their settings, as the server's config includes them (no secrets)
    pid            the server's pid while it runs
    data/          the server's own files, 0700, owned by the datastore's system user
    server.log     the server's stdout/stderr and the output of its initialisation

Each instance gets its own loopback address 127.0.X.Y (X >= 1; 127.0.0.x is the host's own
services) and listens on its datastore's standard port there, as a cloud instance would on its
own IP. Servers run in their own session, as the datastore's system user when we are root, so
they outlive the process that started them and are found again through the pid file. Before
any signal the pid is checked against /proc/<pid>/cmdline (pids get reused).

What differs between datastores (commands, config, readiness) is asked of the datastore
module; nothing here names one. No password is written to disk, passed in argv, logged, or
put in an error message.

The package: lifecycle.py (LocalDriver: create, start, stop, resize, destroy; ServerSpec, what
a new server is), layout.py (the state dir, records, server files, addresses), processes.py
(spawning and stopping servers, setup commands, waiting for readiness), replication.py and
clusters.py (role steps), steps.py (a long step in a process of its own, for the plugins) and
step_main.py (what that process runs).
"""
from dbaas_api.drivers.local.layout import check_placement
from dbaas_api.drivers.local.lifecycle import LocalDriver, LocalInstance, ServerSpec

__all__ = ["LocalDriver", "LocalInstance", "ServerSpec", "check_placement"]
