"""What every command group needs from the top-level group: the loaded settings."""

from __future__ import annotations

import click

from earmark.settings import LoadedSettings, load_settings


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
