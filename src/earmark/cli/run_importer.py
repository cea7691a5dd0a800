"""`earmark run importer`: the submission importer (queue → import → fingerprint index)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

import click

from earmark.cli.context import loaded_settings
from earmark.datadir_lock import INDEX_DIR, lock_data_dir

# The app's parts are imported when the importer runs (fast `earmark --help`).
if TYPE_CHECKING:
    from earmark.importer.worker import ImporterStats, Worker


@click.command("importer")
@click.option("--once", is_flag=True, help="Import one batch of waiting submissions, then exit.")
@click.option(
    "--until-idle",
    is_flag=True,
    help="Import until the queue has nothing ready for a second, then exit.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Submissions taken from the queue at a time (default: setting importer_batch_size).",
)
@click.pass_context
def importer(ctx: click.Context, once: bool, until_idle: bool, batch_size: int | None) -> None:
    """Run the submission importer until SIGTERM/SIGINT (or --once / --until-idle)."""
    if once and until_idle:
        raise click.UsageError("--once and --until-idle exclude each other")
    from earmark.app import open_databases, open_index, remote_index, searcher
    from earmark.importer.backends import open_queue
    from earmark.importer.worker import Worker
    from earmark.startup import wait_for_services

    settings = loaded_settings(ctx).settings
    # Without index_url the index engine is in this process, in the data directory: no
    # `earmark serve` or `earmark run index` may have it open at the same time.
    embedded_index = settings.data_dir / INDEX_DIR
    with (
        lock_data_dir(embedded_index, create=True)
        if not remote_index(settings)
        else contextlib.nullcontext()
    ):
        wait_for_services(settings, "importer")
        dbs = open_databases(settings)
        index = open_index(settings)
        try:
            worker = Worker(
                dbs,
                searcher(index),
                open_queue(settings, dbs),
                batch_size=batch_size or settings.importer_batch_size,
                max_attempts=settings.queue_max_deliveries,
            )
            mode = "once" if once else "until-idle" if until_idle else "forever"
            stats = asyncio.run(_run(worker, mode))
        finally:
            index.close()
            dbs.dispose()
    click.echo(_summary(stats))


async def _run(worker: Worker, mode: str) -> ImporterStats:
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Only the main thread may install handlers; elsewhere the defaults stay.
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, worker.request_stop)
            handled.append(sig)
    try:
        async with worker.queue:
            if mode == "once":
                await worker.run_once()
                return worker.stats
            if mode == "until-idle":
                return await worker.run_until_idle()
            return await worker.run()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def _summary(stats: ImporterStats) -> str:
    counts = stats.as_dict()
    shown = ("imported", "skipped", "already", "failed", "busy", "errors")
    return ", ".join(f"{name} {counts[name]}" for name in shown)


if __name__ == "__main__":
    importer()
