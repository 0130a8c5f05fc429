from pathlib import Path

import pytest

from cosim.config import NetworkSettings, joined, resolve_endpoints

from session.config import load_config
from cosim.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def load(raw):
    return load_config(raw=raw)


def test_bundled_configs_are_valid():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        load_config(path)


@pytest.mark.parametrize("raw,needles", [
    ({"session": {"rate_hz": "fast"}}, ["session.rate_hz", "'fast'"]),
    ({"session": {"rate_hz": -5}}, ["session.rate_hz", "-5"]),
    ({"session": {"mode": "turbo"}}, ["session.mode", "'turbo'"]),
    ({"session": {"duraton_s": 3}}, ["session", "duraton_s"]),
    ({"sesion": {}}, ["sesion"]),
    ({"components": {"client": {"module": "client", "settings": {"display": {"refresh_hz": 0}}}}},
     ["components.client.settings.display.refresh_hz", "0"]),
    ({"components": {"client": {"module": "client", "settings": {"displai": {}}}}},
     ["components.client.settings", "displai"]),
    ({"components": {"x": {"module": "no_such_module_here"}}}, ["no_such_module_here", "does not exist"]),
    ({"components": {"ue": {"module": "unreal", "launch": False, "settings": {"a": 1}}}},
     ["components.ue.settings", "launch: false", "['a']"]),
    ({"components": {"ue": {"module": "unreal", "launch": "no"}}}, ["components.ue.launch", "'no'"]),
    ({"components": {"pose": {"module": "bridges.pose", "launch": False, "settings": {"rate_hz": -1}}}},
     ["components.pose.settings.rate_hz", "-1"]),  # ours on another host: its settings are checked here too
    ({"components": {"c": {"module": "client", "rt_priority": -1}}}, ["components.c.rt_priority", "-1"]),
    ({"components": {"Bad-Name": {"module": "client"}}}, ["components", "Bad-Name"]),
    ({"session": {"heartbeat_timeout_s": 0.1, "heartbeat_interval_s": 0.5}}, ["heartbeat_timeout_s"]),
    ([1, 2], ["mapping"]),
])
def test_bad_config_names_key_and_value(raw, needles):
    with pytest.raises(ConfigError) as exc:
        load(raw)
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("session: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml.*not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="bin.yaml"):
        load_config(binary)


def test_loopback_by_default():
    eps = resolve_endpoints(NetworkSettings(base_port=6000))
    assert eps.control == "tcp://127.0.0.1:6000" and eps.bus_out == "tcp://127.0.0.1:6003"
    with pytest.raises(ConfigError, match="not a loopback address"):
        load({"network": {"host": "10.1.2.3"}})
    with pytest.raises(ConfigError, match="allow_remote"):
        load({"network": {"control": "tcp://*:5000"}})
    cfg = load({"network": {"host": "10.1.2.3", "allow_remote": True}})
    assert resolve_endpoints(cfg.network).ticks == "tcp://10.1.2.3:5551"
    with pytest.raises(ConfigError, match="network.ticks"):
        load({"network": {"ticks": "udp://127.0.0.1:1"}})


def test_free_ports_are_distinct():
    eps = resolve_endpoints(NetworkSettings(base_port=0))
    assert len({eps.control, eps.ticks, eps.bus_in, eps.bus_out}) == 4


def test_join_points_a_component_at_another_hosts_syncserver():
    net = load({"network": {"host": "10.1.2.3", "allow_remote": True, "secrets": "/nowhere",
                            "control": "tcp://10.1.2.3:7000"}}).network
    eps = resolve_endpoints(joined(net, "10.9.8.7:6000"))
    assert (eps.control, eps.ticks, eps.bus_in, eps.bus_out) == tuple(f"tcp://10.9.8.7:{p}" for p in range(6000, 6004))
    assert resolve_endpoints(joined(net, "10.9.8.7")).control == "tcp://10.9.8.7:5550"  # base_port
    assert resolve_endpoints(joined(net, "[fd00::7]:6000")).control == "tcp://[fd00::7]:6000"
    for bad in ("10.9.8.7:0", "10.9.8.7:99999", "a:b:c", "", "host:"):
        with pytest.raises(ConfigError, match="--join"):
            joined(net, bad)
    with pytest.raises(ConfigError, match="allow_remote"):  # beyond loopback only with CURVE
        joined(NetworkSettings(), "10.9.8.7")
