"""The registry of every setting: the :class:`Settings` dataclass (see :mod:`earmark.settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ENV_PREFIX = "EARMARK_"
CONFIG_ENV = "EARMARK_CONFIG"
MASK = "********"
#: The highest TCP port number.
PORT_MAX = 65535
#: ``EARMARK_*`` variables that are not settings but are read all the same: the config file,
#: and the test suite's and benchmarks' own (service URLs, the shared data folder).
OTHER_VARIABLES = frozenset({CONFIG_ENV})
OTHER_PREFIXES = ("EARMARK_TEST_", "EARMARK_BENCH_")

Source = Literal["default", "config", "env", "env-file"]


class Secret(str):
    """A string that never shows itself in a repr (passwords, tokens, keys)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


#: How a setting holding URLs is checked: ``one`` URL, a comma-separated ``list`` of them, or
#: ``shards`` (lists separated by ``;``).
UrlKind = Literal["one", "list", "shards"]


def setting(
    default: Any,
    help: str,
    *,
    secret: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    url: UrlKind | None = None,
) -> Any:
    """Declare one setting: its default, help text (CLI and docs), optional bounds, and whether
    it holds URLs (whose port, when given, must be a TCP port: 1..65535)."""
    metadata = {"help": help, "secret": secret, "minimum": minimum, "maximum": maximum, "url": url}
    return field(default=default, metadata=metadata)


