"""Latest-only worker, analysis command, and the component inside a real session."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import yaml

from refine_runtime.runtime import LatestOnly, RefineWorker
from refine_runtime.sampler import AssetIndex, Sampler

REPO = Path(__file__).resolve().parents[2]


def test_latest_only_mailbox_replaces_stale_work():
    box = LatestOnly()
    for k in range(5):
        box.put((k, k))
    assert box.take(0) == (4, 4) and box.replaced == 4
    assert box.take(0.01) is None


def test_worker_never_queues_and_never_blocks_the_submitter(tiny):
    _, _, seq, ck = tiny
    published = []
    release = threading.Event()

    def publish(frame, t_ns, base_frame, offsets):
        release.wait(5)
        published.append((frame, base_frame, offsets))

    worker = RefineWorker(Sampler(ck.model, AssetIndex(seq.rest, seq.faces, ck.chart, ck.uv, seq.stitches), seq.fps),
                          seq.static_only(), publish)
    worker.start()
    t0 = time.perf_counter()
    for k in range(50):
        worker.submit(k, int(k * 1e9 / 90))
        time.sleep(0.0005)
    submit_s = time.perf_counter() - t0
    release.set()
    deadline = time.monotonic() + 5
    while (not published or published[-1][0] != 49) and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert submit_s < 1.0  # generous: submit only swaps a slot
    assert published[-1][0] == 49 and published[-1][1] == 49
    assert worker.stats.refreshed == len(published) < 50
    assert worker.stats.skipped == 50 - len(published)
    offsets = published[-1][2]
    assert offsets.dtype == np.float16 and offsets.shape == (seq.n, 3)


def test_analyze_command(tiny):
    _, cfg, _, _ = tiny
    out = subprocess.run([sys.executable, "-m", "refine_runtime.analyze", "--sequence", cfg.output.sequence,
                          "--checkpoint", cfg.output.checkpoint], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Normal" in out.stdout or "normal_variation" in out.stdout
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    assert rep["ground_truth"]["normal_variation"]["mean"] > rep["input"]["normal_variation"]["mean"]
    assert rep["quality_all_frames"]["error_ratio"] < 1.0
    bad = subprocess.run([sys.executable, "-m", "refine_runtime.analyze", "--sequence", "/nonexistent.safetensors"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_refine_in_a_session_and_the_client_applies_it(tiny, tmp_path):
    cfg_path, _, _, _ = tiny
    config = {
        "session": {"name": "refine-test", "mode": "realtime", "rate_hz": 90, "duration_s": 3},
        "network": {"base_port": 0},
        "components": {
            "client": {"module": "client", "required": True},
            "refine": {"module": "refine_runtime", "settings": {"train_config": str(cfg_path), "threads": 1,
                                                                "sh": {"degree": 12, "subdivisions": 3}}},
        },
    }
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "s"
    proc = subprocess.run([sys.executable, "run_session.py", "--config", str(path), "--out", str(out), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    summary = json.loads((out / "summary.json").read_text())
    assert proc.returncode == 0, (proc.stderr, (out / "logs" / "refine.log").read_text())
    r = summary["refine"]
    assert r["vertices"] > 0 and r["steps"] == 0 and r["mode"] == "regressor" and r["device"].startswith("cpu")
    assert r["refreshed"] > 0 and r["refresh_hz"] > 0 and r["frame_ms"]["p50"] > 0
    assert r["applied_frames"] > 0 and r["residual_age_frames"]["p50"] is not None
    assert r["rejected_residuals"] == 0
    assert r["stitch"]["ok"] and r["stitch"]["groups"] > 0
    assert r["stitch"]["before_averaging_mm"]["max"] is not None  # the model's own gap, checked before averaging
    # the head proxy streamed as SH coefficients and rebuilt by the client every frame
    sh, shown = r["sh"], summary["sh_assets"]
    assert sh["frames"] > 0 and sh["bytes_per_frame"] == 3 * 13 ** 2 * 4 < sh["vertex_bytes_per_frame"]
    assert sh["l2_cm"]["max"] < 0.05
    assert shown["assets"] == {"head": {"vertices": sh["vertices"], "degree": 12}}
    assert shown["applied_frames"] > 0 and shown["bytes_per_frame"] == sh["bytes_per_frame"]
    assert shown["rejected"] == 0
