"""The layers of docs/architecture.md, kept: what may import what, and no import cycles.

Every import counts, late ones inside functions and ``importlib.import_module("...")`` with a literal
name included. The checker is tried on made-up sources first, so this test can fail."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable, Iterator

REPO = Path(__file__).resolve().parent.parent
OURS = {"cosim", "syncserver", "session", "client", "audio", "refine_runtime", "recording", "bridges",
        "bench", "tests", "run_session"}
COMPONENTS = {"client", "audio", "refine_runtime", "recording", "bridges.sumo", "bridges.pose", "bridges.photodiode"}
TOP = {"run_session", "bench", "tests"}  # what people run: above every layer


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bridges" and len(parts) > 1 else parts[0]


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in ``source``; ``from pkg import sub`` names the
    submodule when there is one."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in known else target), node.lineno
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            yield node.args[0].value, node.lineno


def rule_broken(src: str, dst: str) -> str | None:
    """Why ``src`` (a package) may not import ``dst`` (a package), or None when it may."""
    if dst == src or dst.split(".")[0] not in OURS:
        return None
    if src in TOP:
        return None
    if dst == "session":
        return "nothing below the top imports session/"
    if src == "cosim":
        return "cosim/ imports nothing of ours above it"
    if src in COMPONENTS or src in ("syncserver", "bridges"):
        if dst != "cosim":
            return f"{src} is a component: it imports cosim/ and itself only"
    if dst in TOP:
        return f"{dst} is above every layer"
    return None


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """``sources``: module -> (source text, is a package). The broken rules and cycles, as text."""
    known = set(sources)
    graph: dict[str, set[str]] = {m: set() for m in sources}
    out = []
    for module, (text, is_pkg) in sources.items():
        for dst, line in imports(text, module, is_pkg, known):
            why = rule_broken(package_of(module), package_of(dst))
            if why:
                out.append(f"{module}:{line} imports {dst}: {why}")
            if dst in known and dst != module:
                graph[module].add(dst)
    out.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(graph))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def repo_sources(files: Iterable[Path] | None = None) -> dict[str, tuple[str, bool]]:
    files = files if files is not None else (
        p for p in REPO.rglob("*.py") if not {".venv", "build", ".git"} & set(p.relative_to(REPO).parts))
    return {module_name(p, REPO): (p.read_text(), p.name == "__init__.py") for p in files}


def test_the_repository_keeps_its_layers_and_has_no_import_cycles():
    sources = repo_sources()
    assert {"cosim.runtime", "cosim.protocol", "syncserver.server", "client.residuals"} <= set(sources)
    assert violations(sources) == []


def test_the_checker_finds_each_kind_of_forbidden_import():
    made_up = {
        "cosim.bad": ("from session.config import load_config\n", False),
        "cosim.worse": ("def f():\n    import client.display\n", False),
        "client.peek": ("def f():\n    from refine_runtime.assets import load_base_sequence\n", False),
        "bridges.pose.peek": ("import importlib\nimportlib.import_module('bridges.sumo.config')\n", False),
        "audio.cfg": ("from session.supervisor import Supervisor\n", False),
        "syncserver.cfg": ("from session.config import load_config\n", False),
        "recording.a": ("from recording import b\n", False),
        "recording.b": ("def f():\n    from recording.a import x\n", False),
        "bench.ok": ("from session.supervisor import Supervisor\nimport client.display\n", False),
        "client.display": ("from cosim import protocol\n", False),
        "recording": ("", True),
    }
    found = "\n".join(violations(made_up))
    for needle in ("cosim.bad:1 imports session.config", "cosim.worse:2 imports client.display",
                   "client.peek:2 imports refine_runtime.assets", "bridges.pose.peek:2 imports bridges.sumo.config",
                   "audio.cfg:1 imports session.supervisor", "syncserver.cfg:1 imports session.config",
                   "import cycle: recording.a -> recording.b"):
        assert needle in found, f"{needle!r} not reported in:\n{found}"
    assert not [line for line in found.splitlines() if line.startswith(("bench.ok", "client.display"))]
