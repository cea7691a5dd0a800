"""Earmark's settings: one registry that drives loading, the CLI, the sample config and the docs.

The registry is the :class:`Settings` dataclass itself: each field is one setting, with its type,
default and help text (field metadata). Values come from, highest first:

1. the environment, ``EARMARK_<NAME>`` (a secret may also come from the file named by
   ``EARMARK_<NAME>_FILE``);
2. a TOML config file, given by ``--config`` or ``EARMARK_CONFIG`` (flat ``name = value`` keys);
3. the default.

Nothing is read at import time: :func:`load_settings` builds a value that the caller passes on.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints

from earmark.errors import ConfigError

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


#: How a setting holding URLs is checked: ``one`` URL, or a comma-separated ``list`` of them.
UrlKind = Literal["one", "list"]


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
QueueBackend = Literal["table", "nats"]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting Earmark has. Add a field here and document it in docs/settings.md."""

    data_dir: Path = setting(
        Path("data"),
        "Directory of the embedded service's data (SQLite files, index segments, logs).",
    )
    log_level: LogLevel = setting("INFO", "Logging threshold: DEBUG, INFO, WARNING or ERROR.")
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
    index_url: str = setting(
        "",
        "Base URL of the fingerprint index server (`earmark run index`, or acoustid-index), "
        "e.g. http://127.0.0.1:6080. Empty: an index engine inside this process, stored in "
        "<data_dir>/index.",
        url="one",
    )
    index_name: str = setting("main", "Name of the fingerprint index on the index server.")
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


@dataclass(frozen=True)
class SettingInfo:
    """What the registry says about one setting."""

    name: str
    type_name: str
    default: Any
    help: str
    secret: bool
    minimum: float | None = None
    maximum: float | None = None
    url: UrlKind | None = None

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


@dataclass(frozen=True)
class LoadedSettings:
    """Settings plus where each value came from (for ``earmark config show``)."""

    settings: Settings
    sources: Mapping[str, Source]
    config_file: Path | None


def registry(cls: type[Any] = Settings) -> list[SettingInfo]:
    """The settings of ``cls`` in declaration order."""
    hints = get_type_hints(cls)
    return [
        SettingInfo(
            name=f.name,
            type_name=_type_name(hints[f.name]),
            default=f.default,
            help=f.metadata["help"],
            secret=bool(f.metadata.get("secret")),
            minimum=f.metadata.get("minimum"),
            maximum=f.metadata.get("maximum"),
            url=f.metadata.get("url"),
        )
        for f in dataclasses.fields(cls)
    ]


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cls: type[Any] = Settings,
) -> LoadedSettings:
    """Build settings from the environment, the config file and the defaults (in that order)."""
    env = os.environ if environ is None else environ
    path_text = os.fspath(config_file) if config_file is not None else env.get(CONFIG_ENV)
    path = Path(path_text) if path_text else None
    from_file = _read_config_file(path, cls) if path is not None else {}
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for info in registry(cls):
        raw, source = _raw_value(info, env, from_file)
        if source == "default":
            value = info.default
        else:
            value = _convert(info, hints[info.name], raw, source, path)
        values[info.name] = Secret(value) if info.secret and isinstance(value, str) else value
        sources[info.name] = source
    return LoadedSettings(settings=cls(**values), sources=sources, config_file=path)


def _raw_value(
    info: SettingInfo, env: Mapping[str, str], from_file: Mapping[str, Any]
) -> tuple[Any, Source]:
    file_var = info.env_var + "_FILE"
    if info.env_var in env and file_var in env:
        raise ConfigError(f"both {info.env_var} and {file_var} are set; use one")
    if info.env_var in env:
        return env[info.env_var], "env"
    if file_var in env:
        if not info.secret:
            raise ConfigError(f"{file_var}: only secrets may be read from a file")
        try:
            text = Path(env[file_var]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file_var}: cannot read {env[file_var]}: {exc.strerror}") from None
        return text.rstrip("\r\n"), "env-file"
    if info.name in from_file:
        return from_file[info.name], "config"
    return info.default, "default"


