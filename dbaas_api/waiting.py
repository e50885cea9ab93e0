"""Waiting for something to happen: the one helper for every deadline loop (as Trove's
``poll_until``). It never sleeps past the deadline, and the probe always runs at least once,
so a timeout of 0 is "look once"."""
import time


class TimedOut(Exception):
    """``poll_until`` ran out of time; ``last``: what the probe returned (or raised) last."""

    def __init__(self, last):
        super().__init__(str(last))
        self.last = last


def poll_until(probe, until=bool, timeout=10.0, interval=0.1, retry=()):
    """Call ``probe()`` every ``interval`` seconds until ``until(result)`` holds; that result.
    An exception of a type in ``retry`` counts as "not yet". When the next look would come
    after ``timeout`` seconds: TimedOut (raised from the last such exception, if it was one)."""
    deadline = time.monotonic() + max(timeout, 0)
    while True:
        try:
            result = probe()
        except retry as exc:
            if time.monotonic() + interval > deadline:
                raise TimedOut(exc) from exc
        else:
            if until(result):
                return result
            if time.monotonic() + interval > deadline:
                raise TimedOut(result)
        time.sleep(interval)
