"""Emulated hosts on one Linux kernel: each host is a network namespace with its own address on a
private switch, its own host name (UTS namespace) and its own CLOCK_MONOTONIC (a time namespace set
ahead by a known offset). Needs root (or CAP_SYS_ADMIN) and ``ip``/``unshare`` (iproute2,
util-linux); ``unavailable()`` says why not where they are missing.

    with EmulatedHosts({"sim": 3600, "vr": 5 * 3600}) as rig:
        proc = rig.popen("vr", [sys.executable, "-m", "client", ...])

The switch is a namespace of its own holding a bridge at ``SWITCH_IP`` (where ``bench.relay``
runs to add delay and jitter); host ``i`` (in the order given) has address ``10.77.0.(10+i)``.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

SUBNET = "10.77.0"
SWITCH_IP = f"{SUBNET}.1"


def unavailable() -> str | None:
    """Why emulated hosts cannot be made here, or None."""
    if not sys.platform.startswith("linux"):
        return "network and time namespaces are Linux only"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool!r} is not installed (iproute2 / util-linux)"
    if not Path("/proc/self/timens_offsets").exists():
        return "this kernel has no time namespaces (Linux 5.6+ with CONFIG_TIME_NS)"
    probe = subprocess.run(["unshare", "--net", "--time", "--monotonic", "1", "--fork", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make network and time namespaces here: {probe.stderr.strip() or probe.returncode}"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class EmulatedHosts:
    """``hosts``: name -> monotonic offset in whole seconds (the host's clock is that far ahead)."""

    def __init__(self, hosts: Mapping[str, int]) -> None:
        self.offsets = dict(hosts)
        tag = f"cosim{os.getpid()}"
        self.switch = f"{tag}sw"
        self.ns = {name: f"{tag}h{i}" for i, name in enumerate(self.offsets)}
        self.ip = {name: f"{SUBNET}.{10 + i}" for i, name in enumerate(self.offsets)}
        self.procs: list[subprocess.Popen] = []
        self._made: list[str] = []

    def __enter__(self) -> EmulatedHosts:
        try:
            self._make()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _make(self) -> None:
        _ip("netns", "add", self.switch)
        self._made.append(self.switch)
        _ip("-n", self.switch, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "addr", "add", f"{SWITCH_IP}/24", "dev", "br0")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for i, (name, ns) in enumerate(self.ns.items()):
            _ip("netns", "add", ns)
            self._made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", self.switch, "link", "add", f"port{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", self.switch, "link", "set", f"port{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.ip[name]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on ``host``: its network, its host name, its monotonic clock."""
        if host == "switch":
            return ["ip", "netns", "exec", self.switch, *argv]
        return ["ip", "netns", "exec", self.ns[host], "unshare", "--uts", "--time", "--monotonic",
                str(self.offsets[host]), "--fork", "--kill-child=SIGTERM",
                "sh", "-c", 'hostname "$0" && exec "$@"', host, *argv]

    def popen(self, host: str, argv: Sequence[str], **kw) -> subprocess.Popen:
        """Start ``argv`` on ``host`` in a process group of its own (``close`` stops it)."""
        proc = subprocess.Popen(self.command(host, argv), start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._made = []
