"""``python -m bridges.photodiode.emulator --link PATH --screen SOCKET``: an EMULATED photodiode board.

A stand-in for the Arduino-class board (docs/photodiode.md) on a pseudo-terminal, for tests and
``bench.photon``: it speaks the board's line protocol on the pty (``--link`` is a symlink to it),
with a clock of its own (``--drift-ppm`` off the host's, micros() resolution of 4 µs, 32-bit wrap)
and a USB-serial latency each way (``--link-latency-ms LO:HI``, uniform; lines stay in order, as on a
serial link). The headless client's
emulated screen (``display.screen_socket``) sends a datagram per flash frame to ``--screen``; the
"light" rises a known, jittered delay later (``--delay-ms`` ± ``--jitter-ms``), which the board
reports as ``F <t_us>``. Each flash's truth goes to ``--truth`` (JSON lines, host CLOCK_MONOTONIC ns):
``frame``, ``screen_ns`` (the datagram arrived), ``light_ns`` (the light rose), ``injected_ms``,
``device_us``. Runs until SIGTERM / SIGINT.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time
import tty
from pathlib import Path
from typing import IO, Sequence

U32 = 2**32


class Board:
    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = random.Random(args.seed)
        self.boot = time.monotonic_ns()
        self.start_us = args.start_us
        self.ppm = args.drift_ppm
        lo, _, hi = args.link_latency_ms.partition(":")
        self.latency = (float(lo) * 1e6, float(hi or lo) * 1e6)
        self.delay_ns, self.jitter_ns = args.delay_ms * 1e6, args.jitter_ms * 1e6
        self.writes: list[tuple[int, int, bytes]] = []  # the board writes the line at ns
        self.queue: list[tuple[int, int, bytes]] = []  # the line reaches the host at ns
        self.order = 0
        self.last_out = self.last_in = 0  # a serial link is first in, first out, each way

    def micros(self, t_ns: int) -> int:
        """The board's clock at host time ``t_ns``: its own rate, 4 µs steps, 32 bits."""
        us = self.start_us + (t_ns - self.boot) * (1 + self.ppm * 1e-6) / 1000
        return (int(us) // 4 * 4) % U32

    def link(self) -> int:
        return round(self.rng.uniform(*self.latency))

    def send(self, at_ns: int, line: bytes) -> None:
        """The board writes the line at ``at_ns``; it reaches the host a link latency later (pump)."""
        self.order += 1
        heapq.heappush(self.writes, (at_ns, self.order, line))

    def pump(self, now: int) -> None:
        """Lines the board has written by ``now`` onto the link, in the order it wrote them."""
        while self.writes and self.writes[0][0] <= now:
            at, order, line = heapq.heappop(self.writes)
            self.last_out = max(at + self.link(), self.last_out)
            heapq.heappush(self.queue, (self.last_out, order, line))

    def next_ns(self) -> int | None:
        due = [q[0][0] for q in (self.writes, self.queue) if q]
        return min(due) if due else None

    def probe(self, line: bytes, now: int) -> None:
        kind, _, seq = line.strip().partition(b" ")
        if kind != b"P" or not seq.isdigit():
            self.send(now, b"E unknown command " + line.strip()[:20] + b"\n")
            return
        self.last_in = max(now + self.link(), self.last_in)  # the probe reaches the board a link latency after the host wrote it
        read = self.last_in
        self.send(read, b"p %s %d\n" % (seq, self.micros(read)))

    def flash(self, frame: int, now: int, truth: IO[str] | None) -> None:
        injected = round(self.delay_ns + self.rng.uniform(-self.jitter_ns, self.jitter_ns))
        light = now + injected
        us = self.micros(light)
        self.send(light, b"F %d\n" % us)
        if truth is not None:
            truth.write(json.dumps({"frame": frame, "screen_ns": now, "light_ns": light,
                                    "injected_ms": injected / 1e6, "device_us": us}) + "\n")
            truth.flush()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bridges.photodiode.emulator", description=__doc__.split("\n\n")[0])
    ap.add_argument("--link", required=True, help="symlink made to the pty the host opens as the serial port")
    ap.add_argument("--screen", required=True, help="UNIX datagram socket the client's emulated screen sends flashes to")
    ap.add_argument("--truth", help="write each flash's truth here (JSON lines)")
    ap.add_argument("--delay-ms", type=float, default=20.0, help="screen to light, mean (default 20)")
    ap.add_argument("--jitter-ms", type=float, default=3.0, help="uniform ± around it (default 3)")
    ap.add_argument("--drift-ppm", type=float, default=40.0, help="the board's clock rate error (default 40)")
    ap.add_argument("--link-latency-ms", default="0.2:1.2", help="USB-serial latency each way, LO:HI uniform")
    ap.add_argument("--start-us", type=int, default=0, help="the board's micros() at start (near 2^32 to test the wrap)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    board = Board(args)
    master, slave = os.openpty()
    tty.setraw(slave)  # bytes as they are: no echo, no line discipline
    link, screen_path = Path(args.link), Path(args.screen)
    for p in (link, screen_path):
        p.unlink(missing_ok=True)
    link.symlink_to(os.ttyname(slave))
    screen = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    screen.bind(str(screen_path))
    truth = open(args.truth, "a") if args.truth else None
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"EMULATED photodiode on {link} -> {os.ttyname(slave)}, screen {screen_path}", flush=True)
    buf, greeted = b"", False
    try:
        while running:
            now = time.monotonic_ns()
            board.pump(now)
            while board.queue and board.queue[0][0] <= now:
                os.write(master, heapq.heappop(board.queue)[2])
            due = board.next_ns()
            wait = (due - now) / 1e9 if due is not None else 0.1
            try:
                ready, _, _ = select.select([master, screen], [], [], min(max(wait, 0.0), 0.1))
            except InterruptedError:
                continue
            now = time.monotonic_ns()
            if master in ready:
                if not greeted:  # a board resets when the host opens its port, and says hello
                    greeted = True
                    board.send(now, b"H cosim-photodiode-EMULATED 1\n")
                buf += os.read(master, 4096)
                *lines, buf = buf.split(b"\n")
                buf = buf[-256:]
                for line in lines:
                    board.probe(line, now)
            if screen in ready:
                data = screen.recv(64)
                frame = int(data.split()[-1]) if data.split() and data.split()[-1].isdigit() else -1
                board.flash(frame, now, truth)
    finally:
        link.unlink(missing_ok=True)
        screen.close()
        screen_path.unlink(missing_ok=True)
        if truth is not None:
            truth.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
