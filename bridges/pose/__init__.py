"""The pose bridge: tracked-device poses (OpenVR live, trace replay, synthetic) on the master clock."""
from cosim.protocol import TOPIC_OPENVR  # noqa: F401  (re-exported: the topic of OpenVR timing events)

