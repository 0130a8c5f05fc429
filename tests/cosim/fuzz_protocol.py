"""Coverage-guided fuzzing of every protocol decoder (atheris, libFuzzer underneath).

    python tests/cosim/fuzz_protocol.py -max_total_time=600 tests/golden/fuzz-corpus   # make fuzz

Each input is split into multipart frames and handed to the four decoders and the vehicle id table
reader; a decoder may only answer ProtocolError. Anything else (a crash, another exception) is a
finding: libFuzzer stops and writes the input to ``crash-*``. The golden vectors seed the corpus."""
from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from cosim import protocol as p
    from cosim.errors import ProtocolError

DECODERS = [p.control_request_decoder(), p.control_reply_decoder(), p.broadcast_decoder(), p.bus_decoder()]


def split(data: bytes) -> list[bytes]:
    """An input as frames: the first byte says how many (0-19), the next ones how long each is."""
    if not data:
        return []
    n, rest = data[0] % 20, data[1:]
    frames = []
    for i in range(n):
        if i == n - 1 or len(rest) < 2:
            frames.append(rest)
            break
        length = int.from_bytes(rest[:2], "little")
        frames.append(rest[2:2 + length])
        rest = rest[2 + length:]
    return frames


def one_input(data: bytes) -> None:
    frames = split(data)
    for decoder in DECODERS:
        try:
            _, msg, arrays = decoder.decode(frames)
        except ProtocolError:
            continue
        if isinstance(msg, p.VehicleIds):
            p.vehicle_id_table(msg, arrays)


def join(frames: list[bytes]) -> bytes:
    out = bytes([len(frames)])
    for f in frames[:-1]:
        out += len(f).to_bytes(2, "little") + f
    return out + (frames[-1] if frames else b"")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
