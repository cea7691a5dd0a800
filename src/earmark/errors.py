"""The base of Earmark's own errors: each knows the exit code a command should end with.

The exit codes of the ``earmark`` command are a public contract, listed in one table in
docs/cli.md: 1 an error, 2 a usage or configuration error (click's own usage errors exit 2
too) or, for the commands that read audio, a file that could not be fingerprinted, 3 a
database, queue or index that is unreachable or not ready, 130 interrupted.
"""

from __future__ import annotations


class EarmarkError(Exception):
    """An error meant for the user: the message is shown as is, without a traceback."""

    exit_code: int = 1


class UsageError(EarmarkError):
    """The command line asks for something that cannot be done as given (a missing option):
    exit 2, like click's own usage errors."""

    exit_code = 2


class ConfigError(EarmarkError):
    """A setting, a config file or an environment variable is wrong."""

    exit_code = 2