def port_setting(default: int, help: str, *, any_free: bool = False) -> Any:
    """A TCP port: 1..65535, or 0..65535 where 0 means "any free port" (``any_free``)."""
    return setting(default, help, minimum=0 if any_free else 1, maximum=PORT_MAX)


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]
QueueBackend = Literal["table", "nats"]
CatalogBackend = Literal["sql", "duckdb"]
TagReleaseDate = Literal["original", "latest"]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting Earmark has. Add a field here and document it in docs/settings.md."""

    data_dir: Path = setting(
        Path("data"),
        "Directory of the embedded service's data (SQLite files, index segments, logs).",
    )
    log_level: LogLevel = setting("INFO", "Logging threshold: DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = setting(
        "text",
        "Log lines as `text` (human-readable) or `json` (one JSON object per line, with the "
        "request id of HTTP requests; docs/deploy.md).",
    )
    otel_exporter_otlp_endpoint: str = setting(
        "",
        "OpenTelemetry collector base URL (OTLP/HTTP, e.g. `http://collector:4318`): the API "
        "sends a span per request with index and database child spans (needs the `tracing` "
        "extra; docs/deploy.md). Empty: no tracing.",
    )
    startup_wait_seconds: float = setting(
        180.0,
        "Seconds `earmark run ROLE` waits, retrying with backoff, for an unreachable "
        "PostgreSQL, Redis or NATS at start (0: fail at once).",
        minimum=0,
    )
    fingerprint_length: int = setting(
        120,
        "Seconds of audio `earmark fingerprint` uses from the start of each file (0 = all), "
        "as fpcalc's -length.",
        minimum=0,
    )
    fingerprint_jobs: int = setting(
        1,
        "Worker processes `earmark fingerprint` uses when given several files (0 = one per CPU).",
        minimum=0,
    )
    database_url: Secret = setting(
        "",
        "SQLAlchemy URL of the app database (accounts, applications, stats), also used for the "
        "fingerprint and ingest databases unless they have their own URL. Empty: the SQLite file "
        "<data_dir>/earmark.db. Example: postgresql://user@host/earmark.",
        secret=True,
        url="one",
    )
    fingerprint_database_url: Secret = setting(
        "",
        "SQLAlchemy URL of the fingerprint database (tracks, fingerprints, links). "
        "Empty: the same database as database_url.",
        secret=True,
        url="one",
    )
    ingest_database_url: Secret = setting(
        "",
        "SQLAlchemy URL of the ingest database (submissions, results, provenance). "
        "Empty: the same database as database_url.",
        secret=True,
        url="one",
    )
    musicbrainz_database_url: Secret = setting(
        "",
        "SQLAlchemy URL of the MusicBrainz mirror (the lookup subset of its schema). "
        "Empty: the SQLite file <data_dir>/musicbrainz.db.",
        secret=True,
        url="one",
    )
    database_pool_size: int = setting(
        10,
        "Connections each process keeps open to each database; a burst beyond them opens as "
        "many again for the moment. Size it to api_threads (and mind PostgreSQL's "
        "max_connections across every process).",
        minimum=1,
    )
    musicbrainz_schema: str = setting(
        "musicbrainz",
        "PostgreSQL schema holding the MusicBrainz tables (ignored on SQLite).",
    )
    musicbrainz_cache_ttl: float = setting(
        300.0,
        "Seconds the web service remembers the MusicBrainz metadata of a recording it looked "
        "up (per process), so popular recordings skip the mirror; answers may be this much "
        "older than the mirror (0: no cache).",
        minimum=0,
    )
    musicbrainz_cache_size: int = setting(
        10_000,
        "MusicBrainz metadata entries (one per recording and kind of lookup) each web-service "
        "process remembers at most; the least recently used leave first. A few KiB each, more "
        "for recordings on many releases.",
        minimum=1,
    )
    musicbrainz_replication_url: str = setting(
        "",
        "Base URL of MusicBrainz replication packets (replication-<N>-v2.tar.bz2), e.g. "
        "https://metabrainz.org/api/musicbrainz/; https required except to a loopback host. "
        "Set (or musicbrainz_replication_dir): the cron applies new packets hourly.",
        url="one",
    )
    musicbrainz_replication_token: Secret = setting(
        "",
        "MetaBrainz access token sent with each packet request (?token=) to "
        "musicbrainz_replication_url.",
        secret=True,
    )
    musicbrainz_replication_dir: str = setting(
        "",
        "Directory of MusicBrainz replication packet files, used when "
        "musicbrainz_replication_url is empty; set: the cron applies new packets hourly.",
    )
    data_import_url: str = setting(
        "",
        "Base URL (or directory) of AcoustID's public data, e.g. https://data.acoustid.org/; "
        "set: the cron applies new daily files hourly (docs/open-data.md).",
    )
    index_url: str = setting(
        "",
        "Base URL of the fingerprint index server (`earmark run index`, or acoustid-index), "
        "e.g. http://127.0.0.1:6080. Empty: an index engine inside this process, stored in "
        "<data_dir>/index.",
        url="one",
    )
    index_name: str = setting("main", "Name of the fingerprint index on the index server.")
    index_shards: str = setting(
        "",
        "Index servers as shards of replicas, instead of index_url: shards separated by `;`, "
        "the replicas of a shard by `,` (fingerprint id % number of shards picks the shard; "
        "docs/index-cluster.md). Empty: index_url alone.",
        url="shards",
    )
    queue: QueueBackend = setting(
        "table",
        "Submission queue: `table` (the pending_submission table, embedded) or `nats` "
        "(a NATS JetStream work queue, production).",
    )
    nats_url: Secret = setting(
        "nats://127.0.0.1:4222",
        "NATS server URL(s), comma-separated, for queue = nats.",
        secret=True,
        url="list",
    )
    nats_stream: str = setting(
        "EARMARK_SUBMISSIONS", "JetStream stream (and subject prefix) of the submission queue."
    )
    queue_max_deliveries: int = setting(
        5,
        "Attempts at importing one submission before it is marked failed with the last error.",
        minimum=1,
    )
    importer_batch_size: int = setting(
        100, "Submissions one importer takes from the queue at a time.", minimum=1
    )
    redis_url: Secret = setting(
        "",
        "Redis URL for shared counters (lookup and user-agent statistics) in production, e.g. "
        "redis://127.0.0.1:6379/0. Empty: counters are kept in this process's memory.",
        secret=True,
        url="one",
    )
    redis_prefix: str = setting("earmark:", "Prefix of every Redis key Earmark writes.")
    counters_flush_interval: float = setting(
        1.0,
        "Seconds an API process sums its request counters before writing them to Redis in one "
        "round trip; a process killed without its shutdown loses at most this much of the "
        "statistics (0: one write per request).",
        minimum=0,
    )
    api_host: str = setting(
        "127.0.0.1", "Address `earmark serve` and `earmark run api` listen on (0.0.0.0: all)."
    )
    api_port: int = port_setting(
        8080,
        "TCP port of `earmark serve` and `earmark run api` (0: any free port; `serve` prints "
        "the one it got).",
        any_free=True,
    )
    api_workers: int = setting(
        1, "Worker processes of `earmark run api` (each with its own connections).", minimum=1
    )
    api_threads: int = setting(
        10,
        "Requests each API process works on at once (database and index calls run in this "
        "many threads); keep database_pool_size at least this large.",
        minimum=1,
    )
    forwarded_allow_ips: str = setting(
        "127.0.0.1",
        "Comma-separated proxy addresses (or *) whose X-Forwarded-For and X-Forwarded-Proto "
        "headers are trusted for the client address and HTTPS.",
    )
    shutdown_delay: float = setting(
        2.0,
        "Seconds between SIGTERM and the server stopping, during which /_health answers 503 "
        "so load balancers move traffic away first.",
        minimum=0,
    )
    http_max_request_line: int = setting(
        65536,
        "Bytes a request line (method, URL, version) may have; longer ones are answered 414 "
        "without reading further. The default fits a whole-file fingerprint in a GET URL.",
        minimum=1024,
    )
    http_max_head: int = setting(
        98304,
        "Bytes a request head (request line and headers) may have; larger ones are answered "
        "431 without reading further. At least http_max_request_line + 2.",
        minimum=1026,
    )
    http_head_timeout: float = setting(
        30.0,
        "Seconds a request head may take to arrive, from its first byte (from the connection "
        "for the first request); then 408 and the connection is closed. A connection that "
        "sends nothing at all is closed after as long.",
        minimum=0.001,
    )
    http_keep_alive_timeout: float = setting(
        5.0,
        "Seconds an idle keep-alive connection is kept open waiting for its next request.",
        minimum=0.001,
    )
    http_body_timeout: float = setting(
        60.0,
        "Seconds a request body may take to arrive after its head; then 408 and close.",
        minimum=0.001,
    )
    http_max_connections: int = setting(
        1000,
        "Open connections each server process holds at most; a connection beyond them is "
        "answered 503 and closed. The open-file limit is raised to fit them when it can, "
        "else the cap is lowered (with a warning at start).",
        minimum=1,
    )
    metrics_cache_ttl: float = setting(
        5.0,
        "Seconds /metrics reuses what it read from the databases (the importer queue's depth "
        "and lag) instead of querying them at every scrape (0: every scrape).",
        minimum=0,
    )
    ops_address: str = setting(
        "",
        "host:port of a second listener for /metrics and the health checks (/_health, "
        "/_health_ro, /_health_docker), which are then not served on the public address. "
        "Empty: served on the public address.",
    )
    cluster_secret: Secret = setting(
        "",
        "Shared secret of the /v2/internal/* endpoints; a request carrying it as `secret` also "
        "bypasses rate limits. Empty: the internal endpoints answer `not allowed`.",
        secret=True,
    )
    musicbrainz_userinfo_url: str = setting(
        "https://musicbrainz.org/oauth2/userinfo",
        "MusicBrainz OAuth userinfo URL /v2/user/create_musicbrainz checks access tokens with, "
        "and the website reads the signed-in MusicBrainz user name from.",
        url="one",
    )
    musicbrainz_oauth_client_id: str = setting(
        "",
        "Client id of this site's MusicBrainz OAuth application (registered at MusicBrainz with "
        "the redirect URL <site>/login/musicbrainz). The website offers sign-in with "
        "MusicBrainz when it is set.",
    )
    musicbrainz_oauth_client_secret: Secret = setting(
        "", "Client secret of the MusicBrainz OAuth application.", secret=True
    )
    musicbrainz_oauth_authorize_url: str = setting(
        "https://musicbrainz.org/oauth2/authorize",
        "MusicBrainz OAuth authorization URL the browser is sent to for sign-in.",
        url="one",
    )
    musicbrainz_oauth_token_url: str = setting(
        "https://musicbrainz.org/oauth2/token",
        "MusicBrainz OAuth token URL the website exchanges a sign-in code at.",
        url="one",
    )
    oidc_name: str = setting(
        "",
        "Name of the OpenID Connect provider on the sign-in button (e.g. Google). Empty: the "
        "issuer's host name.",
    )
    oidc_client_id: str = setting(
        "",
        "Client id at the OpenID Connect provider (redirect URL <site>/login/oidc). The website "
        "offers sign-in with that provider when it is set.",
    )
    oidc_client_secret: Secret = setting(
        "", "Client secret at the OpenID Connect provider.", secret=True
    )
    oidc_issuer: str = setting(
        "",
        "Issuer URL of the OpenID Connect provider (e.g. https://accounts.google.com): the "
        "endpoints not set below are read from its <issuer>/.well-known/openid-configuration.",
        url="one",
    )
    oidc_authorize_url: str = setting(
        "",
        "Authorization endpoint of the OpenID Connect provider. Empty: from the discovery "
        "document.",
        url="one",
    )
    oidc_token_url: str = setting(
        "",
        "Token endpoint of the OpenID Connect provider. Empty: from the discovery document.",
        url="one",
    )
    oidc_userinfo_url: str = setting(
        "",
        "Userinfo endpoint of the OpenID Connect provider (the account's subject, name and "
        "email are read there). Empty: from the discovery document.",
        url="one",
    )
    oidc_scope: str = setting(
        "openid email profile", "Scopes asked of the OpenID Connect provider, space-separated."
    )
    key_cache_ttl: float = setting(
        10.0,
        "Seconds a valid client or user API key is remembered per process; a deactivated "
        "application is refused at most this long after (0: no cache).",
        minimum=0,
    )
    demo_key_secret: Secret = setting(
        "",
        "Secret the daily demo client key is derived from (reference §6); each key is valid for "
        "7 days and names the application demo_application_id. Empty: no demo key.",
        secret=True,
    )
    demo_application_id: int = setting(
        0,
        "Application the demo client key is counted and rate-limited as (0: no demo key).",
        minimum=0,
    )
    rate_limit_application: float = setting(
        10.0, "Requests per second allowed per application key (0: unlimited).", minimum=0
    )
    rate_limit_global: float = setting(
        100.0, "Requests per second allowed for the whole service (0: unlimited).", minimum=0
    )
    rate_limit_ip: float = setting(
        4.0, "Requests per second allowed per client IP address (0: unlimited).", minimum=0
    )
    rate_limit_user: float = setting(
        0.0,
        "Requests per second allowed per user key. When above 0, a request carrying a user key "
        "is charged to its user instead of its application, so the users of one popular "
        "application do not starve each other (0: off).",
        minimum=0,
    )
    rate_limit_overrides: str = setting(
        "",
        "Per-key rates, space-separated `application.<id>=<rate>` or `ip.<address>=<rate>` "
        "(0: unlimited). An application with its own rate skips the per-IP limit.",
    )
    catalog_host: str = setting(
        "127.0.0.1", "Address `earmark run catalog` (the catalog API) listens on."
    )
    catalog_port: int = port_setting(
        8082,
        "TCP port of `earmark run catalog` (`serve` has the catalog under /catalog on api_port).",
        any_free=True,
    )
    catalog_anonymous_rate: float = setting(
        1.0,
        "Requests per second the catalog API allows per client IP address without an API key "
        "(the anonymous tier); 0 refuses requests without a key (401).",
        minimum=0,
    )
    catalog_cache_max_age: int = setting(
        300,
        "Seconds of Cache-Control max-age on the catalog API's answers (their ETag changes "
        "with the mirror's replication sequence).",
        minimum=0,
    )
    catalog_threads: int = setting(
        10,
        "Requests the catalog API works on at once (mirror reads run in this many threads).",
        minimum=1,
    )
    catalog_backend: CatalogBackend = setting(
        "sql",
        "Where the catalog API reads: `sql` (the mirror at musicbrainz_database_url) or `duckdb` "
        "(the Parquet export of `earmark catalog export-parquet` in catalog_parquet_dir).",
    )
    catalog_parquet_dir: str = setting(
        "",
        "Directory of the catalog's Parquet export, read with catalog_backend = duckdb.",
    )
    catalog_workers: int = setting(
        1,
        "Worker processes of `earmark run catalog` (each with its own connections; the "
        "metrics are summed across them).",
        minimum=1,
    )
    web_host: str = setting("127.0.0.1", "Address `earmark run web` (the website) listens on.")
    web_port: int = port_setting(
        8081, "TCP port of `earmark run web` (`serve` has the site on api_port).", any_free=True
    )
    web_secret: Secret = setting(
        "",
        "Secret the website signs its session cookies and form tokens with; required by "
        "`earmark run web` (the same on every web process). `serve` keeps one in its data "
        "directory (web_secret file).",
        secret=True,
    )
    web_https: bool = setting(
        False, "The website is served over HTTPS: its session cookie gets the Secure flag."
    )
    web_login_rate: float = setting(
        0.25,
        "Sign-in and sign-up attempts per second allowed per client IP and per login, over a "
        "20 s window (0.25: 5 per window); counted in Redis when redis_url is set (0: off).",
        minimum=0,
    )
    web_api_url: str = setting(
        "",
        "Base URL of the API the website's examples call, e.g. https://api.example.org (empty: "
        "the site's own address, right for `serve`).",
        url="one",
    )
    web_form_max_bytes: int = setting(
        65536, "Bytes a website form may send; a larger one is answered 413.", minimum=1024
    )
    web_identify_max_bytes: int = setting(
        50 * 1024 * 1024,
        "Bytes of an audio file uploaded to the website's /identify page; a larger one is "
        "answered 413.",
        minimum=1024,
    )
    web_identify_timeout: float = setting(
        30.0,
        "Seconds the website's /identify page may spend decoding an uploaded file (its first "
        "120 s of audio) before giving up with a message.",
        minimum=0.1,
    )
    tag_min_score: float = setting(
        0.8,
        "`earmark tag`: a lookup result below this score is reported as low confidence and not "
        "written (0..1).",
        minimum=0,
        maximum=1,
    )
    tag_release_countries: str = setting(
        "",
        "`earmark tag`: preferred release countries, best first, comma-separated ISO codes "
        "(e.g. GB,XE,XW; empty: no preference).",
    )
    tag_release_formats: str = setting(
        "Digital Media,CD",
        "`earmark tag`: preferred medium formats, best first, comma-separated (MusicBrainz names).",
    )
    tag_release_types: str = setting(
        "Album,EP,Single",
        "`earmark tag`: preferred release group types, best first, comma-separated; a release "
        "with a secondary type (Compilation, Live, …) not listed here ranks after the others.",
    )
    tag_release_date: TagReleaseDate = setting(
        "original",
        "`earmark tag`: among equally preferred releases, take the earliest (original) or the "
        "latest (latest) release date.",
    )
    tag_user_meta_min_sources: int = setting(
        3,
        "`earmark tag` without a MusicBrainz mirror: write user-submitted title and artist only "
        "when at least this many submissions agree.",
        minimum=1,
    )
