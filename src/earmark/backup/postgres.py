"""PostgreSQL databases into a backup and back, with PostgreSQL's own ``pg_dump`` and
``pg_restore`` (custom format: compressed, restored in one transaction).

The password of a URL goes to the tools in ``PGPASSWORD``, never on their command line, where
``ps`` would show it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from earmark.backup.errors import BackupError
from earmark.db.engine import redact


def dump(url: str, target: Path) -> None:
    """``pg_dump`` the database at ``url`` into ``target`` (one consistent snapshot)."""
    _run("pg_dump", ["--format=custom", "--no-owner", "--no-acl", "--file", str(target)], url)


def restore(url: str, source: Path) -> None:
    """Load ``source`` into the database at ``url``, which must hold no tables yet."""
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        tables = sa.inspect(engine).get_table_names()
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"cannot reach {redact(url)}: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            f"the database {redact(url)} already has tables ({', '.join(sorted(tables)[:3])}, "
            "…); restore into an empty database"
        )
    _run(
        "pg_restore",
        ["--single-transaction", "--exit-on-error", "--no-owner", "--no-acl", str(source)],
        url,
    )


def _run(tool: str, arguments: list[str], url: str) -> None:
    program = shutil.which(tool)
    if program is None:
        raise BackupError(f"{tool} is not installed (Debian: apt-get install postgresql-client)")
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    # libpq takes a postgresql:// URI as the database name; SQLAlchemy's "+driver" is not one.
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    done = subprocess.run(
        [program, *arguments, "--dbname", conninfo],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise BackupError(f"{tool} {redact(url)}: {detail[0]}")
