"""The session config's types, shared by every process: YAML in, validated typed settings out.

A process reads the session file with :func:`read_config` and its own ``components.<name>.settings``
block with :func:`settings_for` and the ``Settings`` type it declares; every error names the key and
quotes the value. The supervisor's whole-session validation (every component's block, found by
module name) lives in ``session.config``; see docs/architecture.md for the layers.
"""
from __future__ import annotations

import ipaddress
import math
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import yaml

from cosim.errors import ConfigError

T = TypeVar("T")

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
ComponentName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for config structs: unknown keys are errors, never silently ignored."""


class SessionSettings(Strict):
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "session"
    mode: Literal["realtime", "lockstep"] = "realtime"
    rate_hz: Annotated[float, msgspec.Meta(gt=0, le=10000)] = 90.0
    duration_s: Positive = 10.0
    pace: NonNegative = 1.0  # lockstep only: 1 = real time, 0 = as fast as the slowest client
    start_delay_s: NonNegative = 0.2
    ready_timeout_s: Positive = 60.0
    heartbeat_interval_s: Positive = 0.25
    heartbeat_timeout_s: Positive = 2.0
    probe_interval_s: Positive = 1.0
    probe_burst: Annotated[int, msgspec.Meta(ge=1, le=64)] = 16
    late_threshold_us: Positive = 1000.0
    spin_us: NonNegative = 1500.0
    rt_priority: Annotated[int, msgspec.Meta(ge=0, le=99)] = 0  # the syncserver process SCHED_FIFO; 0 = off
    on_crash: Literal["stop", "continue"] = "stop"
    status_interval_s: Positive = 0.5
    # lockstep: a required client that has not ACKed the awaited tick this long is dropped and reported
    ack_timeout_s: Positive = 5.0
    max_clients: Annotated[int, msgspec.Meta(ge=1, le=256)] = 64  # connected at once; more are refused
    # "kernel": emulated hosts on one kernel (tests/multihost): the true clock offset of each client is
    # read from its time namespace (/proc/PID/timens_offsets), and the summary gives the error against it
    clock_truth: Literal["none", "kernel"] = "none"
    # refuse: a HELLO under a name the config does not list is refused, naming the ones it does (a
    # misnamed Unreal plugin learns it at once); the project's tools (roles sync-check, marker) still join
    unknown_clients: Literal["allow", "refuse"] = "allow"


class NetworkSettings(Strict):
    host: str = "127.0.0.1"
    base_port: Annotated[int, msgspec.Meta(ge=0, le=65531)] = 5550  # 0 = pick free ports
    allow_remote: bool = False
    control: str | None = None
    ticks: str | None = None
    bus_in: str | None = None
    bus_out: str | None = None
    direct_streams: bool = True  # producers of high-rate topics (poses) offer them off the bus proxy too
    # CURVE encryption and authentication on every socket (docs/security.md); always on with allow_remote
    curve: bool = False
    secrets: str | None = None  # the secrets folder with the keys (default ~/.config/cosim/secrets)
    curve_client: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "client"  # this host's key pair

    @property
    def uses_curve(self) -> bool:
        return self.curve or self.allow_remote


class ComponentSpec(Strict):
    module: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]
    enabled: bool = True
    required: bool = False  # lockstep waits for its ACK of every tick
    wait_ready: bool = True  # the session starts only after its READY
    rt_priority: Annotated[int, msgspec.Meta(ge=0, le=99)] = 0  # SCHED_FIFO for the whole process; 0 = off
    # false: started elsewhere (the Unreal plugin, a process on another PC); the runner does not start
    # it, but the session still waits for its READY (wait_ready) and, if required, its lockstep ACKs
    launch: bool = True
    settings: dict[str, Any] = {}


StudyText = Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")]


class StudySettings(Strict):
    """Who and what a session was, for the study: in the folder name, the summary and the recording."""

    participant: StudyText = ""
    condition: StudyText = ""
    trial: Annotated[int, msgspec.Meta(ge=0)] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=4096)] = ""

    def tag(self) -> str:
        """``P07-A-t3`` from what is set ("" when nothing is)."""
        parts = [self.participant, self.condition, "" if self.trial is None else f"t{self.trial}"]
        return "-".join(x for x in parts if x)


class ParticipantSettings(Strict):
    """Where the participant is in the traffic: the rig's calibration from tracking space (OpenVR:
    +X right, +Y up, -Z forward, metres) onto the SUMO net (X east, Y north, metres), and the
    thresholds of the safety measures (docs/safety.md)."""

    device: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] = "hmd"  # the pose that is the participant
    origin_m: tuple[float, float] = (0.0, 0.0)  # the net point under the tracking origin
    yaw_deg: float = 0.0  # the compass direction tracking-forward (-Z) points to, clockwise from north
    scale: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    near_miss_ttc_s: Annotated[float, msgspec.Meta(gt=0)] = 1.5
    near_miss_distance_m: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    body_radius_m: Annotated[float, msgspec.Meta(ge=0)] = 0.3

    def follows(self, pose_device: str, pose_class: str) -> bool:
        """A pose of this device (by name or device class) is the participant's."""
        return self.device in (pose_device, pose_class)

    def to_net(self, x: Any, z: Any) -> tuple[Any, Any]:
        """Tracking-space ground coordinates (x right, z back) to net metres (east, north)."""
        right, forward = x, -z
        yaw = math.radians(self.yaw_deg)
        east = self.origin_m[0] + self.scale * (right * math.cos(yaw) + forward * math.sin(yaw))
        north = self.origin_m[1] + self.scale * (-right * math.sin(yaw) + forward * math.cos(yaw))
        return east, north


