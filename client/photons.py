"""Measured motion-to-photon (docs/photodiode.md): the client flashes a patch on chosen frames, a
photodiode on the lens reports when each flash lit up (EVENT ``photon`` on ``events.photodiode``, on
the session clock), and each photon is matched to its flash frame: photon − the sample time of the
pose that frame used is motion-to-photon measured, photon − the frame's modelled photon time is the
display model's error. Without a headset the client's "screen" is a datagram to the EMULATED board
(``flash.screen_socket``); the Unreal plugin draws the patch instead."""
from __future__ import annotations

import logging
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any

from client.config import FlashSettings
from cosim.stats import Samples, percentile_block

log = logging.getLogger("client.photons")
MAX_PENDING = 64


@dataclass
class Flash:
    frame: int
    signal_ns: int  # when the patch went to the screen
    sample_ns: int | None  # the pose the frame used
    modelled_photon_ns: int


class Photons:
    def __init__(self, s: FlashSettings) -> None:
        self.every = s.every_frames
        self.max_latency_ns = round(s.max_latency_ms * 1e6)
        self.screen = s.screen_socket
        self.sock: socket.socket | None = None
        if self.screen:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
        self.pending: deque[Flash] = deque(maxlen=MAX_PENDING)
        self.total, self.model_error = Samples(), Samples()
        self.flashes = self.matched = self.unmatched = self.stray = self.screen_errors = 0

    @property
    def enabled(self) -> bool:
        return self.every > 0

    def on_frame(self, frame: int, now_ns: int, sample_ns: int | None, modelled_photon_ns: int) -> bool:
        """Whether ``frame`` flashes (and, headless, send the flash to the emulated screen)."""
        if not self.every or frame % self.every:
            return False
        self.flashes += 1
        if self.sock is not None:
            try:
                self.sock.sendto(b"flash %d" % frame, self.screen)
            except OSError as exc:
                self.screen_errors += 1
                if self.screen_errors == 1:
                    log.warning("emulated screen %s: %s (flashes go unseen)", self.screen, exc)
        if len(self.pending) == MAX_PENDING:
            self.unmatched += 1
        self.pending.append(Flash(frame, now_ns, sample_ns, modelled_photon_ns))
        return True

    def on_photon(self, at_ns: int) -> tuple[Flash, dict[str, float]] | None:
        """The flash a photon belongs to and its figures; None for a photon no flash explains. It is
        the newest flash sent before it (flashes are further apart than the display's latency,
        docs/photodiode.md): the older ones' photons were missed."""
        newest = None
        for i, f in enumerate(self.pending):
            if f.signal_ns > at_ns:
                break
            newest = i
        if newest is None or at_ns - self.pending[newest].signal_ns > self.max_latency_ns:
            while self.pending and self.pending[0].signal_ns < at_ns - self.max_latency_ns:
                self.pending.popleft()
                self.unmatched += 1
            self.stray += 1
            return None
        for _ in range(newest):
            self.pending.popleft()
            self.unmatched += 1
        flash = self.pending.popleft()
        self.matched += 1
        data = {"model_error_ms": round((at_ns - flash.modelled_photon_ns) / 1e6, 4),
                "screen_to_photon_ms": round((at_ns - flash.signal_ns) / 1e6, 4)}
        self.model_error.append(at_ns - flash.modelled_photon_ns)
        if flash.sample_ns is not None:
            self.total.append(at_ns - flash.sample_ns)
            data["measured_mtp_ms"] = round((at_ns - flash.sample_ns) / 1e6, 4)
            data["modelled_mtp_ms"] = round((flash.modelled_photon_ns - flash.sample_ns) / 1e6, 4)
        return flash, data

    def section(self) -> dict[str, Any]:
        return {"source": "photodiode", "every_frames": self.every, "flashes": self.flashes, "matched": self.matched,
                "unmatched": self.unmatched + len(self.pending), "stray_photons": self.stray,
                "screen_errors": self.screen_errors, "total_ms": percentile_block(self.total, 1e-6),
                "model_error_ms": percentile_block(self.model_error, 1e-6)}

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
