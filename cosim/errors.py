"""One exception root for the whole runtime, so callers can catch everything we raise."""


class CosimError(Exception):
    """Root of every error this project raises on purpose."""


class ProtocolError(CosimError):
    """A message that does not follow docs/protocol.md (bad version, type, field, size)."""


class ConfigError(CosimError):
    """A configuration file or value that is missing or invalid; the message names the key."""


class HandshakeError(CosimError):
    """The syncserver rejected us or did not answer in time."""


class InputFileError(CosimError):
    """A data file (scenario, trace, checkpoint, sound) that is missing or malformed."""


class OutputError(CosimError):
    """A file this process writes could not be written (a full disk, a read-only folder)."""
