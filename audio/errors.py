"""Errors of the audio component."""
from __future__ import annotations

from cosim.errors import CosimError, InputFileError


class SoundFileError(InputFileError):
    """A sound file that is missing, unreadable or not audio; the message names the file."""


class AudioBackendError(CosimError):
    """The audio output (PortAudio device, JACK server, WAV file) could not be opened or failed."""
