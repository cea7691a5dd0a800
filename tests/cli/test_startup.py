"""`earmark` starts without the web app, the database layer or numpy, and every lazy command loads.

The start-up time itself is measured by bench/cli_start.py (no test asserts a duration); these
tests check its cause: which modules a fresh interpreter holds after the CLI did its work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from earmark import __version__
from earmark.cli.lazy import LazyCommand, LazyGroup
from earmark.cli.main import COMMANDS, cli
from earmark.cli.run import ROLES
from tests.support import ffmpeg_generate

#: Never needed to start the CLI, print its version or list its commands.
HEAVY = (
    "alembic",
    "av",
    "earmark.api",
    "earmark.app",
    "earmark.db",
    "earmark.index",
    "earmark.library",
    "httpx",
    "nats",
    "numpy",
    "opentelemetry",
    "redis",
    "sqlalchemy",
    "starlette",
    "uvicorn",
)

#: What fingerprinting a file needs besides the CLI: numpy, PyAV and earmark.chromaprint.
NOT_FOR_FINGERPRINTING = tuple(name for name in HEAVY if name not in ("av", "numpy"))

# Runs the `earmark` console script's own entry point in a fresh interpreter and writes the
# names of the modules loaded at exit to the file named by the first argument.
ENTRY_POINT = """
import atexit, json, sys
from importlib.metadata import entry_points

report = sys.argv[1]
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(sys.modules))))
(earmark,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "earmark"]
sys.argv = ["earmark", *sys.argv[2:]]
earmark.load()()
"""


def run_entry_point(
    tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`earmark ARGS` in a fresh interpreter: its result and the modules it imported."""
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, set(json.loads(report.read_text()))


def heavy(modules: set[str], forbidden: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = "import json, sys, earmark.cli.main; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    modules = set(json.loads(done.stdout))
    assert "earmark.cli.main" in modules
    assert heavy(modules) == []


def test_version_loads_nothing_heavy(tmp_path: Path) -> None:
    done, modules = run_entry_point(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"earmark {__version__} (C extension: ")
    assert heavy(modules) == []


def test_version_reports_the_extension_as_codec_sees_it() -> None:
    from earmark.chromaprint import codec

    result = CliRunner().invoke(cli, ["--version"])
    built = "(C extension: built)" in result.stdout
    assert result.exit_code == 0
    assert built == codec.NATIVE
    assert built or "numpy fallback" in result.stdout


def test_help_lists_every_command_without_loading_one(tmp_path: Path) -> None:
    done, modules = run_entry_point(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [row.split()[0] for row in rows] == sorted(COMMANDS)
    assert heavy(modules) == []
    assert not any(target.split(":")[0] in modules for target in _targets(COMMANDS))


@pytest.mark.realaudio
def test_fingerprint_loads_only_what_fingerprinting_needs(tmp_path: Path) -> None:
    audio = ffmpeg_generate(tmp_path / "tone.wav", "sine=frequency=440", 5)
    done, modules = run_entry_point(tmp_path, "fingerprint", str(audio))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DURATION=5\nFINGERPRINT=")
    assert "earmark.chromaprint.fingerprinter" in modules
    # The file finder and the progress bar every library-walking command shares are light.
    shared = {"earmark.library", "earmark.library.scan", "earmark.library.progress"}
    assert heavy(modules - shared, NOT_FOR_FINGERPRINTING) == []


def _targets(table: dict[str, LazyCommand]) -> list[str]:
    return [entry.target for entry in table.values()]


LAZY = [(("run",), name, entry) for name, entry in ROLES.items()] + [
    ((), name, entry) for name, entry in COMMANDS.items()
]


@pytest.mark.parametrize(
    ("path", "name", "entry"), LAZY, ids=[" ".join((*p, n)) for p, n, _ in LAZY]
)
def test_every_lazy_command_loads_and_shows_its_help(
    path: tuple[str, ...], name: str, entry: LazyCommand
) -> None:
    command = entry.load()
    assert command.name == name
    # The summary the group lists is the command's own, as click shortens it at any width.
    stand_in = click.Command(name, help=entry.summary)
    for width in (20, 45, 66, 200):
        assert stand_in.get_short_help_str(width) == command.get_short_help_str(width)
    result = CliRunner().invoke(cli, [*path, name, "--help"], prog_name="earmark")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: earmark {' '.join((*path, name))} ")


def test_a_broken_lazy_entry_fails_loudly() -> None:
    group = LazyGroup(
        "g",
        lazy={
            "gone": LazyCommand("earmark.cli.no_such_module:gone", "Gone."),
            "plain": LazyCommand("earmark.cli.main:COMMANDS", "Not a command."),
        },
    )
    ctx = click.Context(group)
    assert group.list_commands(ctx) == ["gone", "plain"]
    with pytest.raises(ModuleNotFoundError):
        group.get_command(ctx, "gone")
    with pytest.raises(TypeError, match="is not a click command"):
        group.get_command(ctx, "plain")
    assert group.get_command(ctx, "missing") is None


def test_commands_added_directly_are_listed_with_the_lazy_ones() -> None:
    @click.command("direct")
    def direct() -> None:
        """Added with add_command."""

    group = LazyGroup("g", lazy={"config": COMMANDS["config"]})
    group.add_command(direct)
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    assert "config  Inspect Earmark's settings." in result.stdout
    assert "direct  Added with add_command." in result.stdout
