"""Decode audio files to the signal Chromaprint works on: 11025 Hz, mono, signed 16-bit.

fpcalc asks FFmpeg's libswresample for mono s16 at 11025 Hz with ``filter_size=16``,
``phase_shift=8``, ``linear_interp=1`` and ``cutoff=0.8`` (reference chromaprint.md §1.1, §6);
the same resampler with the same options gives the same samples, and so the same fingerprint.

The whole chain (demux, decode, down-mix, resample, format conversion, re-chunking) runs inside
one libavfilter graph built by PyAV: the ``amovie`` source decodes the file in C, so Python only
sees large blocks of PCM. Pushing every decoded frame through Python instead costs more than the
decoding itself on Vorbis files, whose frames are ~150 samples long.

Only audio container formats are opened. Playlist-like demuxers (``hls``, ``concat``, ...)
would make FFmpeg open other files or URLs named inside the file, so they are refused, and the
path is given to FFmpeg with the ``file:`` protocol so that no name is taken for a URL.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from earmark.errors import EarmarkError

SAMPLE_RATE = 11025

# fpcalc's swresample options (chromaprint's ffmpeg_audio_reader.h).
RESAMPLER_OPTIONS = "filter_size=16:phase_shift=8:linear_interp=1:cutoff=0.8"

# Samples per block handed to Python: large enough that per-block overhead is negligible,
# small enough that a block is ~3 s of audio.
BLOCK_SAMPLES = 32768

# Demuxers for audio containers and raw audio streams; anything else is refused (see module doc).
AUDIO_DEMUXERS = frozenset(
    {
        "aac",
        "ac3",
        "aiff",
        "amr",
        "ape",
        "asf",
        "au",
        "caf",
        "dsf",
        "dts",
        "eac3",
        "flac",
        "latm",
        "loas",
        "matroska,webm",
        "mov,mp4,m4a,3gp,3g2,mj2",
        "mp3",
        "mpc",
        "mpc8",
        "ogg",
        "tak",
        "truehd",
        "tta",
        "w64",
        "wav",
        "wv",
    }
)

# File name endings that `earmark fingerprint DIR` picks up when it walks a directory.
AUDIO_EXTENSIONS = frozenset(
    {
        ".aac",
        ".ac3",
        ".aif",
        ".aifc",
        ".aiff",
        ".amr",
        ".ape",
        ".caf",
        ".dsf",
        ".dts",
        ".flac",
        ".m4a",
        ".m4b",
        ".mka",
        ".mp2",
        ".mp3",
        ".mp4",
        ".mpc",
        ".oga",
        ".ogg",
        ".opus",
        ".spx",
        ".tak",
        ".tta",
        ".w64",
        ".wav",
        ".webm",
        ".wma",
        ".wv",
    }
)

Int16Array = npt.NDArray[np.int16]


class AudioError(EarmarkError):
    """A file could not be opened or decoded; the message names the file."""

    exit_code = 2

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DecodeInterruptedError(AudioError):
    """Decoding failed after some audio was produced (fpcalc's exit code 3)."""

    exit_code = 3


@dataclass(frozen=True)
class AudioSource:
    """An opened audio file: what the container says about it, and how to decode it."""

    path: str
    format_name: str
    codec_name: str
    stream_index: int
    sample_rate: int
    channels: int
    duration_ms: int
    """Duration as fpcalc reports it: the stream's, else the container's, in ms (-1: unknown)."""

    @property
    def duration(self) -> float:
        return self.duration_ms / 1000.0

    def pcm_blocks(self, max_samples: int = 0) -> Iterator[Int16Array]:
        """Yield 11025 Hz mono int16 blocks, at most ``max_samples`` in all (0: no limit)."""
        yield from _decode(self, max_samples)


def open_audio(path: str | os.PathLike[str]) -> AudioSource:
    """Probe ``path`` and return its first audio stream; raise AudioError if it has none."""
    import av  # imported here: PyAV loads the FFmpeg libraries, which costs ~0.1 s

    name = os.fspath(path)
    if not os.path.isfile(name):
        reason = "no such file" if not os.path.exists(name) else "not a regular file"
        raise AudioError(name, reason)
    try:
        container = av.open(_ffmpeg_url(name), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(name, f"cannot open: {_describe(exc)}") from None
    try:
        fmt = container.format.name
        if fmt not in AUDIO_DEMUXERS:
            raise AudioError(name, f"not an audio file (container format {fmt!r})")
        if not container.streams.audio:
            raise AudioError(name, "no audio stream")
        stream = container.streams.audio[0]
        return AudioSource(
            path=name,
            format_name=fmt,
            codec_name=stream.codec_context.name,
            stream_index=stream.index,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=stream.codec_context.channels or 0,
            duration_ms=_duration_ms(stream, container),
        )
    finally:
        container.close()


def _ffmpeg_url(path: str) -> str:
    # "file:" makes FFmpeg treat the whole name as a local path, never as "http:..." or "pipe:".
    return "file:" + os.path.abspath(path)


def _duration_ms(stream: object, container: object) -> int:
    # fpcalc: the stream duration if the container knows it, else the format's, in whole ms.
    duration = getattr(stream, "duration", None)
    time_base = getattr(stream, "time_base", None)
    if duration is not None and time_base is not None and duration > 0:
        return int(1000 * duration * time_base.numerator // time_base.denominator)
    total = getattr(container, "duration", None)
    if total is not None and total > 0:
        return int(total // 1000)  # AV_TIME_BASE is microseconds
    return -1


def _describe(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else str(exc) or type(exc).__name__


def _resampler_chain(graph: Any, source_node: Any, block_samples: int) -> Any:
    """Link source → aresample → aformat (→ asetnsamples) → sink; return the sink."""
    chain = [
        graph.add("aresample", f"{SAMPLE_RATE}:{RESAMPLER_OPTIONS}"),
        graph.add("aformat", f"sample_fmts=s16:sample_rates={SAMPLE_RATE}:channel_layouts=mono"),
    ]
    if block_samples:
        chain.append(graph.add("asetnsamples", f"n={block_samples}:p=0"))
    chain.append(graph.add("abuffersink"))
    previous = source_node
    for node in chain:
        previous.link_to(node)
        previous = node
    graph.configure()
    return chain[-1]


def _pull_all(sink: Any) -> Iterator[Int16Array]:
    """Pull every block the sink has now; stop at EOF or when it needs more input."""
    import av

    while True:
        try:
            frame = sink.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        yield _samples(frame)


def _samples(frame: Any) -> Int16Array:
    """A mono s16 frame's samples, without a copy (the array keeps the frame's buffer alive).

    ``frame.to_ndarray()`` stacks the planes into a new array: a copy and a large allocation
    per block, for the one plane a mono frame has.
    """
    return np.frombuffer(frame.planes[0], dtype=np.int16, count=frame.samples)


def _graph_blocks(source: AudioSource) -> Generator[Int16Array]:
    """The fast path: FFmpeg demuxes, decodes and resamples inside one filter graph."""
    import av

    graph = av.filter.Graph()
    # Forcing the probed demuxer keeps the allow-list check meaningful: amovie probes again.
    movie = graph.add(
        "amovie",
        filename=_ffmpeg_url(source.path),
        format_name=source.format_name.split(",")[0],
        stream_index=str(source.stream_index),
    )
    sink = _resampler_chain(graph, movie, BLOCK_SAMPLES)
    while True:
        try:
            frame = sink.pull()
        except av.EOFError:
            return
        except av.BlockingIOError:
            continue
        yield _samples(frame)


def _packet_blocks(source: AudioSource, errors: list[str]) -> Generator[Int16Array]:
    """The careful path: decode packet by packet and stop at the first bad one, as fpcalc does.

    Everything decoded before the error is still resampled and flushed (the fast path loses
    what its graph had buffered), and the error is appended to ``errors``.
    """
    import av

    container = av.open(_ffmpeg_url(source.path), mode="r")
    try:
        stream = next(s for s in container.streams.audio if s.index == source.stream_index)
        graph = av.filter.Graph()
        buffer = graph.add_abuffer(template=stream)
        sink = _resampler_chain(graph, buffer, 0)
        try:
            for packet in container.demux(stream):
                for frame in stream.decode(packet):
                    buffer.push(frame)
                    yield from _pull_all(sink)
        except (av.FFmpegError, OSError, ValueError) as exc:
            errors.append(_describe(exc))
        buffer.push(None)
        yield from _pull_all(sink)
    finally:
        container.close()


def _decode(source: AudioSource, max_samples: int) -> Iterator[Int16Array]:
    import av

    produced = 0
    skip = 0  # samples the careful decoder re-creates that were already delivered
    errors: list[str] = []
    careful = False
    blocks: Generator[Int16Array] = _graph_blocks(source)
    try:
        while max_samples <= 0 or produced < max_samples:
            try:
                block = next(blocks)
            except StopIteration:
                break
            except (av.FFmpegError, OSError, ValueError) as exc:
                if careful:
                    errors.append(_describe(exc))
                    break
                # The fast path lost what its graph buffered: start over packet by packet and
                # skip what was already delivered (both paths produce the same samples).
                careful, skip = True, produced
                blocks.close()
                blocks = _packet_blocks(source, errors)
                continue
            if skip:
                cut = min(skip, len(block))
                block, skip = block[cut:], skip - cut
            if max_samples > 0:
                block = block[: max_samples - produced]
            if len(block):
                produced += len(block)
                yield block
    finally:
        blocks.close()
    if errors and (max_samples <= 0 or produced < max_samples):
        cls = DecodeInterruptedError if produced else AudioError
        raise cls(source.path, f"error decoding audio: {errors[0]}")


def read_pcm(path: str | os.PathLike[str] | Path, max_seconds: float = 0) -> Int16Array:
    """Decode a whole file (or its first ``max_seconds``) into one int16 array."""
    source = open_audio(path)
    blocks = list(source.pcm_blocks(int(max_seconds * SAMPLE_RATE)))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)
