"""Checks a scenario file before SUMO sees it, so a bad file fails with its name and the problem."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from syncserver.errors import InputFileError

REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def check_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputFileError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise InputFileError(f"{what} {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{what} {str(path)!r} is empty")
    return path


def check_sumocfg(path: Path) -> dict[str, list[Path]]:
    """Parse a .sumocfg; every input file it names must exist. Returns {option: [paths]}."""
    check_file(path, "SUMO scenario")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputFileError(f"SUMO scenario {str(path)!r} is not well-formed XML: {exc}") from None
    if root.tag not in ("configuration", "sumoConfiguration"):
        raise InputFileError(f"SUMO scenario {str(path)!r}: root element is <{root.tag}>, "
                             f"expected <configuration> (is this a .sumocfg?)")
    inputs: dict[str, list[Path]] = {}
    for opt in ("net-file", "route-files", "additional-files"):
        el = root.find(f"input/{opt}")
        if el is None:
            continue
        value = el.get("value", "")
        names = [n for n in value.replace(";", ",").split(",") if n.strip()]
        inputs[opt] = [check_file((path.parent / n.strip()).resolve(), f"{opt} of {str(path)!r}:")
                       for n in names]
    if "net-file" not in inputs:
        raise InputFileError(f"SUMO scenario {str(path)!r} names no <input><net-file>")
    for opt, files in inputs.items():
        for f in files:
            try:
                for _ in ET.iterparse(f, events=("start",)):
                    break
            except ET.ParseError as exc:
                raise InputFileError(f"{opt} {str(f)!r} (from {str(path)!r}) is not well-formed XML: {exc}") from None
    return inputs
