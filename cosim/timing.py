"""Waiting for a deadline without burning the CPU that the other processes on the host need.

zmq's poll timeout is whole milliseconds, so a loop that polls until a sub-millisecond deadline either
oversleeps or degenerates into ``poll(0)`` busy-waiting. The syncserver (ticks) and the pose bridge
(samples) instead wait on their sockets' file descriptors with a microsecond timeout
(``wait_readable``: an arriving message, such as a clock probe, still wakes them at once) and spin
only the last ``spin_ns`` before the deadline.
"""
from __future__ import annotations

import ctypes
import logging
import os
import select
import sys
from typing import Callable, Sequence

import zmq

PR_SET_TIMERSLACK = 29
log = logging.getLogger("cosim.timing")


def reduce_timer_slack(slack_ns: int = 1_000) -> bool:
    """Linux groups a normal thread's timer wake-ups within 50 µs of slack; shrink it for this thread
    (and threads it starts) so sleeps and poll timeouts end when asked. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) == 0
    except OSError:
        return False


def wait_readable(sockets: Sequence[zmq.Socket], timeout_ns: int, fds: Sequence[int] | None = None) -> bool:
    """Wait until one of ``sockets`` has a message or ``timeout_ns`` passed; True if one has.
    ``fds``: the sockets' ZMQ_FD values, if the caller keeps them (they never change).

    A zmq socket's FD is edge-triggered: reading ZMQ_EVENTS first both answers "anything queued
    already?" and re-arms the FD, so a message arriving during ``select`` wakes it."""
    for sock in sockets:
        if sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            return True
    if timeout_ns <= 0:
        return False
    if fds is None:
        fds = [s.getsockopt(zmq.FD) for s in sockets]
    readable, _, _ = select.select(fds, [], [], timeout_ns * 1e-9)
    return bool(readable)


def spin_until(due_ns: int, now: Callable[[], int]) -> int:
    """Busy-wait the last stretch to ``due_ns`` on ``now``'s clock; returns the time it ended."""
    t = now()
    while t < due_ns:
        t = now()
    return t


def realtime_priority(priority: int, consequence: str) -> bool:
    """Run the calling thread, and the threads it starts afterwards, ``SCHED_FIFO`` at ``priority``
    (0 = leave it as it is). Not permitted (no CAP_SYS_NICE / rtprio limit): a warning that states
    ``consequence``, and False."""
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        log.warning("could not run at SCHED_FIFO %d (%s); %s", priority, exc, consequence)
        return False
    return True


def yield_to_own_threads() -> bool:
    """A spinning SCHED_FIFO thread blocks every thread of equal priority on its CPU, its own zmq I/O
    and proxy threads included: run the calling thread one priority step below the one it has, so
    that those (started before) preempt its spin. False if it was not SCHED_FIFO above 1."""
    if not hasattr(os, "sched_getscheduler") or os.sched_getscheduler(0) != os.SCHED_FIFO:
        return False
    priority = os.sched_getparam(0).sched_priority
    if priority <= 1:
        return False
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority - 1))
    return True
