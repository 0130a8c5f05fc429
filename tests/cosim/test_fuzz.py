"""The protocol decoders under a coverage-guided fuzzer (tests/cosim/fuzz_protocol.py, atheris) for a
bounded time, seeded with the golden vectors; ``make fuzz`` runs it longer. Inputs that once killed
a process are kept as regression cases."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cosim import golden
from tests.conftest import REPO
from tests.cosim import fuzz_protocol as fuzz

pytestmark = pytest.mark.timeout(180)

FOUND = [  # (what it did before, the frames)
    ("UnicodeDecodeError in the syncserver", [b"ctl", b"\x82\xa4type\xa3BYE\xa6reason\xa1\xff"]),
    ("UnicodeDecodeError in the recorder and client", [b"pose", b"\x82\xa4type\xa5EVENT\xa4kind\xa1\xff"]),
    ("RecursionError in Decoder._explain", [b"ctl", b"\x81\xa4type" + b"\x91" * 1000 + b"\xc0"]),
    ("RecursionError, deeper", [b"pose", b"\x83\xa4type\xa5EVENT\xa1v\x04\xa4data\x81\xa1x" + b"\x91" * 60000 + b"\xc0"]),
]


@pytest.mark.parametrize("frames", [f for _, f in FOUND], ids=[w for w, _ in FOUND])
def test_inputs_that_once_killed_a_process_are_rejected(frames):
    assert fuzz.split(fuzz.join(frames)) == frames
    fuzz.one_input(fuzz.join(frames))  # raises anything but ProtocolError: fails


def test_the_fuzzer_finds_no_input_a_decoder_does_not_reject_cleanly(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, (_, topic, msg, arrays) in enumerate(golden.vectors()):
        frames = [bytes(f) for f in golden.p.encode(topic, msg, arrays)]
        (corpus / f"golden{i}").write_bytes(fuzz.join(frames))
    for i, (_, frames) in enumerate(FOUND):
        (corpus / f"found{i}").write_bytes(fuzz.join(frames))
    res = subprocess.run([sys.executable, str(REPO / "tests" / "cosim" / "fuzz_protocol.py"), "-max_total_time=45",
                          "-rss_limit_mb=4096", "-max_len=70000", str(corpus)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=150,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr and "cov:" in res.stderr  # it ran, with coverage feedback
