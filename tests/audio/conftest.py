"""JACK fixture: a dummy-driver server of our own, with a unique name, stopped after the tests.
Where jackd cannot be started the JACK tests skip and say why."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from audio.errors import AudioBackendError
from audio.jack import JackServer, unique_server_name, use_jack_server


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    server = JackServer(unique_server_name("cosim-test"), rate=48000, period=256, log_path=log)
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    try:
        server.start()
    except (AudioBackendError, OSError) as exc:
        detail = log.read_text(errors="replace")[-400:] if log.exists() else ""
        pytest.skip(f"JACK tests skipped: jackd could not be started: {exc} {detail}".strip())
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio2 missing
        server.stop()
        pytest.skip(f"JACK tests skipped: PortAudio is not available: {exc}")
    use_jack_server(server.name)
    try:
        yield server
    finally:
        sd._terminate()  # PortAudio must let go of the server before it stops, or it aborts the process
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
