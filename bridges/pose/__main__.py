"""``python -m bridges.pose --config FILE --name pose``: head/controller poses on the master clock.

Sources: OpenVR live (SteamVR), a recorded trace, or synthetic motion; any of them can be recorded
to a trace. Writes the ``pose`` summary section. See docs/pose.md.
"""
import sys

from bridges.pose.bridge import PoseBridge
from cosim.runtime import run

if __name__ == "__main__":
    sys.exit(run(PoseBridge))
