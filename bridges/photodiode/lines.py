"""The device's line protocol (docs/photodiode.md): ASCII lines ending in ``\\n``.

    host -> device   P <seq>             a clock probe (seq: 0 .. 2^31-1)
    device -> host   p <seq> <t_us>      its reply: the device clock (micros()) when it read the probe
    device -> host   F <t_us>            the light rose above the threshold at device time t_us
    device -> host   H <name> <version>  hello, once after reset (name: no spaces)
    device -> host   E <text>            the device's own error message

``t_us`` counts microseconds since the device's reset, as unsigned 32 bits (micros() wraps after
71.6 minutes; the host unwraps it, see DeviceClock)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from cosim.errors import ProtocolError

MAX_LINE = 128
U32 = 2**32


@dataclass(frozen=True)
class ProbeReply:
    seq: int
    t_us: int


@dataclass(frozen=True)
class Flash:
    t_us: int


@dataclass(frozen=True)
class Hello:
    name: str
    version: str


@dataclass(frozen=True)
class DeviceError:
    text: str


Line = Union[ProbeReply, Flash, Hello, DeviceError]


def probe(seq: int) -> bytes:
    return b"P %d\n" % seq


def _u32(field: str, what: str) -> int:
    if not field.isdigit():
        raise ProtocolError(f"photodiode: {what} {field!r} is not an unsigned integer")
    value = int(field)
    if value >= U32:
        raise ProtocolError(f"photodiode: {what} {value} does not fit 32 bits")
    return value


def decode(raw: bytes) -> Line:
    """One line from the device (without or with its ``\\n``)."""
    if len(raw) > MAX_LINE:
        raise ProtocolError(f"photodiode: a line of {len(raw)} bytes (at most {MAX_LINE})")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProtocolError(f"photodiode: a line that is not ASCII: {raw[:40]!r}") from None
    kind, _, rest = text.partition(" ")
    fields = rest.split()
    if kind == "p" and len(fields) == 2:
        return ProbeReply(_u32(fields[0], "probe seq"), _u32(fields[1], "device time"))
    if kind == "F" and len(fields) == 1:
        return Flash(_u32(fields[0], "device time"))
    if kind == "H" and len(fields) == 2:
        return Hello(*fields)
    if kind == "E":
        return DeviceError(rest)
    raise ProtocolError(f"photodiode: unknown line {text[:40]!r} (expected 'p SEQ T_US', 'F T_US', 'H NAME VERSION' or 'E TEXT')")
