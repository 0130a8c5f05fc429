"""The C++ core's GoogleTest suite, and cross-checks of the core against the Python modules it mirrors."""
from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cosim.clock import OffsetEstimator, ProbeSample


def test_gtest_suite_passes(cpp_build: Path) -> None:
    proc = subprocess.run([str(cpp_build / "cosim_core_tests"), "--gtest_brief=1"], capture_output=True,
                          text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"C++ tests failed:\n{out[-6000:]}"
    passed = re.search(r"\[  PASSED  \] (\d+) test", out)
    assert passed and int(passed.group(1)) >= 20, out[-2000:]


def _check(cpp_build: Path, args: list[str], text: str) -> list[str]:
    proc = subprocess.run([str(cpp_build / "cosim_check"), *args], input=text, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_offset_estimator_matches_python(cpp_build: Path) -> None:
    rng = random.Random(7)
    burst = 5
    samples = []
    for _ in range(400):
        t0 = rng.randrange(-10**12, 10**12)
        offset = rng.randrange(-10**9, 10**9)
        up, down, work = rng.randrange(0, 10**6), rng.randrange(0, 10**6), rng.randrange(0, 10**5)
        t1 = t0 + offset + up
        t2 = t1 + work
        t3 = t2 - offset + down - (rng.randrange(0, 3 * 10**6) if rng.random() < 0.05 else 0)  # some rtt < 0
        samples.append(ProbeSample(t0, t1, t2, t3))
    lines = _check(cpp_build, ["clock", str(burst)], "".join(f"{s.t0} {s.t1} {s.t2} {s.t3}\n" for s in samples))
    est = OffsetEstimator(burst)
    want = [f"1 {est.offset_ns} {est.rtt_ns}" if est.add(s) else "0" for s in samples]
    assert lines == want
    assert sum(line.startswith("1") for line in lines) > 50


def test_axis_and_unit_conversion_matches_the_sumo_bridge(cpp_build: Path) -> None:
    coords = pytest.importorskip("bridges.sumo.coords")
    rng = np.random.default_rng(3)
    n = 300
    x, y, z = rng.uniform(-5000, 5000, n), rng.uniform(-5000, 5000, n), rng.uniform(-50, 50, n)
    heading, slope, speed = rng.uniform(0, 360, n), rng.uniform(-10, 10, n), rng.uniform(0, 40, n)
    heading[:4] = [0.0, 90.0, 270.0, 360.0]
    origin = (12.5, -40.0, 1.0)
    rows = np.column_stack([x, y, z, heading, slope, speed, np.tile(origin, (n, 1))])
    text = "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows)
    got = np.array([[float(v) for v in line.split()] for line in _check(cpp_build, ["coords"], text)])
    frame = coords.CoordinateFrame(origin)
    pos = frame.position_cm(x, y, z)
    yaw, pitch = frame.yaw_deg(heading), frame.pitch_deg(slope)
    vel = frame.velocity_cms(speed, yaw, pitch)
    np.testing.assert_allclose(got[:, 0:3], pos, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got[:, 3], yaw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got[:, 4], pitch, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 5:8], vel, rtol=0, atol=1e-6)
