"""(being written)"""

from __future__ import annotations

from earmark.api.call import Handler

ROUTES: list[tuple[str, str, Handler]] = []
