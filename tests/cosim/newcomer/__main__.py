"""python -m tests.cosim.newcomer --config FILE --name newcomer: vehicle tables per tick."""
import sys

from cosim import protocol as p
from cosim.config import Strict
from cosim.runtime import Component, run


class Settings(Strict):           # components.newcomer.settings
    every: int = 1                # publish the event every N-th tick


class Newcomer(Component):
    name = "newcomer"
    Settings = Settings
    subscribe = (b"sumo.vehicles",)
    publishes = True

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ticks = self.tables = self.max_vehicles = self.events = 0

    def on_tick(self, ev):        # frame data is stamped with TICK k's frame and t_ns
        self.ticks += 1
        if self.ticks % max(1, self.settings.every) == 0:
            self.ctx.publish(b"events", p.Event(kind="newcomer_tick", frame=ev.frame, t_ns=ev.tick.t_ns), [])
            self.events += 1

    def on_message(self, ev):
        if isinstance(ev.msg, p.Vehicles):
            self.tables += 1
            self.max_vehicles = max(self.max_vehicles, len(ev.arrays["handle"]))

    def sections(self):
        return {"newcomer": {"ticks": self.ticks, "tables": self.tables,
                             "max_vehicles": self.max_vehicles, "events_published": self.events}}


if __name__ == "__main__":
    sys.exit(run(Newcomer))
