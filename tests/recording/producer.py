"""A test stand-in for the SUMO and pose bridges: ``python -m tests.recording.producer --config F --name N``.

Publishes, for every tick, a Vehicles table (with payload arrays), a Pose, and every 30th frame an
Event; and a VehicleIds table on the first tick, so replay tests have all the streams to compare.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from cosim import protocol as p
from cosim.node import TickEvent
from cosim.runtime import Component, run


def frame_messages(frame: int, t_ns: int) -> list[tuple[bytes, p.Message, dict[str, np.ndarray]]]:
    n = 3 + frame % 4
    ang = np.linspace(0, 2 * math.pi, n, endpoint=False) + frame * 0.01
    pos = np.stack([np.cos(ang) * 3000, np.sin(ang) * 3000, np.zeros(n)], axis=1).astype("<f4")
    out = [
        (p.TOPIC_VEHICLES, p.Vehicles(frame=frame, t_ns=t_ns, sim_ns=t_ns, ids_version=1),
         {"handle": np.arange(n, dtype="<u4"), "position_cm": pos,
          "yaw_deg": np.degrees(ang).astype("<f4"), "speed_cms": np.full(n, 1000.0, "<f4")}),
        (p.TOPIC_POSE, p.Pose(frame=frame, t_ns=t_ns, device="hmd", sample_ns=t_ns - 2_000_000,
                              position=(0.01 * frame, 1.7, 0.0), orientation=(1.0, 0.0, 0.0, 0.0)), {}),
    ]
    if frame == 0:  # the first tick: every subscriber's connection is up by now
        out.insert(0, (p.TOPIC_VEHICLE_IDS, p.VehicleIds(frame=frame, t_ns=t_ns, ids_version=1),
                       p.vehicle_ids_arrays(range(6), [f"veh{i}" for i in range(6)], ["car"] * 6)))
    if frame % 30 == 0:
        out.append((p.TOPIC_EVENTS, p.Event(frame=frame, t_ns=t_ns, kind="depart", subject=f"veh{frame}",
                                            data={"lane": frame % 3}), {}))
    return out


class Producer(Component):
    """test producer"""

    name = "producer"
    role = "bridge"
    publishes = True

    def on_tick(self, ev: TickEvent) -> None:
        for topic, msg, arrays in frame_messages(ev.frame, ev.tick.t_ns):
            self.ctx.publish(topic, msg, arrays)


if __name__ == "__main__":
    sys.exit(run(Producer))
