"""A JACK server of our own (``jackd -d dummy``) and pointing PortAudio at it.

The dummy driver gives a real, clocked audio stream on machines without a sound card. PortAudio
enumerates JACK only when it initialises, so after the server is up it is re-initialised
(``sd._terminate(); sd._initialize()``). Close every stream and terminate PortAudio before the
server goes away: PortAudio's JACK host API aborts the process otherwise.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from audio.errors import AudioBackendError

JACK_HOSTAPI = "JACK Audio Connection Kit"


def unique_server_name(prefix: str = "cosim") -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class JackServer:
    def __init__(self, name: str | None = None, *, rate: int = 48000, period: int = 256,
                 timeout_s: float = 10.0, log_path: Path | None = None) -> None:
        self.name = name or unique_server_name()
        self.rate = rate
        self.period = period
        self.timeout_s = timeout_s
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> JackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        jackd = shutil.which("jackd")
        if jackd is None:
            raise AudioBackendError("jackd is not installed (Debian package jackd2)")
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [jackd, "-n", self.name, "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        if not self._wait_ready(env):
            code = self.proc.poll()
            self.stop()
            raise AudioBackendError(f"jackd -n {self.name} -d dummy did not come up within {self.timeout_s:.0f} s"
                                    + (f" (exit status {code})" if code is not None else ""))

    def _wait_ready(self, env: dict[str, str]) -> bool:
        deadline = time.monotonic() + self.timeout_s
        waiter = shutil.which("jack_wait")
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            if waiter:
                res = subprocess.run([waiter, "-s", self.name, "-c"], env=env, capture_output=True, timeout=5)
                if b"running" in res.stdout and b"not" not in res.stdout:
                    return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None


def use_jack_server(name: str) -> None:
    """Make PortAudio's JACK host API connect to server ``name`` (re-initialises PortAudio)."""
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    import sounddevice as sd
    sd._terminate()  # noqa: SLF001 - documented way to re-enumerate host APIs
    sd._initialize()  # noqa: SLF001


def hostapi_index(name: str) -> int:
    import sounddevice as sd
    apis = sd.query_hostapis()
    for i, api in enumerate(apis):
        if api["name"] == name or name.lower() in api["name"].lower():
            return i
    raise AudioBackendError(f"PortAudio has no host API {name!r} (have: {', '.join(a['name'] for a in apis)})")
