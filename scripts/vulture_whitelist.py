# Names vulture (make lint) cannot see used: read by a framework, kept for a caller to come, or
# called only by tests and benchmarks. Vulture parses this file, nothing imports it. An entry
# whose name leaves the code is harmless; remove it then. See docs/architecture.md.
# ruff: noqa

# Called by a framework: prometheus_client collectors, SQLAlchemy type decorators, asyncio
# transports, io.RawIOBase, uvicorn's Server and Config, anyio, DB-API connections, Alembic.
_.collect, _.load_dialect_impl, _.process_bind_param, _.process_result_value, _.impl, _.cache_ok
_.writelines, _.readable, _.readinto, _.capture_signals, _.force_exit, _.total_tokens
_.isolation_level, down_revision, branch_labels, depends_on, exc_type, tb, _.get_col_spec
_.render_bind_cast
# click.Group overrides (earmark.cli.lazy).
_.get_command, _.format_commands
# uvicorn HttpToolsProtocol and RequestResponseCycle members (earmark.http_protocol).
_.timeout_keep_alive, _.data_received, _.disconnected, _.keep_alive

# Tables registered in their MetaData (migrations and the MusicBrainz schema create them).
account_google, release_country, release_unknown_country, country_area, area_type, artist_type
gender, language, release_packaging, release_status, script

# Named data functions the website will call (issue 15): login, API key page, moderation
# (toggle-track-mbid), track pages, /stats (with the fields of SiteStats).
_.touch_login, _.regenerate_api_key, _.mbid_link, _.set_mbid_disabled, _.get_by_gid
_.counts_by_status, _.site_stats, _.contributors, _.tracks_with_mbid, _.track_mbids
_.mbid_tracks, _.additions
# The website's admin pages (grant and revoke roles); Totals.estimated is read by templates.
_.set_roles, _.estimated
# Fields the /stats and /admin templates read (earmark.web.pages.stats, .admin).
_.lookup_hits, _.lookup_misses, _.new_tracks_chart, _.lookups_chart
_.tracks_per_recording_chart, _.recordings_per_track_chart, _.documents, _.last_indexed_id

# Public records and observables that tests and bench/ read: decoded-stream facts, worker and
# client counters, the synthetic MusicBrainz catalogue's named cases, test-side helpers.
_.codec_name, _.imported, _.already, _.republished, _.new_fingerprints, _.new_tracks
_.restarts, _.retried, _.ignored_lines, _.maintenance_error, _.one_database, _.get_index
_.null_length, _.multi_artist, _.nameless_credit, _.untyped_release_group
_.unknown_country_releases, _.non_latin, _.read_pcm, _.format_line, _.count_lookup
_.count_user_agent
# The mirror subset's tables the catalog reaches by name (getattr(tables(), f"{kind}_gid_redirect"))
# or that only foreign keys point at; catalog_search.refresh re-indexes single entities for
# whoever changes the mirror (replication), tested in tests/catalog.
_.artist_gid_redirect, _.release_gid_redirect, _.release_group_gid_redirect
_.track_gid_redirect, _.label_type, _.refresh

# earmark.backup.manifest.Manifest: written into manifest.json (asdict) for whoever reads a backup.
_.earmark_version
# Open data (docs/open-data.md): the imported rows of a stream, asked by the tests.
imported_ids
# The sharded index client's per-replica counters, read by getattr in api/metrics.ShardsCollector.
_.failovers
# Single-row forms of the importer's batched data functions (the importer writes a group at
# once, docs/importer.md); tests and fixtures build data with them.
_.add_mbid, _.add_puid, _.add_meta, _.add_foreignid, _.increment_submission_count
_.record_import, _.get_import
