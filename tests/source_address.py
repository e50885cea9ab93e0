"""Connecting to a server FROM a chosen loopback address, for the access tests.

All of 127.0.0.0/8 is this host's, so a client socket may bind any of them as its source:
a server then sees a client "from 127.0.9.1" exactly as it would see one from another
machine. libpq (psycopg2) cannot choose its source address, so ``relay`` listens on
127.0.0.1 and carries each connection it accepts to the server from the chosen source: the
server sees only that source, and the client speaks its own protocol through the relay.
"""
import contextlib
import socket
import threading


@contextlib.contextmanager
def relay(source, host, port):
    """Yield (relay_host, relay_port): connections there reach host:port from ``source``."""
    listener = socket.create_server(("127.0.0.1", 0))
    sockets = [listener]
    threads = []

    def pipe(src, dst):
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket()
            upstream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            upstream.bind((source, 0))
            try:
                upstream.connect((host, port))
            except OSError:
                client.close()
                upstream.close()
                continue
            sockets.extend((client, upstream))
            for ends in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=pipe, args=ends, daemon=True)
                thread.start()
                threads.append(thread)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        acceptor.join(5)
        for thread in threads:
            thread.join(5)


@contextlib.contextmanager
def connected_from(source, datastore, host, port, user, password, database=None):
    """A client connection (psycopg2 or PyMySQL) as ``user``, from ``source``."""
    import psycopg2
    import pymysql
    with relay(source, host, port) as (relay_host, relay_port):
        if datastore == "postgresql":
            connection = psycopg2.connect(host=relay_host, port=relay_port, user=user, password=password,
                                          dbname=database or "postgres", connect_timeout=5)
            connection.autocommit = True
        else:
            connection = pymysql.connect(host=relay_host, port=relay_port, user=user, password=password.encode(),
                                         database=database, connect_timeout=5, autocommit=True)
        try:
            yield connection
        finally:
            connection.close()


def login_from(source, datastore, host, port, user, password):
    """Log in as ``user`` from ``source`` and run one query: (True, "") or (False, why)."""
    import psycopg2
    import pymysql
    try:
        with connected_from(source, datastore, host, port, user, password) as connection, \
                connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1, ""
    except (psycopg2.OperationalError, pymysql.err.OperationalError) as exc:
        return False, str(exc)
