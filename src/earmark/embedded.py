"""The data directory of the all-in-one service (``earmark serve``): made ready on every start.

Everything lives under one directory: the SQLite database of the app, fingerprint and ingest
roles (``earmark.db``), the MusicBrainz subset (``musicbrainz.db``) and the index engine's
files (``index/``). :func:`initialise` is idempotent and runs on every start: it creates the
directory, brings the database to the newest migration (so a newer Earmark upgrades an old
data directory by itself), creates the MusicBrainz tables when missing, and makes sure the
local administrator (account ``admin``, ``is_admin``) has an active application. Their two
keys are what a newcomer needs to call the API; :func:`read_keys` finds them again without
changing anything (``earmark keys``). The website's signing secret is generated once and kept
in the file ``web_secret`` (mode 0600), so sessions survive a restart.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import accounts, applications, logins, migrate
from earmark.db.engine import Databases, default_database_url
from earmark.errors import EarmarkError
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.settings import Secret, Settings

ADMIN_NAME = "admin"
APPLICATION_NAME = "Earmark (this server)"
APPLICATION_VERSION = "1.0"
DATABASE_FILE = "earmark.db"
MUSICBRAINZ_FILE = "musicbrainz.db"
ACCOUNT_TABLE = "account"
WEB_SECRET_FILE = "web_secret"

#: Settings ``earmark serve`` replaces: everything stays in the data directory and the process.
EMBEDDED_DEFAULTS: dict[str, object] = {
    "database_url": Secret(""),
    "fingerprint_database_url": Secret(""),
    "ingest_database_url": Secret(""),
    "musicbrainz_database_url": Secret(""),
    "index_url": "",
    "queue": "table",
    "redis_url": Secret(""),
}


class DataDirError(EarmarkError):
    """The data directory or one of its files cannot be used."""

    exit_code = 1


class NotInitialisedError(DataDirError):
    """The directory holds no data of ``earmark serve`` (yet)."""


@dataclass(frozen=True)
class LocalKeys:
    """The keys of the local administrator: ``client`` (application) and ``user`` (account)."""

    client: str
    user: str

    def as_dict(self) -> dict[str, str]:
        return {"client": self.client, "user": self.user}


@dataclass(frozen=True)
class Initialised:
    keys: LocalKeys
    #: True on the first run (the administrator was created now).
    created: bool
    #: The website's secret (setting web_secret when not configured).
    web_secret: str = ""
    #: True when the administrator has a password for the website.
    admin_has_password: bool = False


def embedded_settings(settings: Settings, data_dir: Path | None = None) -> Settings:
    """The settings of the all-in-one service: SQLite, index, queue and counters in the data
    directory and the process, whatever the configuration says for production."""
    changes: dict[str, object] = dict(EMBEDDED_DEFAULTS)
    if data_dir is not None:
        changes["data_dir"] = data_dir
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def overridden(settings: Settings) -> list[str]:
    """Names of the configured settings :func:`embedded_settings` ignores (to warn about)."""
    return [name for name, value in EMBEDDED_DEFAULTS.items() if getattr(settings, name) != value]


def initialise(settings: Settings) -> Initialised:
    """Make ``settings.data_dir`` ready to serve (see the module docstring)."""
    data_dir = settings.data_dir
    try:
        if not data_dir.exists():
            # The database holds every API key in clear: keep the directory to its owner.
            data_dir.mkdir(parents=True, mode=0o700)
        elif not data_dir.is_dir():
            raise DataDirError(f"{data_dir} exists and is not a directory")
    except OSError as exc:
        raise DataDirError(f"cannot create the data directory {data_dir}: {exc.strerror}") from None
    with _readable(data_dir / DATABASE_FILE):
        dbs = Databases.from_settings(settings)
        try:
            migrate.upgrade(dbs)
            with dbs.write() as conns:
                keys, created = _ensure_admin(conns.app)
                admin = _admin(conns.app)
                has_password = (
                    admin is not None and logins.get_by_account(conns.app, admin.id) is not None
                )
        finally:
            dbs.dispose()
    with _readable(data_dir / MUSICBRAINZ_FILE):
        mirror = MusicBrainzDatabase.from_settings(settings)
        try:
            mirror.create_schema()
        finally:
            mirror.dispose()
    secret = web_secret(data_dir)
    return Initialised(keys, created, secret, has_password)


def web_secret(data_dir: Path) -> str:
    """The website's secret of ``data_dir``, created (random, 0600) when missing."""
    path = data_dir / WEB_SECRET_FILE
    try:
        if path.is_file():
            found = path.read_text(encoding="ascii").strip()
            if found:
                return found
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret + "\n")
        return secret
    except (OSError, UnicodeError) as exc:
        raise DataDirError(f"cannot use {path}: {exc}") from None


def read_keys(settings: Settings) -> LocalKeys:
    """The administrator's keys of an initialised data directory; changes nothing."""
    data_dir = settings.data_dir
    database = data_dir / DATABASE_FILE
    hint = f"run `earmark serve --data-dir {data_dir}` first"
    if not database.is_file():
        raise NotInitialisedError(
            f"{data_dir} is not an initialised Earmark data directory: {hint}"
        )
    with _readable(database):
        dbs = Databases.single(default_database_url(settings))
        try:
            if not sa.inspect(dbs.app).has_table(ACCOUNT_TABLE):
                raise NotInitialisedError(f"{database} holds no Earmark tables: {hint}")
            with dbs.read() as conns:
                found = _find_keys(conns.app)
        finally:
            dbs.dispose()
    if found is None:
        raise NotInitialisedError(
            f"{data_dir} has no administrator with an active application: {hint}"
        )
    return found


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """A damaged or unreadable SQLite file as one line for the user, not a traceback."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())
        raise DataDirError(f"cannot use {path}: {reason}") from None


def _admin(conn: Connection) -> accounts.Account | None:
    found = accounts.get_by_name(conn, ADMIN_NAME)
    return found if found is not None and found.is_admin else None


def _find_keys(conn: Connection) -> LocalKeys | None:
    admin = _admin(conn)
    if admin is None:
        return None
    active = [app for app in applications.list_by_account(conn, admin.id) if app.active]
    return LocalKeys(client=active[0].apikey, user=admin.apikey) if active else None


def _ensure_admin(conn: Connection) -> tuple[LocalKeys, bool]:
    admin = _admin(conn)
    created = admin is None
    if admin is None:
        admin = accounts.create(conn, name=ADMIN_NAME, is_admin=True)
    found = _find_keys(conn)
    if found is not None:
        return found, created
    app = applications.create(
        conn, name=APPLICATION_NAME, version=APPLICATION_VERSION, account_id=admin.id
    )
    return LocalKeys(client=app.apikey, user=admin.apikey), created