class Config(Strict):
    session: SessionSettings = msgspec.field(default_factory=SessionSettings)
    study: StudySettings = msgspec.field(default_factory=StudySettings)
    participant: ParticipantSettings | None = None  # absent: nobody placed in the traffic, no safety measures
    network: NetworkSettings = msgspec.field(default_factory=NetworkSettings)
    components: dict[ComponentName, ComponentSpec] = {}

    def enabled(self) -> dict[str, ComponentSpec]:
        return {name: spec for name, spec in self.components.items() if spec.enabled}

    def launched(self) -> dict[str, ComponentSpec]:
        """The enabled components that the runner starts itself."""
        return {name: spec for name, spec in self.enabled().items() if spec.launch}


class Endpoints(msgspec.Struct, frozen=True):
    control: str
    ticks: str
    bus_in: str
    bus_out: str


_PATH_RE = re.compile(r"at `\$((?:\.[^.`\[]+|\[\d+\])*)`")


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    node = raw
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        key, index = part
        try:
            node = node[key] if key else node[int(index)]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, node


def convert(raw: Any, typ: type[T], where: str = "") -> T:
    """``msgspec.convert`` with an error that names the key (dotted path) and quotes the value."""
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH_RE.search(text)
        path = match.group(1) if match else ""
        key = (where + path).lstrip(".") or "<top level>"
        reason = _PATH_RE.sub("", text).rstrip(" -")
        found, value = _lookup(raw, path)
        if "unknown field" in reason:
            unknown = re.search(r"`([^`]+)`", reason)
            name = unknown.group(1) if unknown else "?"
            raise ConfigError(f"{key}: unknown key {name!r} ({reason})") from None
        shown = f" (got {value!r})" if found else ""
        raise ConfigError(f"{key}: {reason}{shown}") from None


def _check_loopback(cfg: NetworkSettings, endpoint: str, key: str) -> None:
    if endpoint.startswith(("ipc://", "inproc://")):
        return
    m = re.fullmatch(r"tcp://(\[[^\]]+\]|[^:]+):(\d+|\*)", endpoint)
    if not m:
        raise ConfigError(f"network.{key}: not a tcp://HOST:PORT, ipc:// or inproc:// endpoint (got {endpoint!r})")
    host = m.group(1).strip("[]")
    if host == "localhost":
        return
    if host == "*" and not cfg.allow_remote:
        raise ConfigError(f"network.{key}: binding to all interfaces needs network.allow_remote: true (got {endpoint!r})")
    if host != "*":
        try:
            loop = ipaddress.ip_address(host).is_loopback
        except ValueError:
            raise ConfigError(f"network.{key}: host must be an IP address or localhost (got {host!r})") from None
        if not loop and not cfg.allow_remote:
            raise ConfigError(f"network.{key}: {host} is not a loopback address; "
                              f"set network.allow_remote: true to bind it (got {endpoint!r})")


