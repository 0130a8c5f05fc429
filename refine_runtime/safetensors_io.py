"""Reading a safetensors file (tensors + string metadata, never pickle) with the project's errors.

Shared by sequence and checkpoint loading, so both report a missing, unreadable or foreign file the same way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cosim.errors import InputFileError


def read_safetensors(path: Path, framework: str, fmt: str, error: type[InputFileError], where: str,
                     unreadable: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Metadata and every tensor of ``path`` (``framework`` "numpy" or "pt"), whose metadata format must be ``fmt``.

    Raises ``error`` naming ``where``: "<where> does not exist", "<where> <unreadable>: <cause>", or a format mismatch.
    """
    from safetensors import SafetensorError, safe_open
    if not path.is_file():
        raise error(f"{where} does not exist")
    try:
        with safe_open(str(path), framework=framework) as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise error(f"{where} {unreadable}: {exc}") from None
    if meta.get("format") != fmt:
        raise error(f"{where}: format {meta.get('format')!r}, expected {fmt!r}")
    return meta, tensors
