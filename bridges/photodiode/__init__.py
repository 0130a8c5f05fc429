"""The photodiode: photons as ground truth for motion-to-photon (docs/photodiode.md).

A light sensor on the headset's lens, read by an Arduino-class board on a USB serial port, reports
when a patch the client flashes on chosen frames lights up, in its own clock; probe exchanges over
the same serial link map that clock onto the session's. The client matches each photon to its
flash frame: measured motion-to-photon next to the modelled one.
"""
