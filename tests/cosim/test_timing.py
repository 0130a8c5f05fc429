"""cosim.timing and the rt_priority setting."""
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from session.config import load_config
from cosim.process import REPO_ROOT
from cosim.errors import ConfigError
from cosim.timing import realtime_priority, reduce_timer_slack, spin_until, yield_to_own_threads


def test_timer_slack_and_spin():
    assert reduce_timer_slack() is sys.platform.startswith("linux")
    t = spin_until(0, lambda: 5)
    assert t == 5
    ticks = iter(range(10))
    assert spin_until(3, lambda: next(ticks)) == 3


def test_priority_zero_leaves_the_thread_alone():
    assert realtime_priority(0, "nothing") is False
    assert yield_to_own_threads() is False  # a normal (SCHED_OTHER) thread has nothing to step below


def test_a_bad_rt_priority_names_key_and_value(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"components": {"client": {"module": "client", "rt_priority": 120}}}))
    with pytest.raises(ConfigError, match=r"rt_priority.*120|120.*rt_priority"):
        load_config(path)


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="no sched_setscheduler on this platform")
def test_a_component_with_rt_priority_runs_sched_fifo_and_so_do_its_zmq_threads(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"network": {"base_port": 0},
                                    "components": {"x": {"module": "client", "rt_priority": 3}}}))
    code = textwrap.dedent(f"""
        import os, zmq
        from cosim.runtime import Component, run

        class X(Component):
            def setup(self):  # the runtime set the priority before any zmq context exists
                before = set(os.listdir("/proc/self/task"))  # (numpy's BLAS threads predate it)
                ctx = zmq.Context(); ctx.socket(zmq.PUB)
                tids = [int(t) for t in set(os.listdir("/proc/self/task")) - before]
                print(os.sched_getscheduler(0) == os.SCHED_FIFO,
                      all(os.sched_getscheduler(t) == os.SCHED_FIFO for t in tids), len(tids) + 1)
                os._exit(0)
        run(X, ["--config", {str(path)!r}, "--name", "x"])
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if "could not run at SCHED_FIFO" in out.stderr:
        pytest.skip("SCHED_FIFO not permitted here (needs CAP_SYS_NICE or an rtprio limit)")
    main, threads, count = out.stdout.split()
    assert main == "True" and threads == "True" and int(count) >= 2


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="no sched_setscheduler on this platform")
def test_a_spinning_fifo_thread_steps_below_the_threads_it_started():
    code = textwrap.dedent("""
        import os, threading, time
        from cosim.timing import realtime_priority, yield_to_own_threads
        if not realtime_priority(5, "test"):
            print("skip"); raise SystemExit
        ready = threading.Event()
        t = threading.Thread(target=lambda: (ready.set(), time.sleep(1)), daemon=True); t.start(); ready.wait()
        print(yield_to_own_threads(), os.sched_getparam(0).sched_priority, os.sched_getparam(t.native_id).sched_priority)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "skip":
        pytest.skip("SCHED_FIFO not permitted here")
    assert out.stdout.split() == ["True", "4", "5"]
