"""``python -m bridges.sumo --config FILE --name sumo [--out DIR]``: the SUMO bridge component."""
import sys

from bridges.sumo.component import SumoComponent
from cosim.runtime import run

if __name__ == "__main__":
    sys.exit(run(SumoComponent))
