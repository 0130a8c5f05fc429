"""cosim.sockets: multipart send/receive without pyzmq's per-part overhead, same semantics."""
import pytest
import zmq

from cosim.sockets import recv_message, send_message


def test_round_trip_of_one_to_many_parts_and_again_when_empty():
    ctx = zmq.Context.instance()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://sockets-test")
    b.connect("inproc://sockets-test")
    try:
        with pytest.raises(zmq.Again):
            recv_message(b)
        for parts in ([b"one"], [b"topic", b"header"], [b"t", b"h", memoryview(b"payload"), b""]):
            send_message(a, parts)
            assert b.poll(1000)
            assert recv_message(b) == [bytes(x) for x in parts]
        send_message(a, [b"t", memoryview(bytearray(100_000))], copy=False)
        assert b.poll(1000)
        frames = recv_message(b, copy=False)
        assert [type(f) for f in frames] == [zmq.Frame, zmq.Frame] and len(frames[1].bytes) == 100_000
        send_message(a, [b"x", b"y"])
        assert b.poll(1000) and b.recv_multipart() == [b"x", b"y"]  # interoperates with pyzmq's own
    finally:
        a.close(linger=0)
        b.close(linger=0)
