"""The client library: a process's membership of a session (see cosim.node.node.Node)."""
from cosim.node.direct import direct_bind_endpoint, is_local_endpoint
from cosim.node.events import DataEvent, EndEvent, Event, NodeStats, SessionEvent, TickEvent
from cosim.node.node import BUS_PROBE_PREFIX, Node

__all__ = ["BUS_PROBE_PREFIX", "DataEvent", "EndEvent", "Event", "Node", "NodeStats", "SessionEvent", "TickEvent",
           "direct_bind_endpoint", "is_local_endpoint"]
