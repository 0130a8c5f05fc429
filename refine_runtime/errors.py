"""Errors of the refinement runtime; every message names the file, key or value at fault."""
from __future__ import annotations

from cosim.errors import InputFileError


class AssetError(InputFileError):
    """A sewing pattern, mesh or sequence file that is missing, malformed or inconsistent."""


class CheckpointError(InputFileError):
    """A checkpoint that is missing, corrupt, or does not match the asset it is used with."""
