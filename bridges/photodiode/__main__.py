"""``python -m bridges.photodiode --config FILE --name photodiode``: photon times from a light
sensor on a serial port, on the session clock (docs/photodiode.md)."""
import sys

from bridges.photodiode.bridge import PhotodiodeBridge
from cosim.runtime import run

if __name__ == "__main__":
    sys.exit(run(PhotodiodeBridge))
