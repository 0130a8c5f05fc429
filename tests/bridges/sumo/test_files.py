"""Missing or malformed scenario files fail with the file and the problem named."""
import gzip
from pathlib import Path

import pytest

from bridges.sumo.fcd import read_fcd
from bridges.sumo.scenario import check_sumocfg
from cosim.errors import InputFileError

GOOD_STEP = '<timestep time="0.00"><vehicle id="a" x="1" y="2" angle="90" speed="3" type="t"/></timestep>'


def fcd(tmp_path: Path, body: str, name: str = "t.xml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, problem", [
    ("", "is empty"),
    ("<fcd-export><timestep time='0'>", "not well-formed"),
    ("<routes/>", "expected <fcd-export>"),
    ("<fcd-export></fcd-export>", "has no <timestep>"),
    ("<fcd-export><timestep time='zero'/></fcd-export>", "time='zero'"),
    ('<fcd-export><timestep time="1"><vehicle id="a" x="1" y="2" speed="3"/></timestep></fcd-export>',
     "vehicle 'a' lacks attribute 'angle'"),
    ('<fcd-export><timestep time="1"><vehicle id="a" x="one" y="2" angle="0" speed="3"/></timestep></fcd-export>',
     "vehicle 'a'"),
    ('<fcd-export><timestep time="1"><vehicle id="a" x="nan" y="2" angle="0" speed="3"/></timestep></fcd-export>',
     "non-finite"),
    (f'<fcd-export>{GOOD_STEP}{GOOD_STEP}</fcd-export>', "does not come after"),
])
def test_malformed_fcd(tmp_path, body, problem):
    path = fcd(tmp_path, body)
    with pytest.raises(InputFileError) as err:
        list(read_fcd(path))
    assert str(path) in str(err.value) and problem in str(err.value)


def test_missing_and_truncated_gz(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        list(read_fcd(tmp_path / "nope.xml.gz"))
    good = gzip.compress(f"<fcd-export>{GOOD_STEP}</fcd-export>".encode() * 50)
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputFileError, match="cut.xml.gz"):
        list(read_fcd(path))


def test_good_gz(tmp_path):
    path = tmp_path / "ok.xml.gz"
    path.write_bytes(gzip.compress(f"<fcd-export>{GOOD_STEP}</fcd-export>".encode()))
    (snap,) = list(read_fcd(path))
    assert snap.ids == ["a"] and snap.x[0] == 1.0 and snap.z[0] == 0.0 and snap.accel is None


def test_sumocfg_errors(tmp_path):
    with pytest.raises(InputFileError, match=r"'.*missing.sumocfg' does not exist"):
        check_sumocfg(tmp_path / "missing.sumocfg")
    bad = fcd(tmp_path, "<configuration><input>", "bad.sumocfg")
    with pytest.raises(InputFileError, match=r"bad.sumocfg' is not well-formed XML"):
        check_sumocfg(bad)
    no_net = fcd(tmp_path, '<configuration><input><net-file value="gone.net.xml"/></input></configuration>', "a.sumocfg")
    with pytest.raises(InputFileError, match=r"net-file of .*a.sumocfg.*gone.net.xml' does not exist"):
        check_sumocfg(no_net)
    fcd(tmp_path, "<net><edge", "broken.net.xml")
    broken = fcd(tmp_path, '<configuration><input><net-file value="broken.net.xml"/></input></configuration>', "b.sumocfg")
    with pytest.raises(InputFileError, match=r"net-file .*b.sumocfg.*broken.net.xml. is not well-formed XML"):
        check_sumocfg(broken)
