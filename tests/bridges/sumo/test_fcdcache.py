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
    assert Path(info1.file).name == f"{sha256_of(src)}.fcd"
    for k in range(len(built)):
        same(built.snapshot(k), hit.snapshot(k))
    assert [p.name for p in cache.iterdir()] == [Path(info1.file).name]  # no temporary file left behind


def test_changed_trace_gets_a_new_entry(tmp_path):
    src, cache = trace(tmp_path), tmp_path / "cache"
    _, first = load_columns(src, cache)
    trace(tmp_path, steps=6)  # same path, new content
    cols, second = load_columns(src, cache)
    assert second.state == "built" and second.file != first.file and len(cols) == 6


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty_meta", "wrong_format", "other_trace", "bad_index",
                                    "non_finite", "offsets", "missing_array", "pickled_object_array", "short_column",
                                    "signals"])
def test_a_bad_cache_is_rebuilt(tmp_path, damage, caplog):
    src, cache = trace(tmp_path), tmp_path / "cache"
    good, info = load_columns(src, cache)
    rows = good.rows
    del good  # its columns map the files damaged below
    expected = parse_fcd(src)  # in memory, from the trace itself
    folder = Path(info.file)
    meta = json.loads((folder / "meta.json").read_text())
    values = folder / "values.npy"
    if damage == "truncated":
        values.write_bytes(values.read_bytes()[: values.stat().st_size // 2])
    elif damage == "garbage":
        values.write_bytes(b"\x93NUMPY" + bytes(range(256)) * 4)
    elif damage == "empty_meta":
        (folder / "meta.json").write_text("")
    elif damage in ("wrong_format", "other_trace"):
        meta.update({"format": 99} if damage == "wrong_format" else {"sha256": "0" * 64})
        (folder / "meta.json").write_text(json.dumps(meta))
    elif damage == "bad_index":
        np.save(folder / "vid.npy", np.full(rows, 10**6, dtype=np.int32))
    elif damage == "non_finite":
        np.save(values, np.full((rows, 7), np.nan))
    elif damage == "offsets":
        np.save(folder / "offsets.npy", expected.offsets[::-1].copy())
    elif damage == "missing_array":
        values.unlink()
    elif damage == "pickled_object_array":
        np.save(folder / "ids.npy", np.array([object()] * len(expected.ids), dtype=object), allow_pickle=True)
    elif damage == "short_column":
        np.save(folder / "signals.npy", np.zeros(rows - 1, dtype=np.int32))
    elif damage == "signals":
        np.save(folder / "signals.npy", np.full(rows, 1 << 20, dtype=np.int32))
    with pytest.raises(ValueError):
        read_cache(folder, sha256_of(src))
    with caplog.at_level(logging.WARNING, logger="sumo.fcdcache"):
        cols, again = load_columns(src, cache)
    assert again.state == "rebuilt" and str(folder) in caplog.text and str(src) in caplog.text
    for k in range(len(expected)):
        same(cols.snapshot(k), expected.snapshot(k))
    assert load_columns(src, cache)[1].state == "hit"  # the rebuilt cache is good


def _resident_kb(path: Path) -> int:
    """This process's resident memory in mappings of ``path``, as the kernel counts it (smaps Rss)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if "-" in line.split(" ", 1)[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_a_cached_trace_replays_memory_mapped_and_lets_go_behind(tmp_path):
    """The row columns are mapped, not read: loading costs no memory for the rows, and what the
    replay has passed leaves the resident set (bounded memory for a trace of any size)."""
    src, cache = trace(tmp_path, steps=400), tmp_path / "cache"
    load_columns(src, cache)
    cols, info = load_columns(src, cache)
    values = Path(info.file) / "values.npy"
    assert info.state == "hit" and isinstance(cols.values, np.memmap) and values.stat().st_size > 4_000_000
    after_load = _resident_kb(values)  # the load's consistency check read it, a chunk at a time, and let go
    float(np.asarray(cols.values).sum())  # the whole replay's worth of rows, read
    touched = _resident_kb(values)
    cols.release_before(len(cols))
    released = _resident_kb(values)
    assert after_load < 1024 and touched > 4000 and released < 64, (after_load, touched, released)
    same(cols.snapshot(len(cols) - 1), parse_fcd(src).snapshot(len(cols) - 1))  # it reads back after


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



def test_a_long_parse_says_how_far_it_is(tmp_path, caplog):
    src = trace(tmp_path, steps=400)
    with caplog.at_level(logging.INFO, logger="sumo.fcd"):
        parse_fcd(src)
    reports = [r.getMessage() for r in caplog.records if "% read" in r.getMessage()]
    assert 3 <= len(reports) <= 11 and "timesteps" in reports[0]
