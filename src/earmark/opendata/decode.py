"""The three encodings of the daily files, told apart per file (acoustid-data.md §1).

1. COPY-escaped JSON lines (the exporter up to the 2024-12-04 data): every backslash of the
   JSON text doubled by PostgreSQL's COPY text format;
2. objects back to back with no newline (the first days of the new exporter);
3. plain JSON lines (since 2024-12-06).

A JSON text never holds a raw control character, so COPY only ever escapes backslashes in
it: every run of backslashes in an escaped file has an even length, while a plain file has
odd runs (``\\"``, ``\\u00e9``). The first chunk with backslashes decides; when its runs are
all even, an escaped quote inside a string (``\\\\"`` followed by more string) marks COPY,
and otherwise the date decides (a plain file whose strings hold literal backslashes only). The
objects are read with a streaming decoder, so files with and without newlines read the same.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from earmark.errors import EarmarkError

#: The last day whose files the old (COPY) exporter wrote.
LAST_ESCAPED_DAY = dt.date(2024, 12, 4)
#: A row (one JSON object) longer than this is refused: a 10-minute fingerprint is ~60 kB.
MAX_ROW_CHARS = 4 << 20
#: A file decompressing to more than this is refused (gzip bombs).
MAX_FILE_BYTES = 8 << 30

_BACKSLASH_RUN = re.compile(r"\\+")
_COPY_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_COPY_SINGLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED_QUOTE = re.compile(r'(?<!\\)\\\\"[^,}\]:]')
_WHITESPACE = re.compile(r"[ \t\r\n]*")


class DataFileError(EarmarkError):
    """A daily file that cannot be read: truncated, not gzip, not JSON, too large."""


def _copy_unescape(text: str) -> str:
    def one(found: re.Match[str]) -> str:
        octal, hexa, other = found.groups()
        if octal is not None:
            return chr(int(octal, 8))
        if hexa is not None:
            return chr(int(hexa, 16))
        return _COPY_SINGLE.get(other, other)

    return _COPY_ESCAPE.sub(one, text)


def gunzip(chunks: Iterable[bytes], where: str, limit: int = MAX_FILE_BYTES) -> Iterator[bytes]:
    """The decompressed bytes of a gzip stream; a truncated or corrupt stream is an error."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    seen = False
    for chunk in chunks:
        seen = seen or bool(chunk)
        try:
            data = inflater.decompress(chunk, 1 << 20)
            while data:
                total += len(data)
                if total > limit:
                    raise DataFileError(f"{where}: decompresses to more than {limit} bytes")
                yield data
                data = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
        except zlib.error as exc:
            raise DataFileError(f"{where}: not a valid gzip file ({exc})") from None
        if inflater.eof:
            break
    if seen and not inflater.eof:
        raise DataFileError(f"{where}: truncated gzip file (the download stopped early?)")


class _Unescaper:
    """Turns decoded text into JSON text, deciding the file's encoding on the way."""

    def __init__(self, day: dt.date | None) -> None:
        self.escaped: bool | None = None
        self.day = day
        self.held = ""

    def feed(self, text: str, final: bool = False) -> str:
        text = self.held + text
        self.held = ""
        if not final:
            # A backslash run may go on in the next chunk: hold it back.
            stripped = text.rstrip("\\")
            self.held = text[len(stripped) :]
            text = stripped
        if self.escaped is None and "\\" in text:
            runs = [len(run) for run in _BACKSLASH_RUN.findall(text)]
            if any(n % 2 for n in runs):
                self.escaped = False
            else:
                # Even runs only: an escaped quote (\\") inside a string is COPY's mark; a
                # plain file has one only where a string ends with a backslash.
                old = self.day is None or self.day <= LAST_ESCAPED_DAY
                self.escaped = old or _ESCAPED_QUOTE.search(text) is not None
        return _copy_unescape(text) if self.escaped else text


def iter_objects(
    chunks: Iterable[bytes], where: str, day: dt.date | None = None
) -> Iterator[dict[str, Any]]:
    """Every JSON object of a gzip daily file, whatever its encoding (see the module doc)."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    unescaper = _Unescaper(day)
    buffer = ""
    offset = 0  # characters consumed before buffer[0], for messages

    def objects(final: bool) -> Iterator[dict[str, Any]]:
        nonlocal buffer, offset
        pos = 0
        while True:
            pos = _WHITESPACE.match(buffer, pos).end()  # type: ignore[union-attr]
            if pos >= len(buffer):
                break
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                # Rows never hold a raw newline: one after pos means the row is complete
                # and wrong; without one, more data may finish it.
                if final or buffer.find("\n", pos) >= 0:
                    raise DataFileError(
                        f"{where}: not JSON at character {offset + pos} ({exc.msg}): "
                        f"{buffer[pos : pos + 60]!r}"
                    ) from None
                break
            if not isinstance(value, dict):
                raise DataFileError(f"{where}: a row is not a JSON object at {offset + pos}")
            if end - pos > MAX_ROW_CHARS:
                raise DataFileError(f"{where}: a row longer than {MAX_ROW_CHARS} characters")
            pos = end
            yield value
        buffer = buffer[pos:]
        offset += pos
        if len(buffer) > MAX_ROW_CHARS:
            raise DataFileError(f"{where}: a row longer than {MAX_ROW_CHARS} characters")

    try:
        for data in gunzip(chunks, where):
            buffer += unescaper.feed(utf8.decode(data))
            yield from objects(final=False)
        buffer += unescaper.feed(utf8.decode(b"", final=True), final=True)
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{where}: not UTF-8 ({exc.reason})") from None
    yield from objects(final=True)
