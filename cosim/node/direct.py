"""Direct streams (docs/protocol.md "Direct streams"): a producer offers a topic on a PUB socket of
its own as well as on the bus; a subscriber of exactly that topic on the same host takes it from
there instead of through the bus proxy: one hop and three thread wake-ups less per message.

:func:`offer` is the producer's side. :class:`DirectInputs` is the consumer's: it connects to
offers, leaves the bus for a topic only once the first message has arrived directly (an offer that
never delivers costs nothing, and nothing is lost while switching), drops the copies that cross
both paths while switching, and goes back to the bus when the offer is withdrawn.
"""
from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import re
from collections import OrderedDict
from typing import Callable, Sequence

import zmq

from cosim import protocol as p

log = logging.getLogger(__name__)

SWITCH_DEDUP_NS = 2_000_000_000  # after taking a topic direct, drop copies that also came over the bus
DEDUP_HEADERS = 4096
IPC_PATH_LIMIT = 107  # sun_path minus its NUL
_direct_paths = itertools.count(1)


def is_local_endpoint(endpoint: str) -> bool:
    """ipc://, or tcp:// on a loopback address: an endpoint that means the same on every process of
    this host (a direct stream is taken only from such an endpoint of a producer on our host)."""
    if endpoint.startswith("ipc://"):
        return True
    m = re.fullmatch(r"tcp://(\[([^\]]+)\]|[^:]+):\d+", endpoint)
    if m is None:
        return False
    host = m.group(2) or m.group(1)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def direct_bind_endpoint(bus_in: str) -> str | None:
    """Where a producer whose bus input is ``bus_in`` binds its direct streams: an ephemeral port on
    the same loopback address, or an ipc path beside the bus's; None for a bus that is not local
    (not loopback, or inproc://, which is cheap already), or an ipc path that would be too long."""
    if bus_in.startswith("ipc://"):
        folder = os.path.dirname(bus_in[len("ipc://"):]) or "."
        path = f"{folder}/direct-{os.getpid()}-{next(_direct_paths)}"
        return f"ipc://{path}" if len(path.encode()) <= IPC_PATH_LIMIT else None
    if not is_local_endpoint(bus_in):
        return None
    return bus_in.rsplit(":", 1)[0] + ":*"


def check_topics(topics: Sequence[bytes]) -> None:
    if len(set(topics)) > p.MAX_DIRECT_STREAMS or any(len(t.decode()) > p.NAME_LIMIT for t in topics):
        raise ValueError(f"direct_topics: at most {p.MAX_DIRECT_STREAMS} topics of at most {p.NAME_LIMIT} "
                         f"characters (got {sorted(topics)!r})")


def offer(ctx: zmq.Context, name: str, bus_in: str, topics: Sequence[bytes],
          host: str) -> tuple[zmq.Socket | None, list[p.DirectStream]]:
    """Bind a PUB socket for ``topics`` beside the bus; the socket and the offers for HELLO, or
    (None, []) where a direct stream cannot be offered (the topics then travel the bus only)."""
    endpoint = direct_bind_endpoint(bus_in)
    listed = b", ".join(topics).decode()
    if endpoint is None:
        log.info("%s: direct streams are offered only beside a loopback or ipc bus (not %s), so %s "
                 "travel through the bus proxy", name, bus_in, listed)
        return None, []
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 1000)
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        log.warning("%s: cannot bind a direct stream at %s (%s); %s travel through the bus proxy",
                    name, endpoint, exc, listed)
        return None, []
    bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    return sock, [p.DirectStream(topic=t.decode(), endpoint=bound, host=host) for t in topics]


