"""Backups of Earmark's data and their restore (``earmark backup`` / ``earmark restore``).

A backup directory holds a copy of Earmark's own databases, a snapshot of the fingerprint index
and ``manifest.json``, written last (a directory without it is an unfinished backup). The index
snapshot is taken under the cut of :mod:`earmark.db.indexcut`; the manifest records the catch-up
position from which a restore queues fingerprints for the index again, so nothing the database
holds is missing from the restored index. Two kinds:

- ``postgresql`` (production): ``pg_dump`` of each database, the snapshot streamed from the
  index server (``index_url``);
- ``sqlite`` (the data directory of ``earmark serve``): SQLite's online backup API, the
  snapshot exported from the index engine in the directory, and the site's ``web_secret``.

The MusicBrainz mirror of production is not copied: it is reloaded from MusicBrainz's dumps.
"""
