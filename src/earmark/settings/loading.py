"""Loading the settings from the environment, ``*_FILE`` secrets and a TOML file; checking them;
the sample config and the docs table (see :mod:`earmark.settings`)."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

from earmark.errors import ConfigError
from earmark.settings.fields import (
    CONFIG_ENV,
    ENV_PREFIX,
    MASK,
    OTHER_PREFIXES,
    OTHER_VARIABLES,
    PORT_MAX,
    Secret,
    Settings,
    Source,
    UrlKind,
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
        urls = re.split("[,;]", value) if info.url != "one" else [value]
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
