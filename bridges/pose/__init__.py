"""The pose bridge: tracked-device poses (OpenVR live, trace replay, synthetic) on the master clock."""
from syncserver.protocol import TOPIC_EVENTS

# OpenVR display/frame timing events: a sub-topic of TOPIC_EVENTS (prefix subscribers still get them).
TOPIC_OPENVR = TOPIC_EVENTS + b".openvr"
