"""The component runtime: a component is a class of callbacks plus its settings type; the runtime
owns the process (docs/architecture.md "Writing a component")::

    class Counter(Component):
        name = "counter"                  # its default key under components: in the config
        Settings = CounterSettings        # its settings block (a cosim.config.Strict struct), or None
        subscribe = (p.TOPIC_POSE,)       # bus topics it receives in on_message

        def on_tick(self, tick): self.frames += 1
        def on_message(self, ev): self.poses += 1
        def sections(self): return {"counter": {"frames": self.frames, "poses": self.poses}}

    if __name__ == "__main__":
        sys.exit(run(Counter))

``run`` parses ``--config FILE [--name NAME] [--out DIR]``, sets up logging, parent death, timer
slack and real-time priority, validates the component's settings, calls ``setup`` (work before
joining: loading files, starting SUMO), joins the session (HELLO/WELCOME, clock probes, READY),
then runs the event loop: ``on_tick`` for every tick (the runtime ACKs it, with the present and
photon times ``on_tick`` returns), ``on_message`` for bus data, ``on_session`` for START, STATUS
and CLIENT broadcasts, ``on_due`` when ``next_due_ns`` says so, ``on_idle`` after every pass, and
``on_end`` once. Signals end the loop cleanly. ``close`` and the summary sections (``sections``)
always run, after errors too. Mode, rate, pace and epoch come from WELCOME only (``ctx.session``,
``ctx.frames``), never from the config file: a component that joins from another machine behaves
the same.
"""
from __future__ import annotations

import logging
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, NamedTuple, Sequence

import msgspec
import numpy as np

from cosim import protocol as p
from cosim.config import Endpoints, NetworkSettings, joined, read_config, resolve_endpoints, settings_for
from cosim.curve import ClientKeys, client_keys
from cosim.errors import CosimError
from cosim.framegc import FrameGc
from cosim.frameclock import FrameClock
from cosim.node import DataEvent, EndEvent, Event, Node, SessionEvent, TickEvent
from cosim.process import command_line, install_stop_handlers, start_process, write_sections
from cosim.timing import realtime_priority, spin_until

log = logging.getLogger("cosim.runtime")

MAX_WAIT_NS = 20_000_000  # while waiting for a due time, serve the node at least this often


class SetupInterrupted(CosimError):
    """A stop signal arrived while the component was setting up."""


class Presented(NamedTuple):
    """What ``on_tick`` may return: when the frame was presented and its photons left the display
    (session ns); the runtime puts them in the tick's ACK."""
    present_ns: int | None
    photon_ns: int | None


