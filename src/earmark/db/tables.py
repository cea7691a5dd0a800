"""Earmark's own tables (SQLAlchemy Core), after acoustid-server's schema (reference §11).

Each table belongs to one logical database, named in ``table.info["role"]``: ``app``,
``fingerprint`` or ``ingest``. Foreign keys are declared only between tables of one role;
references across roles (``fingerprint.format_id`` → ``format``) are logical, as in the reference,
because the roles may live in different databases.

Differences from the reference, all on purpose:

- the drift of §11.5 is fixed: ``stats_lookups`` and ``stats_user_agents`` carry the unique
  keys their upserts need, ``meta.gid`` / ``submission.meta_gid`` / ``submission_result.meta_gid``
  exist, and ``stats`` is unique per (name, date) so a re-run of the daily job cannot double it;
- a submission has a visible outcome (``status``: pending, imported, skipped, failed, with a
  ``reason`` and an ``attempts`` count) instead of a bare ``handled`` flag (acoustid-server #70);
- ``submission_import`` records, in the fingerprint database, what importing a submission did,
  so a redelivered or retried submission is never counted twice, even when the fingerprint and
  ingest databases are separate;
- ``index_outbox`` replaces ``fpindex_changelog``: fingerprints written but not yet confirmed by
  the fingerprint index, which slow-mode search also scans (reference §8.2 "newer than the index");
- ``source.version`` is NOT NULL (empty string for none) so its unique key also holds for
  submissions without a client version (NULLs never collide in a unique index);
- deprecated columns (``submission.source_id``, ``format_id``, ``meta_id``, ``foreignid_id``),
  the legacy ``stats_top_accounts``, the OpenID/gid backfill tables and ``fingerprint_data``
  (a zstd copy of the fingerprint used by fpstore) are not created.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa

from earmark.db.types import BigId, IntArray, Json

NAMING = {
    "pk": "%(table_name)s_pkey",
    "fk": "%(table_name)s_fk_%(column_0_name)s",
    "ix": "%(table_name)s_idx_%(column_0_N_name)s",
    "uq": "%(table_name)s_uniq_%(column_0_N_name)s",
    "ck": "%(table_name)s_chk_%(constraint_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

SubmissionStatus = Literal["pending", "imported", "skipped", "failed"]


def _created() -> sa.Column[object]:
    return sa.Column(
        "created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def _updated() -> sa.Column[object]:
    return sa.Column("updated", sa.DateTime(timezone=True), nullable=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


# --- app ------------------------------------------------------------------------------------

account = sa.Table(
    "account",
    metadata,
    _id(),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("apikey", sa.String, nullable=False, unique=True),
    sa.Column("mbuser", sa.String, nullable=True, unique=True),
    sa.Column("anonymous", sa.Boolean, nullable=False, server_default=sa.false()),
    _created(),
    sa.Column("lastlogin", sa.DateTime(timezone=True), nullable=True),
    sa.Column("submission_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("application_id", sa.Integer, nullable=True),
    sa.Column("application_version", sa.String, nullable=True),
    sa.Column("created_from", sa.String(64), nullable=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    # A deactivated account's user key is refused (error 6); beyond the reference.
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Granted by an admin (the website's /admin, `earmark admin`); beyond the reference, where
    # only a MusicBrainz user name makes a moderator.
    sa.Column("is_moderator", sa.Boolean, nullable=False, server_default=sa.false()),
    info={"role": "app"},
)

#: The website's local sign-in: a login name (unique, compared in lower case) and an argon2id
#: hash. Accounts without a row (the API's anonymous ones, MusicBrainz sign-ins) have no
#: password.
account_password = sa.Table(
    "account_password",
    metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String, nullable=False),
    sa.Column("email", sa.String, nullable=True),
    _created(),
    _updated(),
    info={"role": "app"},
)

account_openid = sa.Table(
    "account_openid",
    metadata,
    sa.Column("openid", sa.String, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), nullable=False, index=True),
    info={"role": "app"},
)

account_google = sa.Table(
    "account_google",
    metadata,
    sa.Column("google_user_id", sa.String, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), nullable=False, index=True),
    info={"role": "app"},
)

#: A sign-in with an OpenID Connect provider: the provider (its issuer, or its authorization
#: endpoint when no issuer is configured) and its stable id of the user (``sub``) name the
#: account. MusicBrainz sign-ins use ``account.mbuser`` instead (reference §12).
account_oidc = sa.Table(
    "account_oidc",
    metadata,
    sa.Column("issuer", sa.String(255), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=True),
    _created(),
    info={"role": "app"},
)

#: A sign-in started at an OAuth provider and not finished yet: the SHA-256 of its ``state``,
#: bound to the SHA-256 of the session id that started it. Taken (deleted) by the provider's
#: redirect back, so a state works once; ``expires`` is in seconds since the epoch.
oauth_state = sa.Table(
    "oauth_state",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("session_hash", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("return_url", sa.String(2000), nullable=False),
    sa.Column("expires", sa.BigInteger, nullable=False, index=True),
    info={"role": "app"},
)

application = sa.Table(
    "application",
    metadata,
    _id(),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("version", sa.String, nullable=False),
    sa.Column("apikey", sa.String, nullable=False, unique=True),
    _created(),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), nullable=False, index=True),
    sa.Column("email", sa.String, nullable=True),
    sa.Column("website", sa.String, nullable=True),
    info={"role": "app"},
)

format_ = sa.Table(
    "format",
    metadata,
    _id(),
    sa.Column("name", sa.String, nullable=False, unique=True),
    info={"role": "app"},
)

source = sa.Table(
    "source",
    metadata,
    _id(),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("application.id"), nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), nullable=False),
    sa.Column("version", sa.String, nullable=False, server_default=""),
    sa.UniqueConstraint("application_id", "account_id", "version"),
    info={"role": "app"},
)

stats = sa.Table(
    "stats",
    metadata,
    _id(),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("date", sa.Date, nullable=False, server_default=sa.text("CURRENT_DATE")),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Index(None, "date"),
    sa.UniqueConstraint("name", "date"),
    info={"role": "app"},
)

stats_lookups = sa.Table(
    "stats_lookups",
    metadata,
    _id(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("hour", sa.Integer, nullable=False),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("application.id"), nullable=False),
    sa.Column("count_nohits", sa.Integer, nullable=False, server_default="0"),
    sa.Column("count_hits", sa.Integer, nullable=False, server_default="0"),
    sa.Index(None, "date"),
    sa.UniqueConstraint("application_id", "date", "hour"),
    info={"role": "app"},
)

stats_user_agents = sa.Table(
    "stats_user_agents",
    metadata,
    _id(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("application.id"), nullable=False),
    sa.Column("user_agent", sa.String, nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("count", sa.Integer, nullable=False, server_default="0"),
    sa.Index(None, "date"),
    sa.UniqueConstraint("application_id", "date", "user_agent", "ip"),
    info={"role": "app"},
)

# --- fingerprint ----------------------------------------------------------------------------

track = sa.Table(
    "track",
    metadata,
    _id(),
    _created(),
    _updated(),
    sa.Column("new_id", sa.Integer, sa.ForeignKey("track.id"), nullable=True, index=True),
    sa.Column("gid", sa.Uuid, nullable=False, unique=True),
    info={"role": "fingerprint"},
)

fingerprint = sa.Table(
    "fingerprint",
    metadata,
    _id(),
    sa.Column("fingerprint", IntArray, nullable=False),
    sa.Column("length", sa.SmallInteger, nullable=False, index=True),
    sa.Column("bitrate", sa.SmallInteger, nullable=True),
    sa.Column("format_id", sa.Integer, nullable=True),
    _created(),
    _updated(),
    sa.Column("track_id", sa.Integer, sa.ForeignKey("track.id"), nullable=False, index=True),
    sa.Column("submission_count", sa.Integer, nullable=False),
    sa.CheckConstraint("length > 0", name="length"),
    sa.CheckConstraint("bitrate > 0", name="bitrate"),
    info={"role": "fingerprint"},
)

track_mbid = sa.Table(
    "track_mbid",
    metadata,
    _id(),
    sa.Column("track_id", sa.Integer, sa.ForeignKey("track.id"), nullable=False),
    sa.Column("mbid", sa.Uuid, nullable=False, index=True),
    _created(),
    _updated(),
    sa.Column("submission_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("merged_into", sa.Integer, sa.ForeignKey("track_mbid.id"), nullable=True),
    sa.UniqueConstraint("track_id", "mbid"),
    info={"role": "fingerprint"},
)

track_puid = sa.Table(
    "track_puid",
    metadata,
    _id(),
    sa.Column("track_id", sa.Integer, sa.ForeignKey("track.id"), nullable=False),
    sa.Column("puid", sa.Uuid, nullable=False, index=True),
    _created(),
    _updated(),
    sa.Column("submission_count", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("track_id", "puid"),
    info={"role": "fingerprint"},
)

meta = sa.Table(
    "meta",
    metadata,
    _id(),
    sa.Column("track", sa.String, nullable=True),
    sa.Column("artist", sa.String, nullable=True),
    sa.Column("album", sa.String, nullable=True),
    sa.Column("album_artist", sa.String, nullable=True),
    sa.Column("track_no", sa.Integer, nullable=True),
    sa.Column("disc_no", sa.Integer, nullable=True),
    sa.Column("year", sa.Integer, nullable=True),
    _created(),
    sa.Column("gid", sa.Uuid, nullable=False, unique=True),
    info={"role": "fingerprint"},
)

track_meta = sa.Table(
    "track_meta",
    metadata,
    _id(),
    sa.Column("track_id", sa.Integer, sa.ForeignKey("track.id"), nullable=False),
    sa.Column("meta_id", sa.Integer, sa.ForeignKey("meta.id"), nullable=False, index=True),
    _created(),
    _updated(),
    sa.Column("submission_count", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("track_id", "meta_id"),
    info={"role": "fingerprint"},
)

foreignid_vendor = sa.Table(
    "foreignid_vendor",
    metadata,
    _id(),
    sa.Column("name", sa.String, nullable=False, unique=True),
    info={"role": "fingerprint"},
)

foreignid = sa.Table(
    "foreignid",
    metadata,
    _id(),
    sa.Column("vendor_id", sa.Integer, sa.ForeignKey("foreignid_vendor.id"), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.UniqueConstraint("vendor_id", "name"),
    info={"role": "fingerprint"},
)

track_foreignid = sa.Table(
    "track_foreignid",
    metadata,
    _id(),
    sa.Column("track_id", sa.Integer, sa.ForeignKey("track.id"), nullable=False),
    sa.Column(
        "foreignid_id", sa.Integer, sa.ForeignKey("foreignid.id"), nullable=False, index=True
    ),
    _created(),
    _updated(),
    sa.Column("submission_count", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("track_id", "foreignid_id"),
    info={"role": "fingerprint"},
)

submission_import = sa.Table(
    "submission_import",
    metadata,
    sa.Column("submission_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("fingerprint_id", sa.Integer, sa.ForeignKey("fingerprint.id"), nullable=True),
    sa.Column("track_id", sa.Integer, sa.ForeignKey("track.id"), nullable=True),
    sa.Column("meta_id", sa.Integer, sa.ForeignKey("meta.id"), nullable=True),
    sa.Column("new_fingerprint", sa.Boolean, nullable=False, server_default=sa.false()),
    _created(),
    info={"role": "fingerprint"},
)

index_outbox = sa.Table(
    "index_outbox",
    metadata,
    sa.Column(
        "fingerprint_id",
        sa.Integer,
        sa.ForeignKey("fingerprint.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    _created(),
    info={"role": "fingerprint"},
)

# --- ingest ---------------------------------------------------------------------------------

submission = sa.Table(
    "submission",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _created(),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("handled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("application_id", sa.Integer, nullable=False),
    sa.Column("application_version", sa.String, nullable=True),
    sa.Column("fingerprint", IntArray, nullable=False),
    sa.Column("length", sa.SmallInteger, nullable=False),
    sa.Column("bitrate", sa.SmallInteger, nullable=True),
    sa.Column("format", sa.String, nullable=True),
    sa.Column("meta", Json, nullable=True),
    sa.Column("meta_gid", sa.Uuid, nullable=True),
    sa.Column("mbid", sa.Uuid, nullable=True),
    sa.Column("puid", sa.Uuid, nullable=True),
    sa.Column("foreignid", sa.String, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("length > 0", name="length"),
    sa.CheckConstraint("status IN ('pending', 'imported', 'skipped', 'failed')", name="status"),
    sa.Index(
        "submission_idx_unhandled",
        "id",
        postgresql_where=sa.text("NOT handled"),
        sqlite_where=sa.text("NOT handled"),
    ),
    info={"role": "ingest"},
)

pending_submission = sa.Table(
    "pending_submission",
    metadata,
    sa.Column(
        "id",
        BigId,
        sa.ForeignKey("submission.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    _created(),
    sa.Index(None, "created"),  # the re-publisher looks for old pending rows
    info={"role": "ingest"},
)

submission_result = sa.Table(
    "submission_result",
    metadata,
    sa.Column(
        "submission_id",
        BigId,
        sa.ForeignKey("submission.id"),
        primary_key=True,
        autoincrement=False,
    ),
    _created(),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("application_id", sa.Integer, nullable=False),
    sa.Column("application_version", sa.String, nullable=True),
    sa.Column("fingerprint_id", sa.Integer, nullable=False),
    sa.Column("track_id", sa.Integer, nullable=False),
    sa.Column("meta_gid", sa.Uuid, nullable=True),
    sa.Column("meta_id", sa.Integer, nullable=True),
    sa.Column("mbid", sa.Uuid, nullable=True),
    sa.Column("puid", sa.Uuid, nullable=True),
    sa.Column("foreignid", sa.String, nullable=True),
    info={"role": "ingest"},
)


def _source_table(name: str, key: str, *, nullable_submission: bool = False) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        _id(),
        sa.Column(key, sa.Integer, nullable=False, index=True),
        sa.Column("submission_id", BigId, nullable=nullable_submission, index=True),
        sa.Column("source_id", sa.Integer, nullable=False),
        _created(),
        info={"role": "ingest"},
    )


fingerprint_source = _source_table("fingerprint_source", "fingerprint_id")
track_mbid_source = _source_table("track_mbid_source", "track_mbid_id", nullable_submission=True)
track_mbid_source.append_column(_updated())
track_puid_source = _source_table("track_puid_source", "track_puid_id")
track_meta_source = _source_table("track_meta_source", "track_meta_id")
track_foreignid_source = _source_table("track_foreignid_source", "track_foreignid_id")

track_mbid_change = sa.Table(
    "track_mbid_change",
    metadata,
    _id(),
    sa.Column("track_mbid_id", sa.Integer, nullable=False, index=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    _created(),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    _updated(),
    info={"role": "ingest"},
)


# --- cron (revision 0002) -------------------------------------------------------------------
#
# Durable state of the background jobs (docs/cron.md). Drained counter batches make draining
# idempotent; the MBID tables keep the unknown-MBID clock and the ingest side of MBID merges
# across crashes and restarts, also in the embedded mode (no Redis).

stats_drain = sa.Table(
    "stats_drain",
    metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    _created(),
    sa.Index(None, "created"),
    info={"role": "app"},
)

cron_state = sa.Table(
    "cron_state",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    info={"role": "app"},
)

mbid_unknown = sa.Table(
    "mbid_unknown",
    metadata,
    sa.Column("mbid", sa.Uuid, primary_key=True),
    sa.Column("first_unknown", sa.DateTime(timezone=True), nullable=False),
    _created(),
    sa.Index(None, "first_unknown"),
    info={"role": "fingerprint"},
)

track_mbid_outbox = sa.Table(
    "track_mbid_outbox",
    metadata,
    _id(),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("track_mbid_id", sa.Integer, sa.ForeignKey("track_mbid.id"), nullable=False),
    sa.Column("target_id", sa.Integer, sa.ForeignKey("track_mbid.id"), nullable=True),
    sa.Column("account_id", sa.Integer, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    _created(),
    sa.CheckConstraint("kind IN ('repoint', 'disable')", name="kind"),
    info={"role": "fingerprint"},
)


# --- open data (revision 0006_open_data) ----------------------------------------------------
#
# Imports of AcoustID's public data set (docs/open-data.md). The id map says which local row an
# upstream row became (per provenance: "acoustid-public", or another Earmark's export), so a
# day applied twice changes nothing and imported rows can be told from local submissions.

opendata_idmap = sa.Table(
    "opendata_idmap",
    metadata,
    sa.Column("provenance", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(32), primary_key=True),
    sa.Column("upstream_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("local_id", sa.Integer, nullable=False),
    #: A digest of the row as last applied: the same row again is skipped.
    sa.Column("digest", sa.String(32), nullable=False),
    #: The row's ``updated`` (else ``created``) in UTC: an older row of the id is stale.
    sa.Column("stamp", sa.String(40), nullable=False, server_default=""),
    sa.Index(None, "stream", "local_id"),
    info={"role": "fingerprint"},
)

#: The last day applied in full, per stream; written in the transaction of that day's rows.
opendata_progress = sa.Table(
    "opendata_progress",
    metadata,
    sa.Column("provenance", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(32), primary_key=True),
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    info={"role": "fingerprint"},
)

#: Rows waiting for a row they need (a link whose track has not arrived, a fingerprint whose
#: track_fingerprint row has not): applied when ``waits_for`` ("track:12") arrives.
opendata_parked = sa.Table(
    "opendata_parked",
    metadata,
    sa.Column("provenance", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(32), primary_key=True),
    sa.Column("upstream_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("waits_for", sa.String(48), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index(None, "provenance", "waits_for"),
    info={"role": "fingerprint"},
)