def free_ports(host: str, n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


_ENDPOINT_KEYS = ("control", "ticks", "bus_in", "bus_out")


def _endpoints(net: NetworkSettings, ports: list[int]) -> dict[str, str]:
    host = f"[{net.host}]" if ":" in net.host else net.host
    eps = {key: getattr(net, key) or f"tcp://{host}:{port}" for key, port in zip(_ENDPOINT_KEYS, ports)}
    for key, endpoint in eps.items():
        _check_loopback(net, endpoint, key)
    return eps


def check_network(net: NetworkSettings) -> None:
    """Validate host and endpoints without picking (binding) free ports."""
    _endpoints(net, [net.base_port + i for i in range(4)])


def resolve_endpoints(net: NetworkSettings) -> Endpoints:
    """Fill the four endpoints from host/base_port (0 = free ports) and check them."""
    ports = free_ports(net.host, 4) if net.base_port == 0 else [net.base_port + i for i in range(4)]
    return Endpoints(**_endpoints(net, ports))


def joined(net: NetworkSettings, where: str) -> NetworkSettings:
    """``--join HOST[:PORT]``: the network settings of a component that joins a syncserver on another
    host; PORT is the control port (the next three are ticks, bus in and bus out, as ``base_port``)."""
    m = re.fullmatch(r"(\[[^\]]+\]|[^:\[\]]+)(?::(\d{1,5}))?", where)
    if not m or (m.group(2) and not 0 < int(m.group(2)) <= 65531):
        raise ConfigError(f"--join: expected HOST or HOST:PORT with PORT 1-65531 (got {where!r})")
    port = int(m.group(2)) if m.group(2) else (net.base_port or 5550)
    out = msgspec.structs.replace(net, host=m.group(1).strip("[]"), base_port=port,
                                  control=None, ticks=None, bus_in=None, bus_out=None)
    try:
        check_network(out)
    except ConfigError as exc:
        raise ConfigError(f"--join {where}: {exc}") from None
    return out


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text: {exc}") from None


def to_builtins(cfg: Config) -> dict[str, Any]:
    return msgspec.to_builtins(cfg)


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_builtins(cfg), sort_keys=False)


def read_config(path: str | Path | None = None, raw: Any = None) -> Config:
    """Read and validate a session config's shared parts (session, network, the component entries
    without their settings blocks): what any process needs to join, or the runner to start them."""
    if raw is None:
        raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"config must be a mapping at the top level (got {type(raw).__name__})")
    components = raw.get("components")
    if isinstance(components, dict):  # one by one: msgspec names a dict entry only as `[...]`
        for name, spec in components.items():
            convert(spec, ComponentSpec, where=f"components.{name}")
    cfg = convert(raw, Config)
    check_network(cfg.network)
    if cfg.session.heartbeat_timeout_s <= cfg.session.heartbeat_interval_s:
        raise ConfigError(f"session.heartbeat_timeout_s must exceed heartbeat_interval_s "
                          f"(got {cfg.session.heartbeat_timeout_s} <= {cfg.session.heartbeat_interval_s})")
    if cfg.session.status_interval_s > cfg.session.heartbeat_timeout_s:
        raise ConfigError(f"session.status_interval_s must not exceed heartbeat_timeout_s: clients take a "
                          f"syncserver silent for two heartbeat timeouts for gone (got "
                          f"{cfg.session.status_interval_s} > {cfg.session.heartbeat_timeout_s})")
    return cfg


def settings_for(cfg: Config, name: str, typ: type[T] | None) -> T | None:
    """``components.<name>.settings`` validated by ``typ`` (a component's ``Settings`` struct); a
    missing block gives ``typ``'s defaults, and a component without a type takes no settings."""
    spec = cfg.components.get(name)
    if spec is None:
        raise ConfigError(f"components.{name}: no such component in the config "
                          f"(have: {', '.join(sorted(cfg.components)) or 'none'})")
    if typ is None:
        if spec.settings:
            raise ConfigError(f"components.{name}.settings: module {spec.module!r} takes no settings")
        return None
    return convert(spec.settings, typ, where=f"components.{name}.settings")