@dataclass
class Context:
    """What a component knows of its process and session."""

    name: str
    settings: Any
    endpoints: Endpoints
    network: NetworkSettings
    out: Path | None
    required: bool
    config_path: Path
    curve: ClientKeys | None = None
    node: Node | None = None
    error: str | None = None  # why the component failed (also logged); include it in your sections
    frame_gc: FrameGc | None = None  # the between-frames collector, for a component with frame_gc
    _pending: deque[Event] = field(default_factory=deque)

    @property
    def session(self) -> p.Welcome:
        """The session as WELCOME described it (mode, rate_hz, pace, duration_s, ...)."""
        if self.node is None or self.node.welcome is None:
            raise RuntimeError("the session is known only after joining (on_join and later)")
        return self.node.welcome

    @property
    def frames(self) -> FrameClock:
        """The frame clock (cosim.frameclock): the one definition of frame k's times."""
        if self.node is None or self.node.frames is None:
            raise RuntimeError("the frame clock is known only after joining (on_join and later)")
        return self.node.frames

    def session_ns(self) -> int:
        """Now in session time; before joining, this host's monotonic clock (offset and epoch 0)."""
        return self.node.session_ns() if self.node is not None else time.monotonic_ns()

    def publish(self, topic: bytes | str, msg: p.Message, arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Put ``msg`` (a cosim.protocol message) on the bus; ``arrays``: name -> numpy array, the
        raw payload of messages that carry arrays. ``src`` is filled in."""
        assert self.node is not None
        self.node.publish(topic.encode() if isinstance(topic, str) else topic, msg, arrays)

    def keep_alive(self) -> None:
        """Serve the session (heartbeats, probes) from inside a callback that blocks for long: what
        arrives meanwhile is queued and handed to the callbacks afterwards, in order."""
        assert self.node is not None
        self._pending.extend(self.node.poll(0))

    def stop(self, reason: str) -> None:
        """End the event loop after the current callback (``on_end`` follows)."""
        if self.node is not None:
            self.node.request_stop(reason)

    def output_path(self, value: str) -> Path:
        """A file this component writes: relative paths land in the session folder (else the working
        directory), like session.mcap and audio.wav."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.out or Path.cwd()) / path


class Component:
    """Subclass it, set the class attributes, override the callbacks you need."""

    name: ClassVar[str] = "component"
    description: ClassVar[str] = ""
    Settings: ClassVar[type | None] = None
    role: ClassVar[str] = "component"
    # Instance attributes may override these in __init__ or setup (from the settings).
    subscribe: Sequence[bytes] = ()  # bus topics (prefixes) handed to on_message
    publishes: bool = False  # publishes on the bus (ctx.publish)
    direct: Sequence[bytes] = ()  # topics also offered as direct streams (docs/protocol.md)
    ack_ticks: bool = True  # the runtime ACKs every tick after on_tick
    frame_gc: bool = False  # collect Python garbage between frames only (cosim.framegc)
    poll_ms: int = 100  # longest wait for events when nothing is due
    spin_ns: int = 0  # busy-wait the last stretch before a due time
    linger_s: float = 0.0  # keep handing out bus data this long after END

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    def setup(self) -> None:
        """Work before joining (load files, start a simulator); raise a CosimError to fail."""

    def on_join(self, session: p.Welcome) -> None:
        """WELCOME arrived: mode, rate and pace are known (``self.ctx.frames``); READY follows."""

    def on_tick(self, tick: TickEvent) -> Presented | None:
        """One tick; the runtime ACKs it afterwards, with the times returned, if any."""
        return None

    def after_ack(self, tick: TickEvent) -> None:
        """After the tick's ACK went out: work that must not delay it in lockstep (reports)."""

    def on_message(self, ev: DataEvent) -> None:
        """One bus message of a subscribed topic."""

    def on_session(self, ev: SessionEvent) -> None:
        """START, STATUS or CLIENT broadcast."""

    def next_due_ns(self) -> int | None:
        """Session time of the next ``on_due`` call, or None for none."""
        return None

    def on_due(self, now_ns: int) -> None:
        """The time from ``next_due_ns`` has come (``now_ns``: session time now)."""

    def on_idle(self) -> None:
        """After every pass of the event loop (at least every ``poll_ms``)."""

    def on_end(self, ev: EndEvent) -> None:
        """The session ended (``ev.frames`` is None when a signal ended this process)."""

    def close(self) -> None:
        """Release what setup took; runs after errors too."""

    def sections(self) -> dict[str, Any]:
        """Summary sections this component owns, merged into summary.json; runs after errors too."""
        return {}


def topics(values: Sequence[bytes | str], what: str) -> list[bytes]:
    """Topics as the sockets take them (bytes); a str is encoded as UTF-8."""
    out = []
    for t in values:
        if isinstance(t, str):
            t = t.encode()
        if not isinstance(t, bytes):
            raise TypeError(f"{what}: a topic is bytes (e.g. protocol.TOPIC_VEHICLES) or str, got {t!r}")
        out.append(t)
    return out


def _prog(cls: type[Component]) -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    module = spec.name if spec is not None else cls.__module__
    return module.removesuffix(".__main__")


def run(cls: type[Component], argv: Sequence[str] | None = None) -> int:
    """Run ``cls`` as this process's component; returns the exit status (0 ok, 1 failed in the
    session, 2 could not start: bad config or setup)."""
    args = command_line(_prog(cls), cls.description or (cls.__doc__ or "").strip(), cls.name, argv, join=True)
    start_process(args.name, args.log_level)
    out = Path(args.out) if args.out else None
    try:
        cfg = read_config(args.config)
        spec = cfg.components.get(args.name)
        if spec is not None:
            settings = settings_for(cfg, args.name, cls.Settings)
        else:
            log.info("%s is not under components: in %s; running with default settings", args.name, args.config)
            settings = msgspec.convert({}, cls.Settings) if cls.Settings is not None else None
        if args.join:
            cfg = msgspec.structs.replace(cfg, network=joined(cfg.network, args.join))
        endpoints = resolve_endpoints(cfg.network)
    except CosimError as exc:
        log.error("%s", exc)
        write_sections(out, args.name, {})
        return 2
    if spec is not None:  # before any zmq context exists, so its threads inherit the policy
        realtime_priority(spec.rt_priority, "its wake-ups may wait behind other processes' time slices")
    try:
        curve = client_keys(cfg.network)
    except CosimError as exc:
        log.error("%s", exc)
        write_sections(out, args.name, {})
        return 2
    ctx = Context(name=args.name, settings=settings, endpoints=endpoints, network=cfg.network, out=out,
                  required=bool(spec and spec.required), config_path=Path(args.config), curve=curve)
    return Runtime(cls(ctx)).run()


class Runtime:
    """Drives one component through its lifecycle (``run``)."""

    def __init__(self, component: Component) -> None:
        self.c = component
        self.ctx = component.ctx
        self.gc = FrameGc()
        self._serve_by = 0
        self._closed = False
        self._in_setup = False
        self.stop_reason: str | None = None
        if component.frame_gc:
            self.ctx.frame_gc = self.gc

    def run(self) -> int:
        c, ctx = self.c, self.ctx
        status = 0
        install_stop_handlers(self._on_signal)  # before setup: a stop during it still closes and reports
        try:
            self._in_setup = True
            try:
                c.setup()
                subscribe, direct = topics(c.subscribe, "subscribe"), topics(c.direct, "direct")
            finally:
                self._in_setup = False
            if self.stop_reason is None:
                status = self._session(subscribe, direct if ctx.network.direct_streams else ())
        except SetupInterrupted as exc:
            log.info("%s", exc)
        except Exception as exc:  # noqa: BLE001  a component's own bug too: its sections still get written
            self._fail(exc)
            status = 2 if ctx.node is None else 1
        finally:
            status = self._close(status)
        try:
            sections = c.sections()
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            sections, status = {}, status or 1
        write_sections(ctx.out, ctx.name, sections)
        return status

    def _on_signal(self, name: str) -> None:
        self.stop_reason = f"stopped ({name})"
        if self.ctx.node is not None:
            self.ctx.node.request_stop(name)
        elif self._in_setup:  # setup may take long (starting jackd, training): do not wait for it
            raise SetupInterrupted(f"stopped ({name}) during setup, before joining the session")

    def _session(self, subscribe: list[bytes], direct: Sequence[bytes]) -> int:
        c, ctx = self.c, self.ctx
        status = 0
        with Node(ctx.name, ctx.endpoints, role=c.role, required=ctx.required, data_topics=subscribe,
                  publish=c.publishes, direct_topics=direct, curve=ctx.curve) as node:
            ctx.node = node
            if self.stop_reason:
                node.request_stop(self.stop_reason)
            try:
                c.on_join(node.connect())
                if c.frame_gc:
                    self.gc.start()
                node.ready()
                self._loop()
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)
                status = 1
            finally:
                self.gc.stop()
                status = self._close(status)  # while the node is up: a component may publish its last
        return status

    def _fail(self, exc: BaseException | str) -> None:
        """Record why the component failed: a CosimError's message as it is; anything else (a bug)
        with its type and a traceback in the log."""
        if isinstance(exc, CosimError) or isinstance(exc, str):
            log.error("%s", exc)
            text = str(exc)
        else:
            log.exception("%s failed", self.ctx.name)
            text = f"{type(exc).__name__}: {exc}"
        self.ctx.error = self.ctx.error or text

    def _close(self, status: int) -> int:
        """``close()``, exactly once, whatever happened before."""
        if self._closed:
            return status
        self._closed = True
        try:
            self.c.close()
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return status or 1
        return status or (1 if self.ctx.error else 0)

    # --- the event loop -------------------------------------------------------------------

    def _loop(self) -> None:
        node, c, pending = self.ctx.node, self.c, self.ctx._pending
        assert node is not None
        while True:
            if node.stop_reason and not pending:
                c.on_end(EndEvent(node.stop_reason))
                return
            if not pending:
                due = c.next_due_ns() if node.epoch_ns is not None else None
                if due is None:
                    pending.extend(node.poll(c.poll_ms))
                elif self._wait_until(due):
                    c.on_due(node.session_ns())
            while pending:
                ev = pending.popleft()
                if isinstance(ev, EndEvent):
                    if ev.master_lost:
                        self._fail(ev.reason)
                    c.on_end(ev)
                    self._linger(pending)
                    return
                self._dispatch(ev)
            c.on_idle()

    def _dispatch(self, ev: Event) -> None:
        c = self.c
        if isinstance(ev, TickEvent):
            presented = c.on_tick(ev)
            if c.ack_ticks:
                assert self.ctx.node is not None
                self.ctx.node.ack(ev, *(presented or (None, None)))
            c.after_ack(ev)
            if self.gc.active and not self.ctx._pending:
                self.gc.between_frames()
        elif isinstance(ev, DataEvent):
            c.on_message(ev)
        elif isinstance(ev, SessionEvent):
            c.on_session(ev)

    def _wait_until(self, due_ns: int) -> bool:
        """Wait on the node's sockets with a microsecond timeout (a control reply wakes us at once,
        which keeps clock probes accurate), then spin the last ``spin_ns``; True when ``due_ns`` has
        come with nothing to hand out first. The node is served when something arrived or
        MAX_WAIT_NS after it last was (heartbeats and probes), not after every timed-out wait: at
        1 kHz that is a socket poll per due time saved."""
        node, pending = self.ctx.node, self.ctx._pending
        assert node is not None
        spin = self.c.spin_ns
        while (rest := due_ns - spin - node.session_ns()) > 0:
            arrived = node.wait(min(rest, MAX_WAIT_NS))
            if node.stop_reason or arrived or node.clock.now_ns() >= self._serve_by:
                self._serve_by = node.clock.now_ns() + MAX_WAIT_NS
                pending.extend(node.poll(0))
                if pending or node.stop_reason:
                    return False
        if spin:
            spin_until(due_ns, node.session_ns)
        return not node.stop_reason

    def _linger(self, pending: deque[Event]) -> None:
        """After END: what came in the same batch, then for ``linger_s`` what is still on its way
        (bus data and session broadcasts, such as the CLIENT left events of the others' BYEs)."""
        node = self.ctx.node
        assert node is not None
        until = time.monotonic() + self.c.linger_s
        while True:
            for ev in pending:
                if isinstance(ev, DataEvent):
                    self.c.on_message(ev)
                elif isinstance(ev, SessionEvent):
                    self.c.on_session(ev)
            pending.clear()
            self.c.on_idle()
            if time.monotonic() >= until or node.stop_reason:
                return
            pending.extend(node.poll(20))
