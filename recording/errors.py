"""Errors of the recording package."""
from cosim.errors import InputFileError


class RecordingError(InputFileError):
    """A session recording (.mcap) that is missing, not MCAP, or holds a record we cannot read."""
