"""The suite server's side: a trusted pytest that has collected one suite forks a run per request.

A conformance run spends about a quarter of a second starting pytest and collecting the
suite before its first test, the same work for every solution of a challenge. A suite server
is a trusted pytest (forked from the fork server, `llmbench.phases.forkserver`) started with
``--llmbench-serve``: it configures and collects the suite once, without a solution, and then,
where the session would run its tests, waits for runs. Each run is a fresh child forked from
it, with its own session, log and address-space cap; the child takes the run's options (the
solution, its adapter, the records file, the limits, which tests), keeps the tests that run
selects and goes on as a plain run would: it starts its own sandboxed worker, runs the tests,
writes its records and exits. No solution ever runs in a suite server, nor in any process a
run shares with another.
"""
from __future__ import annotations

import gc
import os

from ..phases.forkserver import SUITE_SERVER_ENV, Forker, become_child


def serving() -> bool:
    """Whether this process was started as a suite server (by the fork server)."""
    return SUITE_SERVER_ENV in os.environ


def serve_runs() -> dict:
    """Announce the server ready and fork a child per run request.

    Returns:
        The run's request, in the forked child (already in its own session, writing to its
        own log). Never returns in the server: it exits when its request pipe closes.
    """
    sid, request_fd, reply_fd = (int(part) for part in os.environ.pop(SUITE_SERVER_ENV).split(","))
    # The collected suite stays as it is in every run: out of the collector's sight, so that a
    # run's collections neither walk it nor copy its pages (copy-on-write).
    gc.collect()
    gc.freeze()
    forker = Forker(request_fd, reply_fd)
    forker.send({"id": sid, "serving": True})
    while True:
        ready = forker.wait()
        forker.reap()
        if request_fd not in ready:
            continue
        requests = forker.requests()
        if requests is None:
            os._exit(0)  # the fork server closed: its runs are in their own sessions, the harness's
        for request in requests:
            if forker.fork(request) == 0:
                try:
                    become_child(request, forker.own_fds)
                except BaseException:  # noqa: BLE001 - nothing of it may reach the server's loop
                    os._exit(70)
                return request
