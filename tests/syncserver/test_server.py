"""SyncServer bookkeeping in-process (real sockets bound, no clients)."""
from cosim.config import Endpoints, SessionSettings
from syncserver.server import SyncServer
from tests.conftest import free_endpoints


def test_frames_behind_comes_from_the_acks_own_done_time():
    srv = SyncServer(SessionSettings(mode="realtime"), Endpoints(**free_endpoints()), set())
    try:
        srv.epoch_ns = srv.now()
        for _ in range(5):
            srv._emit()
        sent = srv.frame_sent
        assert srv._frames_emitted_by(0, sent[0]) == 0  # done before tick 1 went out
        assert srv._frames_emitted_by(0, sent[1] - 1) == 0
        assert srv._frames_emitted_by(0, sent[3]) == 3  # ticks 1..3 were out when it finished 0
        assert srv._frames_emitted_by(1, sent[4] + 10**9) == 3  # never past the newest tick
    finally:
        srv.close()


def test_the_stats_module_loads_what_np_percentile_would_import_lazily():
    """np.percentile imports numpy.ma on first use (~17 ms); the syncserver's first STATUS after START
    was that first use and made one tick per session 11-20 ms late."""
    import subprocess
    import sys
    code = "import sys, cosim.stats; print('numpy.ma' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr


def test_unpaced_lockstep_emits_nothing_before_the_epoch():
    """Tick 0 of an unpaced session used to go out at once, start_delay_s before the epoch: session
    times of the first ~0.2 s of ticks were negative."""
    from cosim.config import Endpoints, SessionSettings
    from tests.conftest import free_endpoints
    srv = SyncServer(SessionSettings(mode="lockstep", pace=0, start_delay_s=0.05), Endpoints(**free_endpoints()), set())
    try:
        srv._start()
        assert not srv._due()  # the epoch is 50 ms ahead
        import time
        time.sleep(0.06)
        assert srv._due()
        srv._emit()
        assert srv.frame_t[0] >= 0
    finally:
        srv.close()
