"""Builds the Unreal plugin's C++ core once per test session (cmake into build/cpp, reused)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.unreal_client import build_core


@pytest.fixture(scope="session")
def cpp_build() -> Path:
    """Configure (first time only) and build the core, its tests and the CLI tools; returns build/cpp."""
    if shutil.which("cmake") is None:
        pytest.fail("cmake is not installed: run `bash scripts/setup.sh` (Debian cmake g++ libzmq3-dev "
                    "cppzmq-dev libmsgpack-cxx-dev libgtest-dev)", pytrace=False)
    try:
        return build_core()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"{' '.join(exc.cmd)} failed (exit {exc.returncode}):\n{exc.stdout[-4000:]}\n"
                    f"{exc.stderr[-4000:]}", pytrace=False)
