"""The device's clock on this host's, from probe exchanges over the serial link.

The device read a probe at some moment between the host's send and receive; the exchanges with the
shortest round trips bound that moment best (half the round trip). Over the last ``window`` probes,
a least-squares line (offset and drift: a board's crystal is off by tens of ppm) runs through the
midpoints of the ``best`` fraction with the shortest round trips. A device time the fit does not
expect within ``tolerance_ms`` is not believed (a garbled digit must not move the line, nor count a
wrap); several probes in a row like that, or the board's hello, mean its clock started over."""
from __future__ import annotations

from collections import deque

import numpy as np

from bridges.photodiode.lines import U32
from cosim.stats import Samples, percentile_block


class DeviceClock:
    def __init__(self, window: int = 128, best: float = 0.25, min_probes: int = 8,
                 tolerance_ms: float = 50.0, jumps_to_reset: int = 5) -> None:
        self.probes: deque[tuple[int, int, int]] = deque(maxlen=window)  # midpoint ns, round trip ns, device µs
        self.best, self.min_probes = best, min_probes
        self.tolerance_us = tolerance_ms * 1e3
        self.jumps_to_reset = jumps_to_reset
        self.rtt_ns = Samples()
        self.rejected = 0  # device times the fit says are wrong (a garbled digit, a line from another clock)
        self.resets = 0  # times the device's clock started over (a reset of the board)
        self._jumps = 0  # consecutive probes that disagree with the fit
        self._last_raw: int | None = None
        self._wraps = 0
        self._fit: tuple[float, float, int, int] | None = None  # slope ns/µs, intercept ns, µs and ns references
        self.residual_ns = 0.0
        self.bound_ns = 0

    def reset(self) -> None:
        """The device's clock started over (its hello after a reset): forget the fit and the wraps."""
        self.probes.clear()
        self._fit, self._last_raw, self._wraps, self._jumps = None, None, 0, 0
        self.resets += 1

    def unwrap(self, t_us: int, host_ns: int) -> int | None:
        """The device's 32-bit micros() as a count that does not wrap, for a line read around host time
        ``host_ns``: with a fit, the value nearest to what the fit expects then (None when even that
        is further than the tolerance: the line is not believed); before one, in the device's order."""
        if self._fit is not None:
            expected = self.to_device(host_ns)
            value = t_us + round((expected - t_us) / U32) * U32
            if abs(value - expected) > self.tolerance_us:
                self.rejected += 1
                return None
            self._last_raw = t_us
            return value
        if self._last_raw is not None and t_us < self._last_raw - U32 // 2:
            self._wraps += 1
        self._last_raw = t_us
        return t_us + self._wraps * U32

    def add(self, sent_ns: int, recv_ns: int, raw_us: int) -> None:
        """One probe: sent and its reply received at these host times (ns); the device's raw µs.
        ``jumps_to_reset`` probes in a row that the fit does not believe mean the device's clock
        started over: the fit starts again from them."""
        rtt = recv_ns - sent_ns
        if rtt < 0:
            return
        mid = (sent_ns + recv_ns) // 2
        t_us = self.unwrap(raw_us, mid)
        if t_us is None:
            self._jumps += 1
            if self._jumps >= self.jumps_to_reset:
                self.reset()
                t_us = self.unwrap(raw_us, mid)
            else:
                return
        self._jumps = 0
        assert t_us is not None
        self.rtt_ns.append(rtt)
        self.probes.append((mid, rtt, t_us))
        if len(self.probes) >= self.min_probes:
            self._refit()

    def to_device(self, host_ns: int) -> float:
        """The device's (unwrapped) µs at a host time; precondition: ``synced``."""
        assert self._fit is not None
        slope, intercept, us_ref, ns_ref = self._fit
        return us_ref + (host_ns - ns_ref - intercept) / slope

    def _refit(self) -> None:
        a = np.array(self.probes, dtype=np.int64)
        keep = a[np.argsort(a[:, 1], kind="stable")[:max(2, int(len(a) * self.best))]]
        us_ref, ns_ref = int(keep[:, 2].min()), int(keep[:, 0].min())
        x = (keep[:, 2] - us_ref).astype(np.float64)
        y = (keep[:, 0] - ns_ref).astype(np.float64)
        if np.ptp(x) == 0:
            return
        slope, intercept = np.polyfit(x, y, 1)
        self._fit = (float(slope), float(intercept), us_ref, ns_ref)
        self.residual_ns = float(np.sqrt(np.mean((y - (slope * x + intercept)) ** 2)))
        self.bound_ns = int(keep[:, 1].max() // 2)

    @property
    def synced(self) -> bool:
        return self._fit is not None

    def to_host(self, t_us: int) -> int | None:
        """This host's clock (ns) at an (unwrapped) device time; None before enough probes."""
        if self._fit is None:
            return None
        slope, intercept, us_ref, ns_ref = self._fit
        return ns_ref + int(round(slope * (t_us - us_ref) + intercept))

    def section(self) -> dict[str, object]:
        # the board's clock rate against this host's (+: the board runs fast)
        drift = None if self._fit is None else round((1000.0 / self._fit[0] - 1.0) * 1e6, 2)
        return {"probes": self.rtt_ns.count, "rejected": self.rejected, "resets": self.resets,
                "rtt_us": percentile_block(self.rtt_ns, 1e-3), "drift_ppm": drift,
                "fit_residual_us": round(self.residual_ns / 1e3, 3), "half_rtt_bound_us": round(self.bound_ns / 1e3, 3)}
