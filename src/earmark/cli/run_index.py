"""`earmark run index`: the acoustid-index compatible fingerprint index server."""

from __future__ import annotations

from pathlib import Path

import click

from earmark.cli.context import loaded_settings
from earmark.datadir_lock import INDEX_DIR, claim_data_dir
from earmark.http_limits import limits_from_settings
from earmark.index.engine import CorruptFileError, IndexSettings
from earmark.listen import check_address
from earmark.process import tune_allocator_lean
from earmark.settings.fields import Settings

_DEFAULTS = IndexSettings()


@click.command("index")
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory, created if missing (default: <data_dir setting>/index).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option(
    "--port",
    default=6080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTP port (0: a free one, named in the start line).",
)
@click.option(
    "--legacy-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the legacy line protocol (index `main`); 0 = off.",
)
@click.option(
    "--checkpoint-threshold",
    default=_DEFAULTS.checkpoint_threshold,
    show_default=True,
    type=int,
    help="Flush memory segments to disk once they hold this many (term, doc) items.",
)
@click.option(
    "--checkpoint-age-ms",
    default=int(_DEFAULTS.checkpoint_age_s * 1000),
    show_default=True,
    type=int,
    help="Also flush once the oldest unflushed write is this old; 0 disables.",
)
@click.option(
    "--max-segments",
    default=_DEFAULTS.max_file_segments,
    show_default=True,
    type=int,
    help="Merge file segments above this count (bounds the work per search).",
)
@click.option(
    "--idle-merge-ms",
    default=int(_DEFAULTS.idle_merge_s * 1000),
    show_default=True,
    type=int,
    help="Merge an index down to few segments once it had no writes this long; 0 disables.",
)
@click.option(
    "--no-fsync",
    is_flag=True,
    default=False,
    help="Do not fsync the WAL (unsafe: acknowledged updates may be lost on a crash).",
)
@click.option(
    "--cluster-stream",
    default="",
    help="Replicate through NATS JetStream (the nats_url setting): follow and write the "
    "streams PREFIX_META and PREFIX_DATA (docs/index-cluster.md). Empty: standalone.",
)
@click.option(
    "--replica-id",
    default="",
    help="This node's name in the cluster (its durable consumers); default: made at the "
    "first start and kept in the data directory.",
)
@click.option(
    "--stream-replicas",
    default=1,
    show_default=True,
    type=click.IntRange(1, 5),
    help="Cluster: JetStream copies of the streams when this node creates them (3 on a "
    "JetStream cluster; existing streams are used as they are).",
)
@click.option("--read-only", is_flag=True, help="Cluster: refuse writes (403 FeedIsReadOnly).")
@click.option(
    "--peers",
    default="",
    help="Cluster: comma-separated base URLs of other nodes, to seed a missing index from "
    "their snapshots instead of replaying the whole stream.",
)
@click.option(
    "--coordinator",
    is_flag=True,
    help="Serve the reference's coordinator protocol (/_changelog, /_meta, /_bootstrap, "
    "/_truncate) with its changelog in JetStream: streams PREFIX_CMETA and PREFIX_CLOG, "
    "PREFIX from --cluster-stream (default EARMARK_COORDINATOR). No data directory.",
)
@click.option(
    "--coordinator-url",
    default="",
    help="Replica of a coordinator (the reference's protocol, e.g. `--coordinator`): follow "
    "its changelog; writes go to it and answer once applied here.",
)
@click.option(
    "--replication-timeout-ms",
    default=30000,
    show_default=True,
    type=click.IntRange(1, 3600000),
    help="Replica: how long a write waits to be applied here (then 503 ReplicationTimeout).",
)
@click.pass_context
def index(
    ctx: click.Context,
    data_dir: Path | None,
    host: str,
    port: int,
    legacy_port: int,
    checkpoint_threshold: int,
    checkpoint_age_ms: int,
    max_segments: int,
    idle_merge_ms: int,
    no_fsync: bool,
    cluster_stream: str,
    replica_id: str,
    stream_replicas: int,
    read_only: bool,
    peers: str,
    coordinator: bool,
    coordinator_url: str,
    replication_timeout_ms: int,
) -> None:
    """Run the fingerprint index server (acoustid-index compatible HTTP API)."""
    from earmark.index.server import ServerConfig, serve  # Starlette, uvicorn: when run only

    # Per-update temporaries (~1 MiB arrays) reuse heap memory instead of being faulted in
    # afresh for every batch; arrays of MiBs (segments, merges) are mapped and unmapped, so
    # the resident size follows what the index holds (docs/index.md, Memory).
    tune_allocator_lean()
    configured = loaded_settings(ctx).settings
    if coordinator:
        _serve_coordinator(configured, cluster_stream, host, port, stream_replicas)
        return
    if data_dir is None:
        data_dir = configured.data_dir / INDEX_DIR
    settings = IndexSettings(
        checkpoint_threshold=checkpoint_threshold,
        checkpoint_age_s=checkpoint_age_ms / 1000,
        max_file_segments=max_segments,
        idle_merge_s=idle_merge_ms / 1000,
        fsync=not no_fsync,
    )

    cluster = None
    if cluster_stream:
        if legacy_port:
            raise click.UsageError("the legacy protocol writes locally: not with --cluster-stream")
        from earmark.index.cluster.node import ClusterConfig  # the NATS client: cluster only
        from earmark.startup import nats_endpoints, wait_for

        # The replication stream lives in NATS: wait for it as the other roles wait for theirs.
        wait_for(nats_endpoints(str(configured.nats_url)), "index", configured.startup_wait_seconds)
        cluster = ClusterConfig(
            nats_url=configured.nats_url,
            prefix=cluster_stream,
            replica_id=replica_id,
            read_only=read_only,
            stream_replicas=stream_replicas,
            peers=tuple(p.strip() for p in peers.split(",") if p.strip()),
        )

    replica = None
    if coordinator_url:
        if cluster is not None or legacy_port:
            raise click.UsageError("--coordinator-url: not with --cluster-stream or --legacy-port")
        from earmark.index.replica import ReplicaConfig  # httpx: replicas only

        replica = ReplicaConfig(
            coordinator_url,
            ryw_timeout=replication_timeout_ms / 1000,
            peers=tuple(p.strip() for p in peers.split(",") if p.strip()),
        )

    def check_addresses() -> None:
        for taken in (port, legacy_port):
            if taken:
                check_address(host, taken)

    # One server per index directory, and both checked before the directory is created.
    try:
        with claim_data_dir(data_dir, check_addresses):
            serve(
                ServerConfig(
                    data_dir,
                    host,
                    port,
                    legacy_port,
                    index=settings,
                    http=limits_from_settings(configured),
                    cluster=cluster,
                    replica=replica,
                )
            )
    except CorruptFileError as exc:
        # A damaged file must stop the server, loudly and naming the file, never be skipped.
        raise click.ClickException(str(exc)) from exc


def _serve_coordinator(
    configured: Settings, prefix: str, host: str, port: int, stream_replicas: int
) -> None:
    from earmark.index.coordinator import CoordinatorConfig, serve_coordinator

    check_address(host, port)
    serve_coordinator(
        CoordinatorConfig(
            nats_url=configured.nats_url,
            prefix=prefix or "EARMARK_COORDINATOR",
            host=host,
            port=port,
            stream_replicas=stream_replicas,
            http=limits_from_settings(configured),
        )
    )


if __name__ == "__main__":
    index()
