"""The head accounting of the HTTP front (earmark.http_limits): where a head ends, how its
bytes are counted across reads, and the caps."""

from __future__ import annotations

import pytest

from earmark.http_limits import (
    HeadScanner,
    HeadVerdict,
    HttpLimits,
    last_head_end,
    path_and_query,
    plain_text,
    request_target,
)

HEAD = b"GET /v2/lookup?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"


def test_a_head_in_one_read_ends_at_its_empty_line() -> None:
    scanner = HeadScanner(1024, 4096)
    end, verdict = scanner.scan(HEAD + b"BODY", 0)
    assert (end, verdict) == (len(HEAD), HeadVerdict.COMPLETE)
    assert scanner.head_bytes == len(HEAD)
    assert request_target(scanner.prefix) == b"/v2/lookup?x=1"


@pytest.mark.parametrize("cut", range(1, len(HEAD)))
def test_a_head_split_anywhere_ends_at_the_same_byte(cut: int) -> None:
    scanner = HeadScanner(1024, 4096)
    first, second = HEAD[:cut], HEAD[cut:] + b"NEXT"
    end, verdict = scanner.scan(first, 0)
    assert (end, verdict) == (len(first), HeadVerdict.INCOMPLETE)
    end, verdict = scanner.scan(second, 0)
    assert (end, verdict) == (len(HEAD) - cut, HeadVerdict.COMPLETE)
    assert scanner.head_bytes == len(HEAD)


def test_bare_line_feeds_end_a_head_too() -> None:
    scanner = HeadScanner(1024, 4096)
    data = b"GET / HTTP/1.1\nHost: a\n\nrest"
    assert scanner.scan(data, 0) == (data.index(b"rest"), HeadVerdict.COMPLETE)


def test_the_request_line_cap_counts_across_reads() -> None:
    scanner = HeadScanner(100, 1000)
    assert scanner.scan(b"GET /" + b"a" * 90, 0)[1] is HeadVerdict.INCOMPLETE
    assert scanner.scan(b"a" * 10, 0) == (0, HeadVerdict.LINE_TOO_LONG)
    assert request_target(scanner.prefix) == b"/" + b"a" * 100  # the refused read too


def test_a_line_at_the_cap_passes_and_the_head_cap_counts_the_headers() -> None:
    scanner = HeadScanner(100, 200)
    line = b"GET /" + b"a" * 85 + b" HTTP/1.1\r\n"  # 100 bytes before the line feed
    assert len(line) == 101
    assert scanner.scan(line, 0)[1] is HeadVerdict.INCOMPLETE
    assert scanner.line_done
    assert scanner.scan(b"X: " + b"b" * 90 + b"\r\n", 0)[1] is HeadVerdict.INCOMPLETE
    assert scanner.scan(b"Y: " + b"c" * 10, 0) == (0, HeadVerdict.HEAD_TOO_LARGE)


def test_scanning_starts_where_asked_and_reset_forgets_the_head() -> None:
    scanner = HeadScanner(1024, 4096)
    data = HEAD + HEAD
    assert scanner.scan(data, len(HEAD)) == (len(data), HeadVerdict.COMPLETE)
    scanner.reset()
    assert not scanner.started
    assert scanner.prefix == b""


def test_last_head_end_finds_the_start_of_a_pipelined_head() -> None:
    data = b"5\r\nhello\r\n0\r\n\r\nGET / HT"
    assert data[last_head_end(data, 0, len(data)) :] == b"GET / HT"
    assert last_head_end(b"no end here", 0, 11) == 0


def test_targets_and_paths() -> None:
    assert request_target(b"GET") is None
    assert request_target(b"\r\nPOST /submit HTTP/1.1") == b"/submit"
    assert path_and_query(b"http://host:80/v2/lookup?format=xml") == ("/v2/lookup", b"format=xml")
    assert path_and_query(b"/v2/\xff#frag") == ("/v2/\xff", b"")
    assert plain_text(503, None).headers == (("retry-after", "1"),)


def test_contradictory_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="http_max_head"):
        HttpLimits(max_request_line=1000, max_head=1001)
    with pytest.raises(ValueError, match="head_timeout"):
        HttpLimits(head_timeout=0)
