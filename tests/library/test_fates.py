"""``import-audio``'s wait for the importer: the real API app and the real importer (run at a
chosen moment of the wait), on SQLite and PostgreSQL; and what a hostile status answer
becomes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.chromaprint.identifiable import TOO_FEW_ITEMS
from earmark.library.client import WebServiceClient
from earmark.library.fates import Fates, await_fates, file_fate
from tests.api.harness import ApiHarness
from tests.importer.harness import fixture_items


def _client(api: ApiHarness) -> WebServiceClient:
    return WebServiceClient(
        "http://testserver",
        api.client_key,
        transport=httpx.ASGITransport(app=api.app),
        rate=0,
    )


def _submit(api: ApiHarness, vectors: Any) -> list[tuple[str, tuple[int, ...]]]:
    """A full fingerprint and one cut to 60 items (too few for the importer), both tagged."""
    items, length = fixture_items(vectors, "1A")
    entries = [
        {
            "fingerprint": encode_fingerprint_base64(items),
            "duration": str(length),
            "mbid": [str(uuid.uuid4())],
        },
        {"fingerprint": encode_fingerprint_base64(items[:60]), "duration": "8", "track": "Short"},
    ]

    async def go() -> list[tuple[str, tuple[int, ...]]]:
        async with _client(api) as client:
            results = await client.submit(api.user_key, entries)
        return [("full.flac", results[0].ids), ("short.flac", results[1].ids)]

    return asyncio.run(go())


def test_waits_until_the_importer_has_handled_every_submission(
    api: ApiHarness, acoustid_fixtures: Any
) -> None:
    sent = _submit(api, acoustid_fixtures)
    polls_before_import: list[int] = []

    async def importer_runs_during_the_wait(seconds: float) -> None:
        # The first pause of the wait: the submissions are pending; the importer runs now.
        polls_before_import.append(1)
        if len(polls_before_import) == 1:
            await asyncio.to_thread(api.import_pending)

    async def go() -> Fates:
        async with _client(api) as client:
            return await await_fates(client, sent, sleep=importer_runs_during_the_wait)

    fates = asyncio.run(go())
    assert polls_before_import == [1]  # one pause, then everything was handled
    assert fates.imported == 1
    assert fates.skipped == [("short.flac", TOO_FEW_ITEMS)]
    assert fates.pending == []
    assert fates.failed == []
    lines = fates.lines()
    assert lines[0] == (
        "imported 1 file(s), 1 skipped by the importer, 0 failed in the importer, 0 still pending"
    )
    assert lines[1] == f"  skipped: short.flac: {TOO_FEW_ITEMS}"


@pytest.mark.parametrize("bound", ["timeout", "stall"])
def test_the_wait_is_bounded_without_an_importer(
    api: ApiHarness, acoustid_fixtures: Any, bound: str
) -> None:
    sent = _submit(api, acoustid_fixtures)
    limits = {"timeout": 3600.0, "stall": 3600.0, bound: 0.0}

    async def go() -> Fates:
        async with _client(api) as client:
            return await await_fates(client, sent, **limits)

    fates = asyncio.run(go())
    assert fates.pending == ["full.flac", "short.flac"]
    assert fates.imported == 0
    assert "2 file(s) not imported after" in fates.lines()[-1]
    assert "earmark run importer" in fates.lines()[-1]


def test_nothing_sent_asks_nothing(api: ApiHarness) -> None:
    async def go() -> Fates:
        async with _client(api) as client:
            return await await_fates(client, [])

    fates = asyncio.run(go())
    assert (fates.imported, fates.pending, fates.skipped, fates.failed) == (0, [], [], [])


@pytest.mark.parametrize(
    ("statuses", "fate"),
    [
        ([{"status": "imported", "result": {"id": "x"}}], ("imported", "")),
        ([{"status": "skipped", "reason": "why"}], ("skipped", "why")),
        ([{"status": "failed"}], ("failed", "failed (no reason given)")),
        # One MBID's submission imported is enough: the fingerprint is in the catalogue.
        ([{"status": "skipped", "reason": "r"}, {"status": "imported"}], ("imported", "")),
        ([{"status": "imported"}, {"status": "pending"}], ("pending", "")),
        # Hostile or broken answers: never an exception, never a huge line.
        ([None], ("failed", "the server does not report this submission")),
        ([{"status": "unknown"}], ("failed", "unknown to the server (status 'unknown')")),
        ([{"status": ["x"]}], ("failed", "unknown to the server (status \"['x']\")")),
        ([{"status": "skipped", "reason": "r" * 10_000}], ("skipped", "r" * 300)),
        ([{"status": "skipped", "reason": 42}], ("skipped", "skipped (no reason given)")),
        ([], ("failed", "unknown to the server")),
    ],
)
def test_file_fate(statuses: list[dict[str, Any] | None], fate: tuple[str, str]) -> None:
    assert file_fate(statuses) == fate
