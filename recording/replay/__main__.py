"""``python -m recording.replay --config FILE --name replay``: re-publish a recorded session's streams."""
import sys

from cosim.runtime import run
from recording.replay.player import Replay

if __name__ == "__main__":
    sys.exit(run(Replay))
