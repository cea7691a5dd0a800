"""`earmark run cron`: the background jobs (counter drains, MBID maintenance, daily stats)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import click

from earmark.cli.context import loaded_settings
from earmark.cron import JOB_NAMES, open_cron
from earmark.errors import EarmarkError

logger = logging.getLogger(__name__)


class CronError(EarmarkError):
    exit_code = 3


@click.command("cron")
@click.option(
    "--once",
    "once",
    multiple=True,
    type=click.Choice(JOB_NAMES),
    help="Run this job now and exit, instead of the schedule (repeatable; in the order given).",
)
@click.option(
    "--list", "list_jobs", is_flag=True, help="List the jobs and their schedules, then exit."
)
@click.pass_context
def cron(ctx: click.Context, once: tuple[str, ...], list_jobs: bool) -> None:
    """Run the background jobs on their schedules until SIGTERM or SIGINT."""
    from earmark.db import migrate  # Alembic: only when the jobs run

    settings = loaded_settings(ctx).settings
    if not list_jobs:
        from earmark.startup import wait_for_services

        wait_for_services(settings, "cron")
    runtime = open_cron(settings)
    try:
        scheduler = runtime.scheduler
        if list_jobs:
            for job in scheduler.jobs:
                click.echo(f"{job.name:<22} {job.schedule.describe():<22} {job.description}")
            return
        if not migrate.is_current(runtime.dbs):
            raise CronError(
                "the databases are not at the newest revision: run `earmark db upgrade`"
            )
        if not runtime.backends.shared:
            logger.warning(
                "redis_url is empty: the counters are this process's own; lookups counted by "
                "other processes are not drained (set redis_url in production)"
            )
        if once:
            failed = 0
            for name in once:
                run = scheduler.run_once(name)
                if run.ok:
                    click.echo(f"{name}: {run.summary or 'done'}")
                else:
                    click.echo(f"{name}: failed: {run.error}", err=True)
                    failed += 1
            if failed:
                ctx.exit(1)
            return
        _run_until_signalled(scheduler.run_forever)
    finally:
        runtime.close()


def _run_until_signalled(loop: Callable[[threading.Event], None]) -> None:
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: stopping after the running job", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        loop(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
