"""Sim time of a frame's content time through pause, resume, seek and speed changes."""
from __future__ import annotations

from bridges.sumo.simclock import SimClock

S = 1_000_000_000


def test_speed_changes_keep_the_past_and_scale_the_future():
    c = SimClock(start_ns=60 * S)
    assert c.sim_at(10 * S) == 70 * S
    c.set_speed(10 * S, 2.0)
    assert c.sim_at(10 * S) == 70 * S and c.sim_at(15 * S) == 80 * S  # twice as fast from 10 s on
    assert c.session_at(80 * S) == 15 * S
    c.pause(15 * S)
    c.set_speed(16 * S, 0.5)  # while paused: the new speed applies once resumed
    assert c.sim_at(20 * S) == 80 * S
    c.resume(20 * S)
    assert c.sim_at(24 * S) == 82 * S
    c.seek(25 * S, 200 * S)
    assert c.sim_at(27 * S) == 201 * S
