"""The run's start: the process's one command counts from the process start, every later run from its own."""

import time

from filot_preflight import clock


def test_the_mark_is_taken_once_then_each_run_starts_when_called():
    clock.mark(time.monotonic() - 30)
    first = clock.take()
    second = clock.take()
    now = time.monotonic()
    assert now - first >= 30  # the command's start, 30 s ago
    assert 0 <= now - second < 5  # a later run (a watch cycle) starts now, not at the process's start
