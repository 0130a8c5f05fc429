"""Whole-session config validation for the runner: every component's settings block, checked
against the ``Settings`` type of the module it names (``<module>.config.Settings``), before any
process starts. The types themselves live in ``cosim.config``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from cosim.config import Config, ConfigError, read_config, settings_for
from cosim.curve import ClientKeys, ServerKeys, secrets_folder
from cosim.errors import InputFileError
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
    classes = {c for c in vars(main).values() if isinstance(c, type) and issubclass(c, Component) and c is not Component}
    leaves = [c for c in classes if not any(other is not c and issubclass(other, c) for other in classes)]
    return leaves[0].Settings if len(leaves) == 1 else None


def component_settings(cfg: Config, name: str) -> Any:
    """``components.<name>.settings`` validated by the Settings type of the module it names."""
    spec = cfg.components.get(name)
    return settings_for(cfg, name, component_settings_type(spec.module) if spec else None)


def _own_component(module: str) -> bool:
    try:
        return component_settings_type(module) is not None
    except ConfigError:
        return False


def check_component_files(module: str, name: str, settings: Any) -> None:
    """``<module>.config.check_files(settings)``, where a component defines it: the files its
    settings name exist, before any process starts (an InputFileError, named by the component)."""
    try:
        check = getattr(importlib.import_module(f"{module}.config"), "check_files", None)
    except ModuleNotFoundError:
        return
    if check is not None:
        try:
            check(settings)
        except InputFileError as exc:
            raise InputFileError(f"components.{name}.settings: {exc}") from None


def load_config(path: str | Path | None = None, raw: Any = None, *, check_components: bool = True,
                check_files: bool = False) -> Config:
    """Load and validate a session config; with ``check_components`` also every launched
    component's settings block, and with ``check_files`` the files those settings name (the
    runner's checks before it starts anything)."""
    cfg = read_config(path, raw)
    if check_files and cfg.network.uses_curve:  # keys before anything starts, with the command to make them
        folder = secrets_folder(cfg.network.secrets)
        ServerKeys.load(folder)
        ClientKeys.load(folder, cfg.network.curve_client)
    if check_components:
        for name, spec in cfg.enabled().items():
            if spec.launch:
                settings = component_settings(cfg, name)
                if check_files:
                    check_component_files(spec.module, name, settings)
            elif spec.settings and not _own_component(spec.module):
                raise ConfigError(f"components.{name}.settings: {name} is started elsewhere (launch: false) "
                                  f"and is not one of ours, so it takes no settings here (got {sorted(spec.settings)})")
            elif spec.settings:  # ours, on another host (--join): it reads them from its copy of this file
                component_settings(cfg, name)
    return cfg
