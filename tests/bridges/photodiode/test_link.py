"""The serial link and clock fit against the EMULATED board on a real pty: photon times within
0.5 ms of the emulator's truth, across its 32-bit clock wrap, drift and link latency; hostile lines
counted, never fatal."""
from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

from bridges.photodiode import lines
from bridges.photodiode.clockfit import DeviceClock
from bridges.photodiode.link import SerialLink
from cosim.errors import ProtocolError
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def test_photon_times_match_the_truth_across_the_clock_wrap(board):
    # micros() wraps 2 s in; the board's crystal 80 ppm fast
    link, screen, truth = board("--start-us", str(2**32 - 2_000_000), "--drift-ppm", "80")
    sl = SerialLink(str(link), 115200, 20_000_000, DeviceClock(), time.monotonic_ns)
    sl.start()
    try:
        tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        assert wait_for(lambda: sl.clock.synced, 5)
        for frame in range(16):
            tx.sendto(b"flash %d" % frame, str(screen))
            time.sleep(0.25)
        time.sleep(0.1)
        got = sl.take_flashes()
        measured = [sl.to_host(t) for t, _, _, _ in got]
    finally:
        sl.close()
    rows = [json.loads(x) for x in truth.read_text().splitlines()]
    assert len(got) == len(rows) == 16
    err_ms = np.array([m - r["light_ns"] for m, r in zip(measured, rows)]) / 1e6
    assert np.abs(err_ms).max() < 0.5, err_ms
    assert got[-1][0] > 2**32  # unwrapped across the wrap
    assert sl.hello is not None and "EMULATED" in sl.hello.name and sl.bad_lines == 0
    assert sl.clock.section()["drift_ppm"] > 0  # fast, as the board is (±100 ppm over a window this short)


def test_the_fit_can_fail():
    """Without the shortest-round-trip filter, one-sided link delays bias the fit."""
    rng = np.random.default_rng(1)
    for best, ok in ((0.25, True), (1.0, False)):
        clock = DeviceClock(best=best)
        for k in range(128):
            t = k * 50_000_000
            up, down = rng.uniform(0.2e6, 1.2e6), rng.uniform(0.2e6, 1.2e6) + (5e6 if k % 2 else 0)  # a slow host half the time
            clock.add(t, int(t + up + down), int((t + up) / 1000))
        err = abs(clock.to_host(64 * 50_000) - 64 * 50_000_000)
        assert (err < 300_000) == ok, (best, err)


@pytest.mark.parametrize("raw, why", [
    (b"p 1", "unknown line"), (b"F -5", "not an unsigned"), (b"F 4294967296", "32 bits"), (b"\xff\xfe", "not ASCII"),
    (b"X" * 200, "bytes"), (b"F 12 13", "unknown line"), (b"", "unknown line")])
def test_bad_lines_are_refused_with_a_reason(raw, why):
    with pytest.raises(ProtocolError, match=why):
        lines.decode(raw)


def test_hostile_bytes_on_the_link_are_counted_not_fatal(tmp_path):
    import os
    import pty
    import tty
    master, slave = pty.openpty()
    tty.setraw(slave)
    sl = SerialLink(os.ttyname(slave), 115200, 10_000_000, DeviceClock(), time.monotonic_ns)
    sl.start()
    try:
        os.write(master, b"garbage\n\xff\xff\n" + b"Z" * 300 + b"\np 999999 5\nF 100\n")
        assert wait_for(lambda: len(sl.flashes) == 1, 5)
        assert sl.bad_lines == 4 and sl.is_alive() and sl.error is None
    finally:
        sl.close()
        os.close(master)
        os.close(slave)


def test_a_missing_port_is_named_before_launch(tmp_path):
    from bridges.photodiode.config import Settings, check_files
    from cosim.errors import InputFileError
    with pytest.raises(InputFileError, match="does not exist"):
        check_files(Settings(port=str(tmp_path / "ttyACM9")))
    with pytest.raises(InputFileError, match="port is empty"):
        check_files(Settings())
    (tmp_path / "file").write_text("")
    with pytest.raises(InputFileError, match="not a serial port"):
        check_files(Settings(port=str(tmp_path / "file")))


def fed(clock: DeviceClock, start_us: int, k0: int, k1: int, glitch: dict[int, int] | None = None,
        origin_ns: int = 0) -> None:
    """Probes every 50 ms with 0.4 ms each way; the board's clock reads start_us + host µs since origin_ns."""
    for k in range(k0, k1):
        t = k * 50_000_000
        raw = (start_us + (t + 400_000 - origin_ns) // 1000) % 2**32
        clock.add(t, t + 800_000, (glitch or {}).get(k, raw))


@pytest.mark.parametrize("start_us", [10**9, 3 * 10**9])
def test_a_garbled_reply_does_not_move_the_fit_or_count_a_wrap(start_us):
    clock = DeviceClock()
    fed(clock, start_us, 0, 100, glitch={60: (start_us + 60 * 50_000) // 10})  # a digit lost
    assert clock.rejected == 1 and clock.resets == 0
    t_us = clock.unwrap((start_us + 99 * 50_000) % 2**32, 99 * 50_000_000)
    assert t_us is not None and abs(clock.to_host(t_us) - 99 * 50_000_000) < 100_000
    assert clock.unwrap(12345, 99 * 50_000_000) is None  # a bogus flash time is not believed


def test_a_board_reset_starts_the_fit_over():
    clock = DeviceClock()
    fed(clock, 10**9, 0, 100)
    fed(clock, 0, 100, 200, origin_ns=100 * 50_000_000)  # the board reset: micros() from 0 again
    assert clock.resets == 1
    t_us = clock.unwrap(50 * 50_000, 150 * 50_000_000)
    assert t_us is not None and abs(clock.to_host(t_us) - 150 * 50_000_000) < 100_000


def test_a_board_that_stops_reading_does_not_end_the_link():
    import os
    import pty
    import tty
    master, slave = pty.openpty()
    tty.setraw(slave)
    sl = SerialLink(os.ttyname(slave), 115200, 1_000_000, DeviceClock(), time.monotonic_ns)  # 1 ms probes, never read
    sl.start()
    try:
        assert wait_for(lambda: sl.unsent > 0, 30)
        assert sl.is_alive() and sl.error is None
    finally:
        sl.close()
        os.close(master)
        os.close(slave)
