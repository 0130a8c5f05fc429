"""Runs one session: start every process, wait for READY, show live status, stop cleanly, report.

Children run in their own process groups (so a terminal Ctrl-C reaches only the supervisor, which
then ends the session in order) and die with the supervisor (PR_SET_PDEATHSIG), so nothing is left
behind even if the supervisor itself is killed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import msgspec
import zmq

from cosim.config import Config, dump_yaml, read_config, resolve_endpoints
from cosim.curve import client_keys
from session.summary import build_summary, deep_merge, format_summary, write_summary
from session.mark import messages
from session.terminal import KeyReader, LiveFigures, short_summary
from cosim import protocol as p
from cosim.errors import OutputError
from cosim.process import PARENT_ENV, REPO_ROOT, describe_os_error
from cosim.errors import ConfigError, ProtocolError

SERVER = "syncserver"


def exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Child:
    name: str
    module: str
    proc: subprocess.Popen
    log: IO[bytes]
    exit_code: int | None = None
    status: str = "running"
    signaled: bool = False  # the runner told it to stop (SIGTERM), not the session's END

    def poll(self) -> int | None:
        if self.exit_code is None:
            self.exit_code = self.proc.poll()
        return self.exit_code


@dataclass
class Outcome:
    session_dir: Path
    status: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def default_session_dir(cfg: Config) -> Path:
    """``sessions/<time>-<name>[-<participant>-<condition>-t<trial>]``."""
    tag = cfg.study.tag()
    return REPO_ROOT / "sessions" / f"{datetime.now():%Y%m%d-%H%M%S}-{cfg.session.name}{'-' + tag if tag else ''}"


MIN_FREE_BYTES = 64 * 1024 * 1024  # less free space than this at the start: refused


def prepare_session_dir(path: Path) -> Path:
    """Create the session folder; refused (ConfigError, before anything starts) when it is not
    empty, cannot be written, or its disk is nearly full."""
    if path.exists() and any(path.iterdir()):
        raise ConfigError(f"--out {str(path)!r} already exists and is not empty; choose a new folder")
    try:
        (path / "logs").mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"x")
        probe.unlink()
        free = shutil.disk_usage(path).free
    except OSError as exc:
        raise ConfigError(f"--out {str(path)!r}: cannot write the session folder: {describe_os_error(exc)}") from None
    if free < MIN_FREE_BYTES:
        raise ConfigError(f"--out {str(path)!r}: only {free / 2**20:.1f} MiB free on its disk; a session needs at "
                          f"least {MIN_FREE_BYTES / 2**20:.0f} MiB (recording, audio, logs)")
    return path


class Supervisor:
    def __init__(self, cfg: Config, session_dir: Path, *, quiet: bool = False, stream: IO[str] = sys.stdout,
                 grace_s: float = 10.0, verbose: bool = False, keys: IO[str] | None = None) -> None:
        eps = resolve_endpoints(cfg.network)  # fixes free ports once, for every child
        self.cfg = msgspec.structs.replace(cfg, network=msgspec.structs.replace(
            cfg.network, control=eps.control, ticks=eps.ticks, bus_in=eps.bus_in, bus_out=eps.bus_out))
        self.endpoints = eps
        self.dir = session_dir
        self.quiet = quiet
        self.out = stream
        self.grace_s = grace_s
        self.children: dict[str, Child] = {}
        self.interrupts = 0
        self.crashed: list[str] = []
        self.end_reason: str | None = None
        self.master_died: str | None = None
        self._tty = stream.isatty()
        self._next_line = 0.0
        self.verbose = verbose
        self.keys = keys if keys is not None and keys.isatty() else None  # the experimenter's keyboard
        self.live = LiveFigures()  # the newest STATUS and the figures of the status line
        self._total_frames = round(cfg.session.duration_s * cfg.session.rate_hz)
        self._expected = [n for n, spec in cfg.enabled().items() if spec.wait_ready]
        self.epoch_ns: int | None = None
        self.markers = 0
        self.paused = False

    # --- process management ---------------------------------------------------------------

    def _spawn(self, name: str, module: str, config_path: Path) -> None:
        log = open(self.dir / "logs" / f"{name}.log", "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{PARENT_ENV: str(os.getpid())})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        cmd = [sys.executable, "-m", module, "--config", str(config_path), "--name", name, "--out", str(self.dir)]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=REPO_ROOT, env=env, start_new_session=True)
        self.children[name] = Child(name, module, proc, log)

    def _signal_all(self, sig: int, names: list[str] | None = None) -> None:
        for child in self.children.values():
            if (names is None or child.name in names) and child.poll() is None:
                child.signaled = child.signaled or (sig != signal.SIGINT or child.name != SERVER)
                try:
                    os.killpg(child.proc.pid, sig)
                except ProcessLookupError:
                    pass

    def _wait_all(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(c.poll() is not None for c in self.children.values()):
                return True
            time.sleep(0.05)
        return all(c.poll() is not None for c in self.children.values())

    def _stop_everything(self) -> None:
        """Ask the server to end (it broadcasts END), then TERM, then KILL what is still running."""
        self._signal_all(signal.SIGINT, [SERVER])
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline and self.children[SERVER].poll() is None:
            time.sleep(0.05)
        if self.children[SERVER].poll() is None or self.children[SERVER].exit_code != 0:
            self._signal_all(signal.SIGTERM)  # no END was broadcast: tell the components directly
        if self._wait_all(max(0.5, deadline - time.monotonic())):
            return
        stuck = [c.name for c in self.children.values() if c.poll() is None]
        self._print(f"stopping {', '.join(stuck)} with SIGTERM")
        self._signal_all(signal.SIGTERM)
        if self._wait_all(5.0):
            return
        stuck = [c.name for c in self.children.values() if c.poll() is None]
        self._print(f"killing {', '.join(stuck)}")
        for c in self.children.values():
            if c.poll() is None:
                c.status = "killed"
        self._signal_all(signal.SIGKILL)
        self._wait_all(5.0)

    # --- the session ----------------------------------------------------------------------

    def run(self) -> Outcome:
        config_path = self.dir / "config.yaml"
        config_path.write_text(dump_yaml(self.cfg))
        started = time.monotonic()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

        def on_signal(signum: int, _frame: object) -> None:
            self.interrupts += 1
        for s in previous:
            signal.signal(s, on_signal)
        ctx = zmq.Context()
        keys = client_keys(self.cfg.network)
        monitor, bus, marks = ctx.socket(zmq.SUB), ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
        for sock in (monitor, bus, marks):
            if keys is not None:
                keys.apply(sock)
            sock.setsockopt(zmq.LINGER, 0)
        monitor.setsockopt(zmq.SUBSCRIBE, p.TOPIC_SESSION)
        monitor.connect(self.endpoints.ticks)
        for topic in LiveFigures.TOPICS:
            bus.setsockopt(zmq.SUBSCRIBE, topic)
        bus.setsockopt(zmq.RCVHWM, 100)  # the line needs the newest figures, not every frame
        bus.connect(self.endpoints.bus_out)
        marks.connect(self.endpoints.bus_in)
        keyboard = KeyReader(self.keys) if self.keys is not None and not self.quiet else None
        try:
            self._spawn(SERVER, SERVER, config_path)
            for name, spec in self.cfg.launched().items():
                self._spawn(name, spec.module, config_path)
            external = sorted(set(self.cfg.enabled()) - set(self.cfg.launched()))
            self._print(f"session {self.cfg.session.name}: {self.cfg.session.mode} at {self.cfg.session.rate_hz:g} Hz "
                        f"for {self.cfg.session.duration_s:g} s; components: "
                        f"{', '.join(self.cfg.launched()) or 'none'}; folder {self.dir}")
            if external:
                self._print(f"waiting for {', '.join(external)} (launch: false) to join at {self.endpoints.control}")
            if keyboard is not None:
                self._print("keys: m marks a moment, p pauses/resumes the traffic (both recorded), Ctrl-C ends the session")
            self._supervise(monitor, bus, marks, keyboard)
            self._stop_everything()
        finally:
            if keyboard is not None:
                keyboard.close()
            for sock in (monitor, bus, marks):
                sock.close()
            ctx.term()
            for s, h in previous.items():
                signal.signal(s, h)
            for c in self.children.values():
                c.log.close()
        if self._tty and not self.quiet:
            self.out.write("\n")
        return self.conclude(self._status(), self._component_report(), time.monotonic() - started)

    def conclude(self, status: str, components: dict[str, Any], wall_s: float, finished_by: str | None = None) -> Outcome:
        """Everything after the processes: repair recordings, merge the summary (rebuilt from the
        recording when the syncserver wrote nothing), write it and the report, print the short form."""
        repairs = self._repair_recordings()
        summary = build_summary(self.dir, self.cfg, status, components, wall_s)
        if finished_by:
            summary["runner"]["finished_by"] = finished_by
        if repairs:
            summary.setdefault("recording", {})["repairs"] = repairs
        if self.master_died or not (self.dir / "sections" / f"{SERVER}.json").is_file():
            self._rebuild_session(summary)
        self._safety(summary)
        status = summary["status"]
        if self._save(summary):
            self._report(summary)
        else:
            status = "output_failed"
        if not self.quiet:
            self.out.write((format_summary(summary) if self.verbose else short_summary(summary, self.dir)) + "\n")
            self.out.flush()
        return Outcome(self.dir, status, summary)

    def _save(self, summary: dict[str, Any]) -> bool:
        """summary.json; on a full disk or a read-only folder an ``error:`` line (the short summary
        still goes to the terminal) and False."""
        try:
            write_summary(self.dir, summary)
        except OutputError as exc:
            self.out.write(f"error: {exc}\n")
            self.out.flush()
            return False
        return True

    def _repair_recordings(self) -> list[dict[str, Any]]:
        """A recorder that died (kill -9, a full disk) left a file without its summary and footer:
        rewrite it so that standard MCAP readers take it (recording.repair)."""
        from recording.repair import readable, repair
        out = []
        for path in sorted(self.dir.glob("*.mcap")):
            if readable(path):
                continue
            try:
                result = repair(path)
            except Exception as exc:  # noqa: BLE001  never lose the summary over it
                result = {"repaired": False, "path": path.name, "error": f"{type(exc).__name__}: {exc}"}
            self._print(f"recording {path.name} was incomplete: " + (
                f"repaired, {result['messages']} messages kept" if result.get("repaired") else f"not repaired: {result.get('error')}"))
            out.append(result)
        return out

    def _rebuild_session(self, summary: dict[str, Any]) -> None:
        """The syncserver wrote no sections: take the session and tick figures from the recording."""
        reason = self.master_died or "unknown: the syncserver wrote no summary sections"
        mcap = self.dir / "session.mcap"
        if not mcap.is_file():
            summary["session"]["end_reason"] = reason
            return
        try:
            from recording.rebuild import session_sections
            deep_merge(summary, session_sections(mcap, reason, self.cfg.session.late_threshold_us))
        except Exception as exc:  # noqa: BLE001  the summary is written whatever the recording holds
            summary["session"]["end_reason"] = reason
            self._print(f"could not rebuild the session figures from {mcap}: {type(exc).__name__}: {exc}")

    def _safety(self, summary: dict[str, Any]) -> None:
        """The participant's safety measures from the recording (config ``participant:``; docs/safety.md)."""
        mcap = self.dir / "session.mcap"
        if self.cfg.participant is None or not mcap.is_file():
            return
        try:
            from recording.safety import analyse, section
            summary["safety"] = safety = section(analyse(mcap, self.cfg.participant), self.cfg.participant)
            sumo = next((v for v in summary.values() if isinstance(v, dict) and "participant_followed" in v), {})
            events = sumo.get("events") or {}
            summary["participant"] = {
                "in_sumo": bool(sumo.get("participant_in_sumo")),
                "reactions_watched": bool(sumo.get("participant_followed")),
                "closest_approach_m": safety["closest_approach_m"], "ttc_min_s": safety["ttc_min_s"],
                "near_misses": safety["near_misses"],
                "vehicles_yielded": events.get("yielded", 0), "vehicles_braked": events.get("braked_for_participant", 0)}
        except Exception as exc:  # noqa: BLE001  the summary is written whatever the recording holds
            summary["safety"] = {"error": f"{type(exc).__name__}: {exc}"}
            self._print(f"safety measures not computed: {type(exc).__name__}: {exc}")

    def _report(self, summary: dict[str, Any]) -> None:
        """report.html next to summary.json (recording.report); a failure is noted, summary.json kept."""
        try:
            from recording.report import build_report
            summary["report"] = {"path": build_report(self.dir).name}
        except Exception as exc:  # the report must never cost the session its summary
            summary["report"] = {"error": f"{type(exc).__name__}: {exc}"}
            self._print(f"report.html not written: {type(exc).__name__}: {exc}")
        self._save(summary)

    def _supervise(self, monitor: zmq.Socket, bus: zmq.Socket, marks: zmq.Socket, keyboard: KeyReader | None) -> None:
        decoder, bus_decoder = p.broadcast_decoder(), p.bus_decoder()
        poller = zmq.Poller()
        for sock in (monitor, bus):
            poller.register(sock, zmq.POLLIN)
        if keyboard is not None:
            poller.register(keyboard.fd, zmq.POLLIN)
        stopping = False
        while True:
            ready = dict(poller.poll(100))
            while monitor in ready and monitor.poll(0):
                try:
                    _, msg, _ = decoder.decode(monitor.recv_multipart())
                except ProtocolError:
                    continue
                self._on_session_msg(msg)
            while bus in ready and bus.poll(0):
                try:
                    _, msg, _ = bus_decoder.decode(bus.recv_multipart())
                except ProtocolError:
                    continue
                self.live.on_message(msg)
            if keyboard is not None and keyboard.fd in ready:
                keys = keyboard.read()
                if "m" in keys:
                    self._mark(marks, None)
                if "p" in keys:
                    self.paused = not self.paused
                    self._mark(marks, "pause" if self.paused else "resume")
            server = self.children[SERVER]
            if server.poll() is not None:
                if server.exit_code not in (0, 3) and self.end_reason is None:
                    self.master_died = f"syncserver died ({exit_text(server.exit_code)}) at frame " \
                                       f"{self.live.status.frames if self.live.status else 0}"
                    self.crashed.append(SERVER)
                    self._print(f"{self.master_died}: stopping the components; see {self.dir / 'logs' / 'syncserver.log'}")
                return
            for c in self.children.values():
                if c.name != SERVER and c.poll() is not None and c.status == "running":
                    c.status = "exited" if c.exit_code == 0 else "crashed"
                    if c.exit_code != 0 and self.end_reason is None:
                        self.crashed.append(c.name)
                        self._print(f"component {c.name} crashed (exit code {c.exit_code}); "
                                    f"see {self.dir / 'logs' / (c.name + '.log')}")
                        if self.cfg.session.on_crash == "stop" and not stopping:
                            stopping = True
                            self._signal_all(signal.SIGINT, [SERVER])
            if self.interrupts and not stopping:
                stopping = True
                self._print("interrupted: ending the session")
                self._signal_all(signal.SIGINT, [SERVER])
            if self.interrupts > 1:
                return
            self._status_line()

    def _mark(self, marks: zmq.Socket, traffic: str | None) -> None:
        """An experimenter's marker or traffic control, on the bus like every component's (recorded)."""
        if self.epoch_ns is None:
            self._print("ignored: the session has not started")
            return
        now = time.monotonic_ns() - self.epoch_ns  # the runner shares the syncserver's host and clock
        frame = self.live.status.frames if self.live.status else 0
        if traffic is None:
            self.markers += 1
        for topic, msg in messages(f"key {self.markers}", traffic, now, frame, "key"):
            msg.src = "runner"
            marks.send_multipart(p.encode(topic, msg))
        self._print(f"{'traffic ' + traffic if traffic else f'marker {self.markers}'} at {now / 1e9:.2f} s")

    def _on_session_msg(self, msg: p.Message) -> None:
        self.live.on_message(msg)
        if isinstance(msg, p.Start):
            self.epoch_ns = msg.epoch_ns
        elif isinstance(msg, p.End):
            self.end_reason = msg.reason
        elif isinstance(msg, p.ClientEvent) and msg.event in ("dropped", "rejected"):
            self._print(f"client {msg.name} {msg.event}: {msg.reason}")

    def _status(self) -> str:
        if self.interrupts:
            return "interrupted"
        if self.crashed:
            return "crashed"
        server = self.children.get(SERVER)
        if server is None or server.exit_code is None:
            return "failed"
        if server.exit_code == 3 or (self.end_reason or "").startswith("ready timeout"):
            return "ready_timeout"
        if server.exit_code != 0:
            return "failed"
        return "ok"

    def _component_report(self) -> dict[str, Any]:
        report = {}
        for c in self.children.values():
            if c.status == "running":
                c.status = "stopped" if c.signaled and c.exit_code in (0, -15, -2) else \
                    "exited" if c.exit_code == 0 else ("crashed" if c.exit_code not in (None, -15, -2) else "stopped")
            if c.name == SERVER and c.exit_code == 3:  # its own verdict, not a crash: nobody READY in time
                c.status = "ready timeout"
            report[c.name] = {"module": c.module, "pid": c.proc.pid, "exit_code": c.exit_code, "status": c.status,
                              "log": f"logs/{c.name}.log"}
        for name, spec in self.cfg.enabled().items():
            if not spec.launch:
                report[name] = {"module": spec.module, "status": "external"}
        return report

    # --- terminal output ------------------------------------------------------------------

    def _print(self, line: str) -> None:
        if self.quiet:
            return
        if self._tty:
            self.out.write("\r\033[K")
        self.out.write(line + "\n")
        self.out.flush()

    def _status_line(self) -> None:
        if self.quiet or self.live.status is None:
            return
        now = time.monotonic()
        if now < self._next_line:
            return
        self._next_line = now + (0.25 if self._tty else 2.0)
        line = self.live.line(self._total_frames, self.cfg.session.rate_hz, self._expected,
                              width=None if self._tty else 200)
        self.out.write("\r\033[K" + line if self._tty else line + "\n")
        self.out.flush()


def finish_session(folder: Path, *, quiet: bool = False, stream: IO[str] = sys.stdout) -> Outcome:
    """``run_session.py --finish DIR``: summary.json and report.html of a session whose runner died
    (its processes died with it), from the sections the processes wrote and the recording."""
    if not (folder / "config.yaml").is_file():
        raise ConfigError(f"{str(folder)!r} is not a session folder (no config.yaml)")
    cfg = read_config(folder / "config.yaml")
    sup = Supervisor(cfg, folder, quiet=quiet, stream=stream)
    server = folder / "sections" / f"{SERVER}.json"
    end = ""
    if server.is_file():
        try:
            end = json.loads(server.read_text()).get("session", {}).get("end_reason") or ""
        except (OSError, ValueError):
            pass
    status = ("ok" if end == "completed" else "interrupted" if end.startswith("interrupted")
              else "ready_timeout" if end.startswith("ready timeout") else "failed")
    unknown = "unknown: the runner died before it could see the end"
    components = {name: {"module": spec.module, "status": unknown if spec.launch else "external"}
                  for name, spec in cfg.enabled().items()}
    components[SERVER] = {"module": SERVER, "status": unknown}
    return sup.conclude(status, components, 0.0, finished_by="run_session.py --finish (the runner had died)")