def _read_config_file(path: Path, cls: type[Any]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    known = [info.name for info in registry(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        named = ", ".join(_with_suggestion(name, known) for name in unknown)
        raise ConfigError(f"config file {path}: unknown setting(s): {named}")
    return data


def unknown_variables(environ: Mapping[str, str], cls: type[Any] = Settings) -> list[str]:
    """One message per ``EARMARK_*`` variable of ``environ`` that no setting reads, naming the
    closest setting's variable: a typo would otherwise be ignored without a word."""
    known = [ENV_PREFIX + info.name.upper() for info in registry(cls)]
    names = set(known) | {var + "_FILE" for var in known} | OTHER_VARIABLES
    return [
        f"unknown setting {_with_suggestion(var, known)}: ignored"
        for var in sorted(environ)
        if var.startswith(ENV_PREFIX) and var not in names and not var.startswith(OTHER_PREFIXES)
    ]


def _with_suggestion(name: str, known: list[str]) -> str:
    # A *_FILE typo is matched on its setting part: EARMARK_API_PROT_FILE -> EARMARK_API_PORT.
    stem, suffix = (name[:-5], "_FILE") if name.endswith("_FILE") else (name, "")
    close = difflib.get_close_matches(stem, known, n=1, cutoff=0.8)
    return f"{name} (did you mean {close[0]}{suffix}?)" if close else name


def _convert(
    info: SettingInfo, hint: Any, raw: Any, source: Source, config_file: Path | None = None
) -> Any:
    if source in ("env", "env-file"):
        where = info.env_var
    else:
        where = f"config key {info.name} in {config_file}"
    from_text = isinstance(raw, str) and source != "config"
    try:
        value = _coerce(hint, raw, from_text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if info.minimum is not None and value < info.minimum:
        raise ConfigError(f"{where}: {value!r} is below the minimum {info.minimum:g}")
    if info.maximum is not None and value > info.maximum:
        raise ConfigError(f"{where}: {value!r} is above the maximum {info.maximum:g}")
    if info.url is not None and value:
        urls = value.split(",") if info.url == "list" else [value]
        for url in urls:
            problem = url_port_problem(url.strip())
            if problem is not None:
                raise ConfigError(f"{where}: {problem}")
    return value


# scheme://[user[:password]@]host[:port]..., split two ways: as SQLAlchemy splits its URLs (the
# password holds any character but "@", a "/" included) and as urllib does (the host part ends
# at the first "/"). A port is wrong only when it is wrong both ways, so that neither a "/" in a
# password nor an "@" in a path is taken for the port.
_SQLALCHEMY_HEAD = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*://(?:[^:/@]*(?::[^@]*)?@)?(?:\[[^\]/?]*\]|[^/:?]*)(?::(?P<port>[^/?]*))?"
)
_URLLIB_HEAD = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#]*@)?(?:\[[^\]/?#]*\]|[^/:?#]*)(?::(?P<port>[^/?#]*))?"
)


def url_port_problem(url: str) -> str | None:
    """Why the port of ``url`` cannot be a TCP port (1..65535), or None (fine, or no port).
    Says nothing of the URL itself, which may carry a password."""
    problems = [_port_problem(head.match(url)) for head in (_SQLALCHEMY_HEAD, _URLLIB_HEAD)]
    return problems[0] if all(problems) else None


def _port_problem(found: re.Match[str] | None) -> str | None:
    port = found.group("port") if found is not None else None
    if not port:
        return None
    if not port.isascii() or not port.isdigit():
        return "the URL's port is not a number"
    if not 1 <= int(port) <= PORT_MAX:
        return f"the URL's port {int(port)} is out of range (1..{PORT_MAX})"
    return None


def _coerce(hint: Any, raw: Any, from_text: bool) -> Any:
    if getattr(hint, "__origin__", None) is Literal:
        choices = hint.__args__
        for choice in choices:
            if isinstance(raw, str) and raw.strip().lower() == str(choice).lower():
                return choice
        raise ValueError(f"{raw!r} is not one of {', '.join(map(str, choices))}")
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        if from_text and raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if from_text and raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{raw!r} is not a boolean (true/false)")
    if hint is int or hint is float:
        kind = "an integer" if hint is int else "a number"
        allowed = (int, str) if hint is int else (int, float, str)
        if isinstance(raw, bool) or not isinstance(raw, allowed):
            raise TypeError(f"{raw!r} is not {kind}")
        try:
            return hint(raw.strip() if isinstance(raw, str) else raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not {kind}") from None
    if hint is Path:
        if not isinstance(raw, str) or not raw:
            raise TypeError(f"{raw!r} is not a path")
        return Path(raw).expanduser()
    if hint is str or hint is Secret:
        if not isinstance(raw, str):
            raise TypeError(f"{raw!r} is not a string")
        return raw
    raise TypeError(f"unsupported setting type {hint!r}")


def _type_name(hint: Any) -> str:
    if getattr(hint, "__origin__", None) is Literal:
        return "one of " + ", ".join(map(str, hint.__args__))
    if hint is Secret:
        return "secret"
    return str(getattr(hint, "__name__", hint))


def display_value(info: SettingInfo, value: Any) -> str:
    """A setting's value as ``config show`` prints it: secrets masked, paths as text."""
    if info.secret:
        return MASK if value else ""
    return str(value)


def sample_config(cls: type[Any] = Settings) -> str:
    """A commented TOML config file listing every setting with its default."""
    lines = [
        "# Earmark configuration (TOML). Environment variables EARMARK_<NAME> override it.",
        "",
    ]
    for info in registry(cls):
        lines.append(f"# {info.help}")
        lines.append(f"# env: {info.env_var}" + (f" or {info.env_var}_FILE" if info.secret else ""))
        lines.append(f"# {info.name} = {_toml_literal(info.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
