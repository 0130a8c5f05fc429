"""SH assets end to end without sockets: the refine runtime's ShStream encodes SH_ASSET / SH_FRAME,
the bus decoder reads them, the client's ShApplier rebuilds the mesh; held against the head proxy's
true shape (spherical.deform) and against hostile payloads."""
import numpy as np
import pytest

from client.shassets import MAX_ASSETS, ShApplier
from cosim import protocol as p
from cosim.errors import ProtocolError
from refine_runtime.shstream import ShStream
from refine_runtime.spherical import deform

DECODER = p.bus_decoder()


def wire(topic: bytes, msg: p.Message, arrays: dict) -> tuple[p.Message, dict]:
    _, m, a = DECODER.decode([bytes(f) for f in p.encode(topic, msg, arrays)])
    return m, a


@pytest.fixture(scope="module")
def stream() -> ShStream:
    return ShStream(degree=16, subdivisions=3)


def test_client_rebuilds_the_deforming_head_from_coefficients(stream: ShStream) -> None:
    client = ShApplier()
    client.on_asset(*wire(p.TOPIC_ASSET, *stream.asset_message()))
    errors, sh_only = [], []
    for k, t in enumerate(np.linspace(0.0, 5.0, 8)):
        assert client.on_frame(*wire(p.TOPIC_SH, *stream.frame_message(k, int(t * 1e9), stream.coefficients(float(t)))))
        client.on_tick(k)
        truth = deform(stream.rest, float(t))
        errors.append(np.linalg.norm(client.mesh("head") - truth, axis=1).mean())
        sh_only.append(np.linalg.norm(client.mesh("head") - stream.detail - truth, axis=1).mean())
    # the jaw and nod move the head by centimetres; the rebuilt mesh is within 0.1 mm of the truth,
    # and the detail field matters (without it the error is several times larger)
    assert max(errors) < 1e-4
    assert np.mean(sh_only) > 3 * np.mean(errors)
    s = client.section()["sh_assets"]
    assert s["applied_frames"] == 8 and s["rejected"] == 0 and s["age_frames"]["max"] == 0
    assert s["bytes_per_frame"] == 3 * 17 ** 2 * 4 < 12 * stream.vertices / 2


def test_frames_before_their_asset_ask_for_it_and_the_newest_frame_wins(stream: ShStream) -> None:
    client = ShApplier()
    late = wire(p.TOPIC_SH, *stream.frame_message(5, 0, stream.coefficients(0.0)))
    assert client.on_frame(*late) is False and client.unknown_asset == 1
    client.on_asset(*wire(p.TOPIC_ASSET, *stream.asset_message()))
    assert client.on_frame(*wire(p.TOPIC_SH, *stream.frame_message(7, 0, stream.coefficients(1.0))))
    assert client.on_frame(*late)  # older than the one held: kept out
    client.on_tick(8)
    assert client.section()["sh_assets"]["age_frames"]["max"] == 1


def test_hostile_assets_and_frames_are_refused_by_name(stream: ShStream) -> None:
    msg, arrays = stream.asset_message()
    bad = dict(arrays, sphere=(arrays["sphere"] * 2).astype("<f4"))
    with pytest.raises(ProtocolError, match="'sphere' must hold unit vectors"):
        p.sh_asset_arrays(msg, bad)
    nan = arrays["detail"].copy()
    nan[3, 1] = np.nan
    with pytest.raises(ProtocolError, match="'detail' must be finite <f4"):
        p.sh_asset_arrays(msg, dict(arrays, detail=nan))
    faces = arrays["faces"].copy()
    faces[0, 0] = stream.vertices
    with pytest.raises(ProtocolError, match="'faces' must be <u4"):
        p.sh_asset_arrays(msg, dict(arrays, faces=faces))
    client = ShApplier()
    client.on_asset(*wire(p.TOPIC_ASSET, msg, bad))
    assert client.rejected == 1 and not client.assets
    client.on_asset(*wire(p.TOPIC_ASSET, msg, arrays))
    fmsg, farrays = stream.frame_message(1, 0, stream.coefficients(0.0))
    short = {"coeffs": farrays["coeffs"][:10]}
    assert client.on_frame(*wire(p.TOPIC_SH, fmsg, short))  # known asset: taken and refused
    other = p.ShFrame(frame=2, t_ns=0, asset="head", degree=15)
    assert client.on_frame(*wire(p.TOPIC_SH, other, {"coeffs": np.zeros((256, 3), "<f4")}))
    assert client.rejected == 3 and client.applied == 0
    with pytest.raises(ProtocolError, match="unknown or unexpected|<= 48"):
        DECODER.decode([bytes(f) for f in p.encode(p.TOPIC_SH, p.ShFrame(frame=1, t_ns=0, asset="x", degree=49))])


def test_the_number_of_assets_is_bounded() -> None:
    client = ShApplier()
    sphere = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], "<f4")
    arrays = {"rest": sphere, "sphere": sphere, "detail": np.zeros((3, 3), "<f4"), "faces": np.array([[0, 1, 2]], "<u4")}
    for k in range(MAX_ASSETS + 3):
        client.on_asset(p.ShAsset(frame=0, t_ns=0, asset=f"a{k}", vertices=3, degree=1), arrays)
    assert len(client.assets) == MAX_ASSETS and client.rejected == 3
