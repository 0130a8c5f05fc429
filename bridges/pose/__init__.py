"""The pose bridge: tracked-device poses (OpenVR live, trace replay, synthetic) on the master clock."""
