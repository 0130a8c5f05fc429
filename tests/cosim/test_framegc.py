"""The between-frames garbage collector of the component runtime."""
import gc

from cosim.framegc import FrameGc


def test_frame_gc_collects_between_frames_only():
    fgc = FrameGc()
    fgc.start()
    try:
        assert not gc.isenabled()
        garbage = []
        for _ in range(5 * fgc.thresholds[0]):
            a: list = []
            a.append(a)  # a cycle only the collector can free
            garbage.append(a)
        garbage.clear()
        assert gc.get_count()[0] > fgc.thresholds[0]
        fgc.between_frames()
        assert gc.get_count()[0] < fgc.thresholds[0]
        assert fgc.section()["gc_collections"] == 1
    finally:
        fgc.stop()
        gc.unfreeze()
    assert gc.isenabled()
