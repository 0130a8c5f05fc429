import random
import subprocess
import sys
import time

import pytest

from cosim.clock import LinearClockFit, LocalClock, OffsetEstimator, ProbeSample, drift_ppm, timens_monotonic_offset_ns


def test_probe_sample_offset_and_rtt():
    # local clock is 1000 ns behind master; 100 ns each way; 50 ns server processing
    s = ProbeSample(t0=0, t1=1100, t2=1150, t3=250)
    assert s.rtt_ns == 200
    assert s.offset_ns == 1000


def test_burst_takes_the_interquartile_mean_of_its_faster_half():
    est = OffsetEstimator(burst=4)
    true = 5_000
    delays = [(400, 30), (10, 10), (500, 500), (20, 40)]  # (up, down): rtt 430, 20, 1000, 60
    done = False
    for i, (up, down) in enumerate(delays):
        t0 = i * 10_000
        t1 = t0 + true + up
        done = est.add(ProbeSample(t0, t1, t1 + 5, t1 + 5 - true + down))
    assert done
    # the two fastest: offsets true + 0 and true - 10 ((up - down) / 2); the slow asymmetric ones are dropped
    assert est.rtt_ns == 20 and est.offset_ns == true - 5


def test_averaging_shrinks_symmetric_jitter():
    """Gaussian jitter each way: the faster half's interquartile mean errs less than the single fastest probe."""
    rng = random.Random(3)
    errors = {"iqm": [], "fastest": []}
    for _ in range(400):
        est, samples = OffsetEstimator(16), []
        for k in range(16):
            up, down = max(0, round(rng.gauss(500_000, 100_000))), max(0, round(rng.gauss(500_000, 100_000)))
            s = ProbeSample(k, k + 7_000 + up, k + 7_000 + up, k + up + down)
            samples.append(s)
            est.add(s)
        errors["iqm"].append(abs(est.offset_ns - 7_000))
        errors["fastest"].append(abs(min(samples, key=lambda s: s.rtt_ns).offset_ns - 7_000))
    p99 = {k: sorted(v)[int(0.99 * len(v))] for k, v in errors.items()}
    assert p99["iqm"] < 0.6 * p99["fastest"], p99


def test_negative_rtt_samples_are_ignored():
    est = OffsetEstimator(burst=1)
    assert not est.add(ProbeSample(0, 100, 200, 50))
    assert est.offset_ns is None


def test_skewed_local_clock_knows_its_true_offset():
    c = LocalClock(skew_ns=7_000)
    assert c.true_offset_ns(True) == -7_000
    assert c.true_offset_ns(False) is None


def test_linear_fit_recovers_offset_and_drift():
    fit = LinearClockFit()
    base = 10**15  # epoch-scale values must not lose precision
    for i in range(100):
        x = i * 10_000_000
        fit.add(x, base + 123_456 + round(x * (1 + 50e-6)))
    assert fit.drift_ppm == pytest.approx(50.0, abs=1e-3)
    assert fit.to_foreign(2_000_000_000) == base + 123_456 + round(2_000_000_000 * (1 + 50e-6))
    assert fit.to_session(fit.to_foreign(1_234_567_890)) == pytest.approx(1_234_567_890, abs=1)


def test_fit_window_and_single_sample():
    fit = LinearClockFit(window=3)
    fit.add(0, 10)
    assert fit.to_foreign(5) == 15
    for i in range(10):
        fit.add(i, i + 10)
    assert len(fit) == 3


def test_drift_ppm_helper():
    assert drift_ppm([]) is None
    assert drift_ppm([(0, 5), (0, 6)]) is None
    assert drift_ppm([(0, 0), (1_000_000_000, 20_000)]) == pytest.approx(20.0)


def test_a_fake_drifting_clock_runs_fast_by_its_rate_and_claims_no_truth(monkeypatch):
    now = [10**12]
    monkeypatch.setattr(time, "monotonic_ns", lambda: now[0])
    c = LocalClock(ppm=200.0)
    a = c.now_ns()
    now[0] += 10**9
    assert c.now_ns() - a == 10**9 + 200_000  # 200 us gained per second
    assert c.true_offset_ns(True) is None


def test_the_kernel_says_how_far_a_time_namespace_is_set_ahead():
    assert timens_monotonic_offset_ns() in (0, None)  # the test runs in the host's own time namespace
    code = "from cosim.clock import timens_monotonic_offset_ns as f, LocalClock; print(f(), LocalClock().true_offset_ns(True))"
    run = subprocess.run(["unshare", "--time", "--monotonic", "7200", "--fork", sys.executable, "-c", code],
                         capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"no time namespace here: {run.stderr.strip()}")
    assert run.stdout.split() == [str(7200 * 10**9), "None"]  # a process in it cannot know the master's offset
