"""Stop handling shared by every process: a clean first stop, a bounded grace, no survivors."""
import signal
import subprocess
import sys
import time

from tests.conftest import REPO

STUCK = """
import os, time
from cosim.process import install_stop_handlers
# os.write: a signal handler must not re-enter the buffered stdout that print() may be inside
install_stop_handlers(lambda name: os.write(1, f"stop {name}\\n".encode()), grace_s=1)
print("ready", flush=True)
while True:  # a loop that never looks at its stop flag
    time.sleep(0.05)
"""


def start_stuck() -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", STUCK], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_loop_that_ignores_its_stop_flag_is_ended_after_the_grace():
    proc = start_stuck()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGALRM
    assert 0.8 < time.monotonic() - t0 < 5
    assert "stop SIGTERM" in proc.stdout.read()


def test_a_second_signal_ends_the_process_at_once():
    proc = start_stuck()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(2) == -signal.SIGINT
