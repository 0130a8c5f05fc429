"""Audio outputs: a WAV file rendered at exact sample positions, or a PortAudio device (JACK included)."""
