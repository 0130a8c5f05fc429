"""Builds the Unreal plugin's C++ core once per test session (cmake into build/cpp, reused)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "unreal_plugin"
BUILD = ROOT / "build" / "cpp"


def _run(cmd: list[str], timeout: float) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}",
                    pytrace=False)


@pytest.fixture(scope="session")
def cpp_build() -> Path:
    """Configure (first time only) and build the core, its tests and the CLI tools; returns build/cpp."""
    if shutil.which("cmake") is None:
        pytest.fail("cmake is not installed: run `bash scripts/setup.sh` (Debian cmake g++ libzmq3-dev "
                    "cppzmq-dev libmsgpack-cxx-dev libgtest-dev)", pytrace=False)
    if not (BUILD / "CMakeCache.txt").is_file():
        _run(["cmake", "-S", str(SOURCE), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], timeout=300)
    _run(["cmake", "--build", str(BUILD), "-j2"], timeout=900)
    return BUILD
