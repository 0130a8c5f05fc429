"""SUMO bridge: drives SUMO (libsumo, traci) or replays an FCD trace on the master clock and
publishes smoothly interpolated vehicle tables and timestamped events every frame. See docs/sumo.md."""
