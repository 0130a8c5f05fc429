"""Sending and receiving multipart messages with less overhead than pyzmq's ``*_multipart``.

``recv_multipart`` asks ``getsockopt(RCVMORE)`` after every part, and pyzmq builds a ``SocketOption``
enum for each call; a received ``Frame`` already knows whether more parts follow. ``send_multipart``
combines enum flags and re-checks every part. Measured on this 2-core VM: receive 6.6 -> 3.3 µs,
send 12.7 -> 4.5 µs per two-part message. At 90 Hz times 16 subscribers, or 1 kHz poses, that is
CPU the host needs for the next process's wake-up.
"""
from __future__ import annotations

import zmq

_SNDMORE = int(zmq.SNDMORE)


def send_message(sock: zmq.Socket, parts: list, copy: bool = True) -> None:
    """Send ``parts`` as one multipart message (blocking, like ``send_multipart``)."""
    last = len(parts) - 1
    for i, part in enumerate(parts):
        sock.send(part, _SNDMORE if i < last else 0, copy=copy)


def recv_message(sock: zmq.Socket, copy: bool = True, flags: int = zmq.NOBLOCK) -> list:
    """All parts of the next message (bytes, or ``zmq.Frame`` with ``copy=False``); raises
    ``zmq.Again`` when none is queued (with NOBLOCK)."""
    frame = sock.recv(flags, copy=False)
    parts = [frame.bytes if copy else frame]
    while frame.more:
        frame = sock.recv(flags, copy=False)
        parts.append(frame.bytes if copy else frame)
    return parts
