"""Taking a backup and restoring one (see the package docstring for what a backup holds)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from earmark import __version__, indexsync
from earmark.backup import indexcopy, postgres, sqlite
from earmark.backup.errors import BackupError
from earmark.backup.manifest import (
    INDEX_FILE,
    BackupManifest,
    DatabaseCopy,
    Kind,
    read_manifest,
    write_manifest,
)
from earmark.datadir_lock import INDEX_DIR, lock_data_dir
from earmark.db import indexcut
from earmark.db.engine import (
    Databases,
    default_musicbrainz_url,
    role_urls,
    sqlite_file,
    url_key,
    write_transaction,
)
from earmark.index.client import LocalIndexClient
from earmark.index.engine import MultiIndex
from earmark.settings import Settings

#: Files of an embedded data directory copied as they are (the website's signing secret).
DATA_DIR_FILES = ("web_secret",)
MUSICBRAINZ_ROLE = "musicbrainz"


@dataclass(frozen=True)
class Restored:
    manifest: BackupManifest
    #: Fingerprints sent to the index after its snapshot: those from the catch-up position on.
    caught_up: int


def backup_kind(settings: Settings) -> Kind:
    return "sqlite" if sqlite_file(role_urls(settings)["app"]) is not None else "postgresql"


def take_backup(settings: Settings, target: Path) -> BackupManifest:
    """Write a backup of the databases and the index of ``settings`` into the new ``target``.

    SQLite (a data directory): the directory must not be in use (``earmark serve`` stopped).
    PostgreSQL: online; imports wait while the index snapshot streams (lookups do not).
    """
    _make_empty(target)
    kind = backup_kind(settings)
    if kind == "sqlite":
        with lock_data_dir(settings.data_dir), lock_data_dir(settings.data_dir / INDEX_DIR):
            return _finish(settings, target, kind, *_sqlite_backup(settings, target))
    if not settings.index_url:
        raise BackupError("a PostgreSQL deployment's backup needs index_url (the index server)")
    dbs = Databases.from_settings(settings)
    try:
        position, files = _cut(
            dbs,
            lambda: indexcopy.save_remote(
                settings.index_url, settings.index_name, target / INDEX_FILE
            ),
        )
        copies = []
        for engine, roles in dbs.physical():
            copy = DatabaseCopy(file="-".join(roles) + ".dump", roles=roles)
            postgres.dump(engine.url.render_as_string(hide_password=False), target / copy.file)
            copies.append(copy)
    finally:
        dbs.dispose()
    return _finish(settings, target, kind, position, tuple(copies), files)


def _sqlite_backup(
    settings: Settings, target: Path
) -> tuple[int, tuple[DatabaseCopy, ...], tuple[str, ...]]:
    urls = role_urls(settings)
    main = sqlite_file(urls["app"])
    if main is None or not main.exists():
        raise BackupError(f"no database in {settings.data_dir} (was it ever served?)")
    if len({url_key(url) for url in urls.values()}) != 1:
        raise BackupError("a data directory's backup expects one SQLite database for every role")
    copies = [DatabaseCopy(file=main.name, roles=("app", "fingerprint", "ingest"))]
    dbs = Databases.from_settings(settings)
    engine = MultiIndex(settings.data_dir / INDEX_DIR)
    try:

        def save_index() -> bool:
            # Copied under the cut too: the database copy then matches the index copy exactly.
            sqlite.copy_database(main, target / main.name)
            return indexcopy.save_local(engine, settings.index_name, target / INDEX_FILE)

        position, files = _cut(dbs, save_index)
    finally:
        engine.close()
        dbs.dispose()
    mirror = sqlite_file(default_musicbrainz_url(settings))
    if mirror is not None and mirror.exists():
        sqlite.copy_database(mirror, target / mirror.name)
        copies.append(DatabaseCopy(file=mirror.name, roles=(MUSICBRAINZ_ROLE,)))
    for name in DATA_DIR_FILES:
        if (settings.data_dir / name).exists():
            shutil.copy2(settings.data_dir / name, target / name)
            files += (name,)
    return position, tuple(copies), files


def _cut(dbs: Databases, save_index: Callable[[], bool]) -> tuple[int, tuple[str, ...]]:
    with write_transaction(dbs.fingerprint) as conn:
        indexcut.hold_writers(conn)
        position = indexcut.catch_up_position(conn)
        saved = save_index()
    # Without an index yet (nothing ever imported) a restore queues every fingerprint.
    return (position, (INDEX_FILE,)) if saved else (1, ())


def _finish(
    settings: Settings,
    target: Path,
    kind: Kind,
    position: int,
    copies: tuple[DatabaseCopy, ...],
    files: tuple[str, ...],
) -> BackupManifest:
    manifest = BackupManifest(
        kind=kind,
        earmark_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        index_name=settings.index_name,
        position=position,
        databases=copies,
        files=files,
    )
    write_manifest(target, manifest)
    return manifest


def restore_backup(settings: Settings, source: Path, index_dir: Path | None = None) -> Restored:
    """Restore the backup in ``source`` into the empty databases (and data directory) of
    ``settings``; the index is built in ``index_dir`` (default ``<data_dir>/index``), which no
    index server may be using."""
    manifest = read_manifest(source)
    kind = backup_kind(settings)
    if kind != manifest.kind:
        raise BackupError(f"{source} is a {manifest.kind} backup; the settings name {kind}")
    if kind == "sqlite":
        with lock_data_dir(settings.data_dir, create=True):
            _restore_sqlite_files(settings, source, manifest)
            return _restore_index(settings, source, manifest, settings.data_dir / INDEX_DIR)
    urls: dict[str, str] = dict(role_urls(settings).items())
    for copy in manifest.databases:
        targets = {url_key(urls[role]) for role in copy.roles if role in urls}
        if len(targets) != 1:
            raise BackupError(
                f"{copy.file} holds the roles {', '.join(copy.roles)} of one database; the "
                "settings must put them in one database too"
            )
        postgres.restore(urls[copy.roles[0]], source / copy.file)
    return _restore_index(settings, source, manifest, index_dir or settings.data_dir / INDEX_DIR)


def _restore_sqlite_files(settings: Settings, source: Path, manifest: BackupManifest) -> None:
    for copy in manifest.databases:
        sqlite.copy_database(source / copy.file, settings.data_dir / copy.file)
    for name in manifest.files:
        if name in DATA_DIR_FILES:
            shutil.copy2(source / name, settings.data_dir / name)
            (settings.data_dir / name).chmod(0o600)


def _restore_index(
    settings: Settings, source: Path, manifest: BackupManifest, index_dir: Path
) -> Restored:
    """Build the index from the snapshot, then send it every fingerprint from the catch-up
    position on, here and now: the index directory is in this process's hands (locked as an
    index server locks it, so a running server on it is an error rather than a second writer)."""
    dbs = Databases.from_settings(settings)
    try:
        with lock_data_dir(index_dir, create=True):
            engine = MultiIndex(index_dir)
            try:
                if INDEX_FILE in manifest.files:
                    indexcopy.restore_into(engine, manifest.index_name, source / INDEX_FILE)
                with write_transaction(dbs.fingerprint) as conn:
                    indexcut.queue_from(conn, manifest.position)
                sent = indexsync.flush_outbox(dbs, LocalIndexClient(engine), manifest.index_name)
            finally:
                engine.close()
    finally:
        dbs.dispose()
    return Restored(manifest, sent)


def _make_empty(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not an empty directory")
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {target}: {exc.strerror}") from None
