"""The binary cache of parsed FCD traces: hits, rebuilds of bad cache files, and replay from columns."""
import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bridges.sumo.fcd import parse_fcd, read_fcd
from bridges.sumo.fcdsource import FcdSource
from bridges.sumo.fcdcache import load_columns, main, read_cache, sha256_of
from cosim.errors import InputFileError


def trace(tmp_path: Path, steps: int = 5, name: str = "t.xml.gz") -> Path:
    body = ['<fcd-export>']
    for k in range(steps):
        body.append(f'<timestep time="{k * 0.1:.2f}">')
        for v in range(k + 1):  # one more vehicle every step; the first steps carry acceleration
            acc = f' acceleration="{-0.5 * v:.2f}"' if k < 2 else ""
            body.append(f'<vehicle id="v&amp;{v}" x="{v + k:.2f}" y="{2 * v:.2f}" angle="{10 * v}" speed="{k}"'
                        f' type="{"bus" if v % 2 else "car"}"{acc} signals="{8 * v}"/>')
        # a person before the vehicles in the file, named like one of them (SUMO keeps the two apart)
        body.insert(len(body) - k - 1, '<person id="v&amp;0" x="0" y="0" angle="0" speed="1"/>')
        body.append('</timestep>')
    path = tmp_path / name
    path.write_bytes(gzip.compress(("".join(body) + "</fcd-export>").encode()))
    return path


def same(a, b):
    assert (a.sim_ns, a.ids, a.types, a.persons, a.classes) == (b.sim_ns, b.ids, b.types, b.persons, b.classes)
    assert np.array_equal(a.signals, b.signals)
    for k in ("x", "y", "z", "angle", "speed", "slope"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert (a.accel is None) == (b.accel is None) and (a.accel is None or np.array_equal(a.accel, b.accel))


def test_columns_match_the_trace(tmp_path):
    snaps = list(read_fcd(trace(tmp_path)))
    assert [len(s) for s in snaps] == [2, 3, 4, 5, 6] and [s.persons for s in snaps] == [1] * 5  # persons last
    assert snaps[1].ids == ["v&0", "v&1", "v&0"] and snaps[1].types == ["car", "bus", ""]
    assert snaps[1].classes == ["", "", "pedestrian"] and snaps[1].signals.tolist() == [0, 8, 0]
    assert snaps[1].accel.tolist() == [0.0, -0.5, 0.0] and snaps[2].accel is None
    assert snaps[4].x.tolist() == [4.0, 5.0, 6.0, 7.0, 8.0, 0.0] and snaps[3].sim_ns == 300_000_000


def test_built_then_hit_gives_the_same_columns(tmp_path):
    src, cache = trace(tmp_path), tmp_path / "cache"
    built, info1 = load_columns(src, cache)
    hit, info2 = load_columns(src, cache)
    assert (info1.state, info2.state) == ("built", "hit") and info1.file == info2.file
    assert Path(info1.file).name == f"{sha256_of(src)}.npz"
    for k in range(len(built)):
        same(built.snapshot(k), hit.snapshot(k))
    assert [p.name for p in cache.iterdir()] == [Path(info1.file).name]  # no temporary file left behind


def test_changed_trace_gets_a_new_entry(tmp_path):
    src, cache = trace(tmp_path), tmp_path / "cache"
    _, first = load_columns(src, cache)
    trace(tmp_path, steps=6)  # same path, new content
    cols, second = load_columns(src, cache)
    assert second.state == "built" and second.file != first.file and len(cols) == 6


def _rewrite(file: Path, **replace) -> None:
    with np.load(file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(replace)
    with file.open("wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "wrong_format", "other_trace", "bad_index",
                                    "non_finite", "offsets", "missing_array", "pickled_object_array"])
def test_a_bad_cache_file_is_rebuilt(tmp_path, damage, caplog):
    src, cache = trace(tmp_path), tmp_path / "cache"
    good, info = load_columns(src, cache)
    file = Path(info.file)
    raw = file.read_bytes()
    with np.load(file) as z:
        meta = json.loads(z["meta"].tobytes())
    if damage == "truncated":
        file.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        file.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    elif damage == "empty":
        file.write_bytes(b"")
    elif damage in ("wrong_format", "other_trace"):
        meta.update({"format": 99} if damage == "wrong_format" else {"sha256": "0" * 64})
        _rewrite(file, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    elif damage == "bad_index":
        _rewrite(file, vid=np.full(good.rows, 10**6, dtype=np.int32))
    elif damage == "non_finite":
        _rewrite(file, values=np.full_like(good.values, np.nan))
    elif damage == "offsets":
        _rewrite(file, offsets=good.offsets[::-1].copy())
    elif damage == "missing_array":
        with np.load(file) as z:
            arrays = {k: z[k] for k in z.files if k != "values"}
        with file.open("wb") as fh:
            np.savez(fh, **arrays)
    elif damage == "pickled_object_array":
        _rewrite(file, ids=np.array([object()] * len(good.ids), dtype=object))  # never unpickled
    with pytest.raises(ValueError):
        read_cache(file, sha256_of(src))
    with caplog.at_level(logging.WARNING, logger="sumo.fcdcache"):
        cols, again = load_columns(src, cache)
    assert again.state == "rebuilt" and str(file) in caplog.text and str(src) in caplog.text
    for k in range(len(good)):
        same(cols.snapshot(k), good.snapshot(k))
    assert load_columns(src, cache)[1].state == "hit"  # the rebuilt file is good


def test_unusable_cache_dir_still_replays(tmp_path, caplog):
    src = trace(tmp_path)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING, logger="sumo.fcdcache"):
        cols, info = load_columns(src, blocker)
    assert info.state == "uncached" and "cannot write the FCD cache" in caplog.text and len(cols) == 5
    assert load_columns(src, None)[1].state == "uncached"


def test_malformed_trace_is_rejected_and_not_cached(tmp_path):
    src, cache = tmp_path / "bad.xml", tmp_path / "cache"
    src.write_text('<fcd-export><timestep time="0"><vehicle id="a" x="1" y="2" speed="3"/></timestep></fcd-export>')
    with pytest.raises(InputFileError, match=r"bad.xml'.*vehicle 'a' lacks attribute 'angle'"):
        load_columns(src, cache)
    assert not cache.exists() or not any(cache.iterdir())
    with pytest.raises(InputFileError, match="does not exist"):
        load_columns(tmp_path / "gone.xml", cache)


def test_source_steps_and_seeks_both_ways(tmp_path):
    src = FcdSource(trace(tmp_path), tmp_path / "cache")
    first = src.start()
    assert first.sim_ns == 0 and src.info["fcd_cache"] == "built" and src.info["fcd_timesteps"] == 5
    assert src.seek(250_000_000).sim_ns == 200_000_000  # the last timestep at or before
    assert src.step().sim_ns == 300_000_000
    assert src.seek(0).sim_ns == 0 and src.step().sim_ns == 100_000_000  # backwards
    assert src.seek(-5).sim_ns == 0
    assert src.seek(10**12).sim_ns == 400_000_000 and src.step() is None and src.step() is None
    same(src.seek(300_000_000), parse_fcd(src.path).snapshot(3))


def test_cli_converts_ahead(tmp_path, capsys):
    src, cache = trace(tmp_path), tmp_path / "cache"
    assert main([str(src), "--cache-dir", str(cache)]) == 0
    assert "built" in capsys.readouterr().out
    assert main([str(src), str(tmp_path / "nope.xml"), "--cache-dir", str(cache)]) == 1
    captured = capsys.readouterr()
    assert "hit" in captured.out and "nope.xml' does not exist" in captured.err

