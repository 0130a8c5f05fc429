"""A TCP relay that delays every byte by a one-way delay with jitter: the network between emulated
hosts (``tc netem`` is not in these machines' kernels, so the delay is added in user space).

``python -m bench.relay --listen 10.77.0.1 --to 10.77.0.10 --ports 5550-5553 --delay-ms 0.5 --jitter-ms 0.1``

Each chunk read from one side is written to the other ``delay + N(0, jitter)`` after it was read
(never before the chunk ahead of it: a TCP stream keeps its order), in both directions.
"""
from __future__ import annotations

import argparse
import collections
import logging
import random
import signal
import socket
import sys
import threading
import time
from typing import Sequence

from cosim.timing import realtime_priority, reduce_timer_slack

log = logging.getLogger("relay")


class Delayed:
    """One direction of one connection: a reader thread stamps chunks, a writer thread sends each
    when its time has come."""

    def __init__(self, src: socket.socket, dst: socket.socket, delay_ns: int, jitter_ns: int, rng: random.Random):
        self.src, self.dst = src, dst
        self.delay_ns, self.jitter_ns, self.rng = delay_ns, jitter_ns, rng
        self.queue: collections.deque[tuple[int, bytes]] = collections.deque()
        self.ready = threading.Condition()
        self.closed = False
        self._last = 0

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        reduce_timer_slack()
        while True:
            try:
                data = self.src.recv(1 << 16)
            except OSError:
                data = b""
            now = time.monotonic_ns()
            due = now + max(0, round(self.rng.gauss(self.delay_ns, self.jitter_ns))) if self.jitter_ns else now + self.delay_ns
            self._last = due = max(due, self._last)
            with self.ready:
                self.queue.append((due, data))
                self.ready.notify()
            if not data:
                return

    def _write(self) -> None:
        reduce_timer_slack()
        while True:
            with self.ready:
                while not self.queue:
                    self.ready.wait()
                due, data = self.queue.popleft()
            wait = due - time.monotonic_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
            if not data:
                break
            try:
                self.dst.sendall(data)
            except OSError:
                break
        for s in (self.dst, self.src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listen: str, target: str, port: int, delay_ns: int, jitter_ns: int, seed: int) -> socket.socket:
    server = socket.create_server((listen, port), reuse_port=False)
    rng = random.Random(seed + port)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
                upstream = socket.create_connection((target, port))
            except OSError as exc:
                log.warning("relay :%d: %s", port, exc)
                continue
            for s in (conn, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            Delayed(conn, upstream, delay_ns, jitter_ns, rng).start()
            Delayed(upstream, conn, delay_ns, jitter_ns, rng).start()

    threading.Thread(target=accept, daemon=True).start()
    return server


def port_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, help="address to listen on")
    ap.add_argument("--to", required=True, help="address to forward to (same ports)")
    ap.add_argument("--ports", required=True, help="ports, e.g. 5550-5553 or 5550,5552")
    ap.add_argument("--delay-ms", type=float, default=0.5, help="one-way delay (default 0.5)")
    ap.add_argument("--jitter-ms", type=float, default=0.1, help="standard deviation of the delay (default 0.1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rt-priority", type=int, default=30, metavar="N",
                    help="SCHED_FIFO of the relay (default 30, above the session's processes: a network "
                         "does not wait for a CPU; 0: normal scheduling)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(levelname)s: %(message)s")
    realtime_priority(args.rt_priority, "the delays will include waits for a CPU")
    for port in port_list(args.ports):
        serve(args.listen, args.to, port, round(args.delay_ms * 1e6), round(args.jitter_ms * 1e6), args.seed)
    log.info("relaying %s -> %s ports %s, delay %.3f ms, jitter %.3f ms", args.listen, args.to, args.ports,
             args.delay_ms, args.jitter_ms)
    print("relay: ready", flush=True)
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
