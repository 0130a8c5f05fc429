"""Whole-session config validation for the runner: every component's settings block, checked
against the ``Settings`` type of the module it names (``<module>.config.Settings``), before any
process starts. The types themselves live in ``cosim.config``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from cosim.config import Config, ConfigError, read_config, settings_for
from cosim.runtime import Component


def component_settings_type(module: str) -> type | None:
    """The settings type of the component run by ``python -m <module>``: ``<module>.config.Settings``
    by convention, else the ``Settings`` of the Component class its ``__main__`` defines; None when
    it takes no settings."""
    try:
        cfg_module = importlib.import_module(f"{module}.config")
    except ModuleNotFoundError as exc:
        if exc.name in (module, f"{module}.config") or (exc.name and module.startswith(exc.name)):
            try:
                importlib.import_module(module)
            except ModuleNotFoundError:
                raise ConfigError(f"component module {module!r} does not exist") from None
            return _main_settings_type(module)
        raise
    return getattr(cfg_module, "Settings", None)


def _main_settings_type(module: str) -> type | None:
    try:
        main = importlib.import_module(f"{module}.__main__")
    except ModuleNotFoundError:
        return None
    components = [c for c in vars(main).values() if isinstance(c, type) and issubclass(c, Component)
                  and c.__module__ == main.__name__]
    return components[0].Settings if len(components) == 1 else None


def component_settings(cfg: Config, name: str) -> Any:
    """``components.<name>.settings`` validated by the Settings type of the module it names."""
    spec = cfg.components.get(name)
    return settings_for(cfg, name, component_settings_type(spec.module) if spec else None)


def load_config(path: str | Path | None = None, raw: Any = None, *, check_components: bool = True) -> Config:
    """Load and validate a session config; with ``check_components`` also every launched
    component's settings block (the runner's check before it starts anything)."""
    cfg = read_config(path, raw)
    if check_components:
        for name, spec in cfg.enabled().items():
            if spec.launch:
                component_settings(cfg, name)
            elif spec.settings:
                raise ConfigError(f"components.{name}.settings: {name} is started elsewhere (launch: false), "
                                  f"so it takes no settings here (got {sorted(spec.settings)})")
    return cfg
