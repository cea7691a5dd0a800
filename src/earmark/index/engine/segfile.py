"""On-disk segment files: written once, renamed into place, memory-mapped on open.

Layout (all integers little-endian):

    magic "EMSEG001" | u32 header length | u32 CRC-32 of header | header (JSON) | pad to 64
    sections, each 64-byte aligned, described in the header (offset, length, CRC-32, codec)

Sections are integer columns in the byte-plane encoding of `columns.py`: `terms` (sorted,
delta-coded, compressed: well under a byte per posting), `postings` (doc ids minus the
segment's smallest id: three bytes each below 16.7 M documents), the doc table
(`doc_ids`, `doc_alive`, `doc_versions`) and, for large segments, the term lookup's bucket
table (`buckets`). They are decoded on open into the RAM layout of `postings.py`
(4.5-5 bytes per posting for large segments).

Every section is checked against its CRC on open: a damaged file is a `CorruptFileError`
naming the file, never a silent loss of the documents it holds.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from earmark.index.engine import columns as columns_codec
from earmark.index.engine.durable import fsync_dir
from earmark.index.engine.errors import CorruptFileError
from earmark.index.engine.postings import posting_table
from earmark.index.engine.segment import Segment

MAGIC = b"EMSEG001"
_PREFIX = struct.Struct("<8sII")
_ALIGN = 64
FORMAT = 1


def segment_file_name(first_commit: int, last_commit: int) -> str:
    return f"{first_commit:016x}-{last_commit:016x}.seg"


def _pad(n: int) -> int:
    return (-n) % _ALIGN


def write_segment(directory: Path, segment: Segment) -> Path:
    """Write `segment` to `directory` (temp file, fsync, rename, fsync dir); return the path."""
    columns: list[tuple[str, bytes, dict[str, Any]]] = []
    for name, values, delta, compress in (
        ("terms", segment.terms, True, True),
        ("postings", segment.postings, False, False),
        ("doc_ids", segment.doc_ids, True, True),
        ("doc_alive", segment.doc_alive.astype(np.uint8), False, True),
        ("doc_versions", segment.doc_versions, False, True),
    ):
        data, meta = columns_codec.encode(values, delta=delta, compress=compress)
        columns.append((name, data, meta))
    # The lookup table of large segments is stored too (well under a byte per posting once
    # delta-coded): rebuilding it from 100 M terms would take seconds at every startup.
    table = segment.bucket_table()
    if table is not None:
        data, meta = columns_codec.encode(table[1], delta=True, compress=True)
        columns.append(("buckets", data, {**meta, "shift": table[0]}))
    header: dict[str, Any] = {
        "format": FORMAT,
        "first_commit": segment.first_commit,
        "last_commit": segment.last_commit,
        "num_postings": segment.num_items,
        "num_docs": segment.num_docs,
        "metadata": dict(segment.metadata),
        "sections": {},
    }
    # Offsets depend on the header length, which depends on the offsets: size the header
    # with placeholder offsets of the largest magnitude, then pad the real one to that size.
    for name, data, meta in columns:
        header["sections"][name] = {
            **meta,
            "offset": 1 << 40,
            "length": len(data),
            "crc": zlib.crc32(data),
        }
    header_len = len(json.dumps(header).encode())
    pos = _PREFIX.size + header_len
    pos += _pad(pos)
    for name, data, _meta in columns:
        header["sections"][name]["offset"] = pos
        pos += len(data)
        pos += _pad(pos)
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * (header_len - len(header_bytes))
    path = directory / segment_file_name(segment.first_commit, segment.last_commit)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(_PREFIX.pack(MAGIC, len(header_bytes), zlib.crc32(header_bytes)))
        f.write(header_bytes)
        written = _PREFIX.size + len(header_bytes)
        for name, data, _meta in columns:
            offset = header["sections"][name]["offset"]
            f.write(b"\0" * (offset - written))
            f.write(data)
            written = offset + len(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(directory)
    return path


def read_segment(path: Path, *, verify: bool = True) -> Segment:
    """Open a segment file; raise `CorruptFileError` naming it if anything does not check out."""
    try:
        return _read(path, verify)
    except CorruptFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zlib.error, struct.error) as exc:
        raise CorruptFileError(path, f"{type(exc).__name__}: {exc}") from exc


def _read(path: Path, verify: bool) -> Segment:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise CorruptFileError(path, "empty file")
        # Map the file rather than read it: no anonymous copy of the whole file (fresh
        # memory is the expensive part of a startup); MAP_POPULATE maps it in one go.
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        data = mmap.mmap(f.fileno(), size, flags=flags, prot=mmap.PROT_READ)
    if size < _PREFIX.size:
        raise CorruptFileError(path, "truncated header")
    magic, header_len, header_crc = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise CorruptFileError(path, "bad magic")
    end = _PREFIX.size + header_len
    if end > size:
        raise CorruptFileError(path, "truncated header")
    header_bytes = data[_PREFIX.size : end]
    if zlib.crc32(header_bytes) != header_crc:
        raise CorruptFileError(path, "header checksum mismatch")
    header = json.loads(header_bytes)
    if header.get("format") != FORMAT:
        raise CorruptFileError(path, f"unknown format {header.get('format')!r}")
    view = memoryview(data)

    def column(name: str) -> npt.NDArray[Any]:
        info = header["sections"][name]
        start, length = int(info["offset"]), int(info["length"])
        if start + length > size:
            raise CorruptFileError(path, f"section {name} is truncated")
        raw = view[start : start + length]
        if verify and zlib.crc32(raw) != info["crc"]:
            raise CorruptFileError(path, f"section {name} checksum mismatch")
        return columns_codec.decode(raw, info)

    terms = column("terms").astype(np.uint32, copy=False)
    postings = column("postings").astype(np.uint32, copy=False)
    doc_ids = column("doc_ids").astype(np.uint32, copy=False)
    doc_alive = column("doc_alive").astype(np.bool_)
    doc_versions = column("doc_versions").astype(np.uint64, copy=False)
    buckets = None
    if "buckets" in header["sections"]:
        starts = column("buckets").astype(np.uint32, copy=False)
        shift = int(header["sections"]["buckets"]["shift"])
        if not 0 < shift < 32 or starts.shape[0] != (1 << (32 - shift)) + 1:
            raise CorruptFileError(path, "bucket table has the wrong size")
        if int(starts[-1]) != terms.shape[0]:
            raise CorruptFileError(path, "bucket table does not cover the postings")
        buckets = (shift, starts)
    if (
        terms.shape[0] != int(header["num_postings"])
        or postings.shape[0] != terms.shape[0]
        or not doc_ids.shape[0] == doc_alive.shape[0] == doc_versions.shape[0]
        or doc_ids.shape[0] != int(header["num_docs"])
    ):
        raise CorruptFileError(path, "section sizes disagree with the header")
    table = posting_table(terms, postings, buckets)
    del terms, postings
    return Segment(
        first_commit=int(header["first_commit"]),
        last_commit=int(header["last_commit"]),
        table=table,
        doc_ids=doc_ids,
        doc_alive=doc_alive,
        doc_versions=doc_versions,
        metadata={str(k): str(v) for k, v in header["metadata"].items()},
        path=path,
    )
