"""The ``import-open-data`` job: new days of AcoustID's public data (docs/open-data.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from earmark.db.engine import Databases
from earmark.opendata.importer import ImportOptions, import_days
from earmark.opendata.source import open_source


@dataclass
class OpenDataImport:
    """What the job needs: where the days are, and how new fingerprints reach the index."""

    location: str
    #: Sends the fingerprints an import queued to the index (None: the importer role does).
    flush: Callable[[], object] | None = None

    def run(self, dbs: Databases) -> str:
        source = open_source(self.location)
        try:
            report = import_days(dbs.fingerprint, source, ImportOptions(), flush=self.flush)
        finally:
            source.close()
        problems = sum(report.problems.values())
        return f"{report.days} days, {report.rows()} rows applied; {problems} data problems"
