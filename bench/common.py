"""What the benchmarks share: waiting for a condition, polled as a client would."""
import time


def until(check, timeout=60, pause=0.01, tolerate=False):
    """check()'s first truthy result, asked every ``pause`` seconds for up to ``timeout``.
    With ``tolerate``, an exception counts as "not yet" (a server still starting refuses
    connections) until the time is up, when the last one is raised."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception:
            if not tolerate or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(pause)
