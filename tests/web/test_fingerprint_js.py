"""fingerprint.js's pure functions, run by Node, against Python's computation of the same."""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any

import pytest

from tests.support import ROOT, bit_error_rate, load_vectors, require_tool

SCRIPT = ROOT / "src" / "earmark" / "web" / "static" / "fingerprint.js"
HARNESS = ROOT / "tests" / "web" / "data" / "fingerprint_harness.js"
MASK = 0xFFFFFFFF


def node_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = require_tool("node")
    done = subprocess.run(
        [node, str(HARNESS), str(SCRIPT)],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(calls)
    return results


def python_agreement(a: list[int], b: list[int], offset: int) -> tuple[float | None, int, int]:
    """(share of equal bits, overlapping items, differing bits) of a[i] against b[i + offset]."""
    pairs = [(a[i], b[i + offset]) for i in range(len(a)) if 0 <= i + offset < len(b)]
    differing = sum(bin((x ^ y) & MASK).count("1") for x, y in pairs)
    if not pairs:
        return None, 0, 0
    return 1 - differing / (32 * len(pairs)), len(pairs), differing


def test_the_script_parses() -> None:
    node = require_tool("node")
    subprocess.run([node, "--check", str(SCRIPT)], check=True, timeout=60)


def test_bit_agreement_matches_python_on_random_fingerprints() -> None:
    rng = random.Random(20240330)
    cases = []
    for _ in range(200):
        a = [rng.getrandbits(32) for _ in range(rng.randint(0, 300))]
        if rng.random() < 0.5:  # a noisy, shifted copy: agreement well above random
            shift = rng.randint(0, 40)
            b = [x ^ (1 << rng.randint(0, 31)) for x in a[shift:]]
            if rng.random() < 0.5:  # or the other way round: unrelated items first
                b = [rng.getrandbits(32) for _ in range(shift)] + b
        else:
            b = [rng.getrandbits(32) for _ in range(rng.randint(0, 300))]
        if rng.random() < 0.5:  # signed, as pg_acoustid stores them
            b = [x - (1 << 32) if x >= 1 << 31 else x for x in b]
        offset = rng.randint(-max(len(a), 1) - 5, max(len(b), 1) + 5)
        cases.append((a, b, offset))
    calls = [{"fn": "bitAgreement", "args": [a, b, o], "items": [0, 1]} for a, b, o in cases]
    calls += [{"fn": "xorAt", "args": [a, b, o], "items": [0, 1]} for a, b, o in cases]
    results = node_calls(calls)
    overlapping = 0
    for (a, b, offset), got in zip(cases, results[: len(cases)], strict=True):
        agreement, overlap, differing = python_agreement(a, b, offset)
        assert got["ok"]["overlap"] == overlap
        assert got["ok"]["differing"] == differing
        if agreement is None:
            assert got["ok"]["agreement"] is None
        else:
            overlapping += 1
            assert got["ok"]["agreement"] == pytest.approx(agreement, abs=1e-12)
    assert overlapping > 100  # most cases overlap: the comparison saw real work
    for (a, b, offset), got in zip(cases, results[len(cases) :], strict=True):
        expected = [
            (a[i] ^ b[i + offset]) & MASK for i in range(len(a)) if 0 <= i + offset < len(b)
        ]
        assert got["ok"] == expected


def test_a_shifted_copy_agrees_fully_at_its_offset_only() -> None:
    rng = random.Random(7)
    a = [rng.getrandbits(32) for _ in range(200)]
    b = a[5:]  # b[i] == a[i + 5]: item i of A meets item i - 5 of B
    results = node_calls(
        [{"fn": "bitAgreement", "args": [a, b, o], "items": [0, 1]} for o in (-5, 0, 5)]
    )
    assert results[0]["ok"]["agreement"] == 1
    assert 0.4 < results[1]["ok"]["agreement"] < 0.6  # unrelated items: about half the bits
    assert 0.4 < results[2]["ok"]["agreement"] < 0.6


def test_agreement_on_real_fingerprints_is_one_minus_the_bit_error_rate() -> None:
    vectors = load_vectors("dev-corpus-compare.json")
    pair = next(p for p in vectors["pairs"] if "mp3" in p["a"])
    a = vectors["fingerprints"][pair["a"]]["raw_unsigned"]
    b = vectors["fingerprints"][pair["b"]]["raw_unsigned"]
    n = min(len(a), len(b))
    got = node_calls([{"fn": "bitAgreement", "args": [a, b, 0], "items": [0, 1]}])[0]["ok"]
    assert got["overlap"] == n
    assert got["agreement"] == pytest.approx(1 - bit_error_rate(a[:n], b[:n]), abs=1e-12)
    assert got["agreement"] > 0.9


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1),
        (0xFFFFFFFF, 32),
        (-1, 32),
        (0x80000000, 1),
        (0x55555555, 16),
        (-(1 << 31), 1),
    ],
)
def test_popcount32(value: int, expected: int) -> None:
    assert node_calls([{"fn": "popcount32", "args": [value]}]) == [{"ok": expected}]


def test_items_are_32_bit_integers_signed_or_not() -> None:
    good = node_calls([{"fn": "toItems", "args": [[0, -1, 4294967295, -2147483648, 7]]}])
    assert good == [{"ok": [0, 4294967295, 4294967295, 2147483648, 7]}]
    for bad in [
        [1.5],
        ["1"],
        [None],
        [4294967296],
        [-2147483649],
        [True],
        "1,2,3",
        {"0": 1},
        [0] * 100_001,
    ]:
        result = node_calls([{"fn": "toItems", "args": [bad]}])[0]
        assert "error" in result, bad


def test_parse_data_single_compare_and_hostile() -> None:
    cases = [
        json.dumps({"items": [1, 2], "label": "Fingerprint 1"}),
        json.dumps({"a": {"items": [1]}, "b": {"items": [2, 3]}, "score": 0.5, "maxOffset": 80}),
        json.dumps({"a": {"items": [1]}, "b": {"items": [2]}, "score": "high", "maxOffset": -3}),
        "not json",
        "[1, 2]",
        "null",
        json.dumps({"items": "AQAB"}),
        json.dumps({"a": {"items": [1]}}),
        json.dumps({"a": [1], "b": {"items": [1]}}),
        "[" * 100_000,
    ]
    results = node_calls([{"fn": "parseData", "args": [text]} for text in cases])
    assert results[0]["ok"] == {
        "mode": "single",
        "a": {"items": [1, 2], "label": "Fingerprint 1"},
    }
    # maxOffset never exceeds the longer fingerprint: B can only slide that far.
    assert results[1]["ok"] == {
        "mode": "compare",
        "a": {"items": [1], "label": "A"},
        "b": {"items": [2, 3], "label": "B"},
        "score": 0.5,
        "maxOffset": 1,
    }
    assert results[2]["ok"]["score"] is None
    assert results[2]["ok"]["maxOffset"] == 0  # a bad maxOffset falls back, then is clamped
    assert all("error" in result for result in results[3:]), results[3:]


def test_offsets_are_shown_in_items_and_seconds() -> None:
    results = node_calls([{"fn": "formatOffset", "args": [o]} for o in (0, 8, -80)])
    assert [r["ok"] for r in results] == [
        "0 items (0.00 s)",
        "+8 items (+0.99 s)",
        "-80 items (-9.91 s)",
    ]
