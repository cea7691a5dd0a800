"""The base of Earmark's own errors: each knows the exit code a command should end with."""

from __future__ import annotations


class EarmarkError(Exception):
    """An error meant for the user: the message is shown as is, without a traceback."""

    exit_code: int = 1


class ConfigError(EarmarkError):
    """A setting, a config file or an environment variable is wrong."""

    exit_code = 2
