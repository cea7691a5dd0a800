"""What every command group needs from the top-level group: the loaded settings."""

from __future__ import annotations

import importlib
import logging

import click

from earmark.settings import LoadedSettings, load_settings

log = logging.getLogger(__name__)


def native_status() -> str:
    """What ``earmark --version`` says of the C extension.

    Asked without importing :mod:`earmark.chromaprint.codec` (and so numpy): the extension needs
    nothing but Python, and importing it alone is what ``codec.NATIVE`` records.
    """
    try:
        importlib.import_module("earmark.chromaprint._native")
    except ImportError:
        return (
            "C extension: not built, numpy fallback "
            "(install gcc and python3-dev, then make install)"
        )
    return "C extension: built"


def warn_if_numpy_fallback() -> None:
    """Say when a web service starts without the C extension: each lookup costs more CPU."""
    from earmark.chromaprint import codec

    if not codec.NATIVE:
        log.warning(
            "earmark.chromaprint's C extension is not built: fingerprints are decoded and "
            "compared with numpy (same results, more CPU per lookup); install gcc and "
            "python3-dev, then reinstall (make install)"
        )


def loaded_settings(ctx: click.Context) -> LoadedSettings:
    """Load the settings once per invocation, honouring ``--config`` / ``EARMARK_CONFIG``."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    cached = obj.get("settings")
    if isinstance(cached, LoadedSettings):
        return cached
    loaded = load_settings(obj.get("config_file"))
    obj["settings"] = loaded
    root.obj = obj
    return loaded
