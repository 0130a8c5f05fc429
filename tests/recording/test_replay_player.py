"""The replay player on real sockets: a late joiner's id-table request is answered from the recording."""
import time

import zmq

from recording.replay.config import Settings
from recording.replay.player import Player
from recording.replay.source import Item
from cosim.config import Endpoints
from cosim import protocol as p
from cosim.node import Node
from tests.conftest import free_endpoints


def _ids_item(src: str, version: int) -> Item:
    msg = p.VehicleIds(frame=version, t_ns=version, src=src, ids_version=version)
    frames = [bytes(f) for f in p.encode(p.TOPIC_VEHICLE_IDS, msg, p.vehicle_ids_arrays([0], ["v0"], ["car"]))]
    return Item(version, version, p.TOPIC_VEHICLE_IDS, frames, src)


def test_a_sumo_ids_request_re_sends_the_newest_table_of_each_source_byte_for_byte():
    eps = Endpoints(**free_endpoints())
    bus = zmq.Context.instance().socket(zmq.SUB)  # where the syncserver's proxy would take them in
    bus.setsockopt(zmq.SUBSCRIBE, b"")
    bus.bind(eps.bus_in)
    tables = [_ids_item("sumo", 1), _ids_item("sumo", 2), _ids_item("other", 7)]
    with Node("replay", eps, publish=True) as node:
        player = Player(node.publish_frames, node.session_ns, Settings(source="x"), iter([]))
        player.on_request(p.Request(what="sumo.ids"))  # nothing replayed yet: nothing to answer
        assert player.requests_answered == 0
        deadline = time.monotonic() + 5
        while not bus.poll(20) and time.monotonic() < deadline:  # PUB/SUB: wait until the path is up
            player._send(tables[0])
        while bus.poll(100):
            bus.recv_multipart()
        for item in tables:
            player._send(item)
        for item in tables:
            assert bus.poll(2000) and bus.recv_multipart() == item.frames
        player.on_request(p.Request(what="sumo.pause"))  # not ours to answer
        player.on_request(p.Request(what="sumo.ids"))
        got = [bus.recv_multipart() for _ in range(2) if bus.poll(2000)]
        assert sorted(map(tuple, got)) == sorted([tuple(tables[1].frames), tuple(tables[2].frames)])
        assert not bus.poll(200)
        assert player.requests_answered == 1
        assert player.sections("replay")["replay"]["replay"]["id_requests_answered"] == 1
    bus.close()