class DirectInputs:
    """The consumer's side. ``bus_sub`` is the node's bus subscription (the fallback path);
    ``add_input`` registers the direct SUB socket with the node's poller when it is first made."""

    def __init__(self, ctx: zmq.Context, name: str, host: str, bus_sub: zmq.Socket | None, bus_out: str,
                 data_topics: Sequence[bytes], own_offers: Sequence[p.DirectStream],
                 add_input: Callable[[zmq.Socket], None], now_ns: Callable[[], int]) -> None:
        self._ctx = ctx
        self.name = name
        self.host = host
        self.bus_sub = bus_sub
        self.bus_out = bus_out
        self._data_topics = frozenset(data_topics)
        self._own = list(own_offers)
        self._add_input = add_input
        self._now_ns = now_ns
        self.sub: zmq.Socket | None = None  # made when the first offer is taken
        self.duplicates = 0
        self._taken: dict[str, set[bytes]] = {}  # endpoint -> topics taken from it
        self.bus_held: set[bytes] = set()  # taken direct, still on the bus until the first direct message
        self._dedup_until = 0
        self._dedup_topics: set[bytes] = set()  # held topics, and those that switched within SWITCH_DEDUP_NS
        self._seen: OrderedDict[bytes, bool] = OrderedDict()  # their recent headers

    def takes(self, stream: p.DirectStream) -> bool:
        """An offer is taken for a topic this node subscribes to exactly (and through no shorter
        prefix, which would keep it coming over the bus as well), from a producer on this host, at a
        local endpoint that is not our own."""
        topic = stream.topic.encode()
        return (self.bus_sub is not None and topic in self._data_topics
                and not any(t != topic and topic.startswith(t) for t in self._data_topics)
                and stream.host == self.host and all(stream.endpoint != d.endpoint for d in self._own)
                and is_local_endpoint(stream.endpoint) and is_local_endpoint(self.bus_out))

    def taken(self) -> dict[str, list[str]]:
        """Topic -> the producer endpoints it is taken from directly (for reports and tests)."""
        out: dict[str, list[str]] = {}
        for endpoint, topics in self._taken.items():
            for t in topics:
                out.setdefault(t.decode(), []).append(endpoint)
        return out

    def _taken_from_any(self, topic: bytes) -> bool:
        return any(topic in topics for topics in self._taken.values())

    def on_offer(self, streams: Sequence[p.DirectStream]) -> None:
        """Connect to an offer and subscribe there; the bus subscription stays until the first
        message arrives directly (``on_message``)."""
        for d in streams:
            topic = d.topic.encode()
            if not self.takes(d) or topic in self._taken.get(d.endpoint, ()):
                continue
            if self.sub is None:
                self.sub = self._ctx.socket(zmq.SUB)
                self.sub.setsockopt(zmq.LINGER, 0)
                self._add_input(self.sub)
            if d.endpoint not in self._taken:
                try:
                    self.sub.connect(d.endpoint)
                except zmq.ZMQError as exc:
                    log.warning("%s: ignored the direct offer of %s at %r: %s", self.name, d.topic, d.endpoint, exc)
                    continue
                self._taken[d.endpoint] = set()
            if not self._taken_from_any(topic):
                self.sub.setsockopt(zmq.SUBSCRIBE, topic)
                self.bus_held.add(topic)
                self._dedup_topics.add(topic)
            self._taken[d.endpoint].add(topic)
            log.info("%s: taking %s directly from %s", self.name, d.topic, d.endpoint)

    def on_gone(self, streams: Sequence[p.DirectStream]) -> None:
        for d in streams:
            topic = d.topic.encode()
            topics = self._taken.get(d.endpoint)
            if topics is None or topic not in topics or self.sub is None or self.bus_sub is None:
                continue
            topics.discard(topic)
            if not topics:
                del self._taken[d.endpoint]
                try:
                    self.sub.disconnect(d.endpoint)
                except zmq.ZMQError:
                    pass
            if not self._taken_from_any(topic):
                self.sub.setsockopt(zmq.UNSUBSCRIBE, topic)
                if topic in self.bus_held:  # never switched: the bus subscription is still there
                    self.bus_held.discard(topic)
                else:
                    self.bus_sub.setsockopt(zmq.SUBSCRIBE, topic)
                    self.switched(topic)
            log.info("%s: %s from %s has gone; back to the bus", self.name, d.topic, d.endpoint)

    @property
    def switching(self) -> bool:
        """A topic is held on both paths or switched lately: messages go through ``on_message``."""
        return bool(self._dedup_topics)

    def on_message(self, topic: bytes, header: bytes | None, direct: bool, recv_local: int) -> bool:
        """Account for one message of ``topic`` (``header`` its header bytes); False for a copy
        already handed out over the other path."""
        if direct and topic in self.bus_held:
            self._first_direct(topic)
        return header is None or not self._duplicate(topic, header, recv_local)

    def _first_direct(self, topic: bytes) -> None:
        """The direct path delivers: leave the bus for this topic (copies still in flight on the
        bus are dropped by ``_duplicate``, or by the SUB's own filter once the unsubscribe is in)."""
        self.bus_held.discard(topic)
        assert self.bus_sub is not None
        self.bus_sub.setsockopt(zmq.UNSUBSCRIBE, topic)
        self.switched(topic)

    def switched(self, topic: bytes) -> None:
        self._dedup_topics.add(topic)
        self._dedup_until = self._now_ns() + SWITCH_DEDUP_NS

    def _duplicate(self, topic: bytes, header: bytes, recv_local: int) -> bool:
        """While a topic is on both paths, a message can arrive twice: keep the first copy (the
        header bytes, which carry the source and publish time, identify it)."""
        if self._dedup_until and recv_local > self._dedup_until:
            self._dedup_until = 0
            self._dedup_topics = set(self.bus_held)
            if not self._dedup_topics:
                self._seen.clear()
        if topic not in self._dedup_topics:
            return False
        if header in self._seen:
            self.duplicates += 1
            return True
        self._seen[header] = True
        if len(self._seen) > DEDUP_HEADERS:
            self._seen.popitem(last=False)
        return False

    def close(self) -> None:
        if self.sub is not None:
            self.sub.close()
