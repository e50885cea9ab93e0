"""What the benchmarks share: their embedded stack, their common arguments, and waiting for
a condition, polled as a client would."""
import argparse
import contextlib
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbaas_api.waiting import TimedOut, poll_until  # noqa: E402
from tests.harness import Stack  # noqa: E402


@contextlib.contextmanager
def embedded_stack(**settings):
    """An embedded stack (tests/harness.py) up for the block and destroyed after it, also
    when the bench is ended by a SIGTERM (a timeout's): every process and file it made goes."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    stack = Stack(**settings)
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()


def arguments(doc, runs, datastores="postgresql,mariadb,redis"):
    """A parser with the arguments of a benchmark run per datastore: --runs, --datastores."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--datastores", default=datastores)
    return parser


def until(check, timeout=60, pause=0.01, tolerate=False):
    """check()'s first truthy result, asked every ``pause`` seconds for up to ``timeout``
    (waiting.poll_until). With ``tolerate``, an exception counts as "not yet" (a server still
    starting refuses connections) until the time is up, when the last one is raised."""
    try:
        return poll_until(check, timeout=timeout, interval=pause, retry=Exception if tolerate else ())
    except TimedOut as exc:
        if isinstance(exc.last, Exception):
            raise exc.last from None
        raise TimeoutError("gave up waiting") from None


def median_ms(call, repeat=20):
    """The median of ``repeat`` calls' durations, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
