"""The one error of backups and restores."""

from __future__ import annotations

from earmark.errors import EarmarkError


class BackupError(EarmarkError):
    """A backup or restore cannot go on; the message says why (exit status 1)."""

    exit_code = 1
