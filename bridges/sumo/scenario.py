"""Checks a scenario file before SUMO sees it, so a bad file fails with its name and the problem."""
from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import IO
from xml.parsers import expat

from cosim.errors import InputFileError
from cosim.process import REPO_ROOT



def resolve(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def open_maybe_gz(path: Path) -> IO[bytes]:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw


def check_well_formed(path: Path, what: str) -> None:
    """Stream the whole file through expat (no tree): libsumo crashes on malformed XML instead of
    reporting it, so we look first."""
    parser = expat.ParserCreate()
    try:
        with open_maybe_gz(path) as fh:
            while chunk := fh.read(1 << 20):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise InputFileError(f"{what} {str(path)!r} is not well-formed XML: {exc}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(f"{what} {str(path)!r} cannot be read: {exc}") from None


def check_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputFileError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise InputFileError(f"{what} {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{what} {str(path)!r} is empty")
    return path


SUMO_DEFAULT_SEED = 23423  # sumo --save-template: <seed value="23423" .../>


def scenario_seed(path: Path) -> int:
    """The seed a .sumocfg sets (``<random_number><seed value>``), else SUMO's default."""
    try:
        el = ET.parse(path).getroot().find("random_number/seed")
        return int(el.get("value", "")) if el is not None else SUMO_DEFAULT_SEED
    except (ET.ParseError, OSError, ValueError):
        return SUMO_DEFAULT_SEED


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
            check_well_formed(f, f"{opt} (from {str(path)!r})")
    return inputs


def check_inputs(scenario: str) -> None:
    """Before anything starts: the scenario (a .sumocfg and the files it names, or an FCD trace)
    exists. Only existence: parsing a city's files is the stepping process's job."""
    path = resolve(scenario)
    check_file(path, "SUMO scenario" if path.suffix == ".sumocfg" else "FCD trace")
    if path.suffix != ".sumocfg":
        return
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputFileError(f"SUMO scenario {str(path)!r} is not well-formed XML: {exc}") from None
    for opt in ("net-file", "route-files", "additional-files"):
        el = root.find(f"input/{opt}")
        for name in ([] if el is None else el.get("value", "").replace(";", ",").split(",")):
            if name.strip():
                check_file((path.parent / name.strip()).resolve(), f"{opt} of {str(path)!r}:")
