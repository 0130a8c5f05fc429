"""``python -m recording --config FILE --name recorder --out SESSION_DIR``: record the session to MCAP."""
import sys

from cosim.runtime import run
from recording.recorder import Recorder

if __name__ == "__main__":
    sys.exit(run(Recorder))
