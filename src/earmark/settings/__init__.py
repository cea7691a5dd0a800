"""Earmark's settings: one registry that drives loading, the CLI, the sample config and the docs.

The registry is the :class:`Settings` dataclass itself: each field is one setting, with its type,
default and help text (field metadata). Values come from, highest first:

1. the environment, ``EARMARK_<NAME>`` (a secret may also come from the file named by
   ``EARMARK_<NAME>_FILE``);
2. a TOML config file, given by ``--config`` or ``EARMARK_CONFIG`` (flat ``name = value`` keys);
3. the default.

Nothing is read at import time: :func:`load_settings` builds a value that the caller passes on.
"""

from earmark.settings.fields import (
    CONFIG_ENV,
    ENV_PREFIX,
    MASK,
    PORT_MAX,
    LogLevel,
    QueueBackend,
    Secret,
    Settings,
    Source,
    port_setting,
    setting,
)
from earmark.settings.loading import (
    LoadedSettings,
    SettingInfo,
    display_value,
    load_settings,
    registry,
    sample_config,
    unknown_variables,
    url_port_problem,
)

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "MASK",
    "PORT_MAX",
    "LoadedSettings",
    "LogLevel",
    "QueueBackend",
    "Secret",
    "SettingInfo",
    "Settings",
    "Source",
    "display_value",
    "load_settings",
    "port_setting",
    "registry",
    "sample_config",
    "setting",
    "unknown_variables",
    "url_port_problem",
]
