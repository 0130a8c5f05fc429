import pytest

from tests.conftest import wait_for


@pytest.fixture
def board(procs, tmp_path):
    """board(*emulator options) -> (link, screen, truth): the EMULATED photodiode board, running."""
    def start(*extra: str):
        link, screen, truth = tmp_path / "tty", tmp_path / "screen", tmp_path / "truth.jsonl"
        procs.start("-m", "bridges.photodiode.emulator", "--link", str(link), "--screen", str(screen),
                    "--truth", str(truth), *extra, log="emulator")
        assert wait_for(lambda: link.exists() and screen.exists()), procs.log("emulator")
        return link, screen, truth
    return start
