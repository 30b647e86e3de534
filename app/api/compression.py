"""gzip for responses, when the client accepts it (browsers and Apollo Client always do).

Every response of 1 KB or more is compressed by Starlette's GZipMiddleware (app/api/app.py). The
compiled read path's answers are compressed here instead, in two parts: the data, which the read cache
keeps, is compressed once (`GzipStart`), and each answer only appends what is its own (its cost
extension) as a final stored block (`GzipStart.finish`). A page of a hundred deals is ≈ 108 KB of JSON
and ≈ 17 KB compressed; compressing it costs ≈ 0.4 ms of CPU, appending the extension a few microseconds.
Level 1 (nginx's default): level 5 makes that page 21 % smaller for 80 % more CPU (bench/README.md)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MINIMUM_SIZE = 1024  # smaller answers are sent as they are (not worth a compressor)
LEVEL = 1

# A gzip member's header (RFC 1952): magic, deflate, no flags, no modification time, no extra flags, OS unknown.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_MAX_STORED = 0xFFFF  # the longest stored block (RFC 1951 §3.2.4)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header admits gzip (`gzip;q=0` refuses it; `*` admits it)."""
    if not accept_encoding:
        return False
    wildcard = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            wildcard = q > 0
    return bool(wildcard)


@dataclass(frozen=True)
class GzipStart:
    """The start of a gzip stream: the header and the deflated text, ended by a full flush (byte-aligned,
    and nothing after it may refer back), so any bytes can follow it as a block of their own; with the
    CRC-32 and the length of the text, which the stream's trailer needs."""

    deflated: bytes
    crc: int
    size: int

    @classmethod
    def of(cls, text: bytes) -> "GzipStart":
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: the header is ours
        deflated = compressor.compress(text) + compressor.flush(zlib.Z_FULL_FLUSH)
        return cls(_HEADER + deflated, zlib.crc32(text), len(text))

    def finish(self, tail: bytes) -> bytes:
        """The whole gzip stream of the text followed by `tail`: `tail` as the final stored block, then
        the trailer (CRC-32 and length of everything, continued from the text's)."""
        if len(tail) > _MAX_STORED:
            raise ValueError("a tail longer than one stored block")
        block = b"\x01" + struct.pack("<HH", len(tail), len(tail) ^ 0xFFFF)  # BFINAL=1, BTYPE=00 (stored)
        trailer = struct.pack("<II", zlib.crc32(tail, self.crc), (self.size + len(tail)) & 0xFFFFFFFF)
        return self.deflated + block + tail + trailer


class Compression:
    """Starlette's GZipMiddleware, deciding by `accepts_gzip` (it looks for the word "gzip" only): a client
    that refuses gzip gets its answers as they are, still with `Vary: Accept-Encoding`. Answers that are
    already encoded (the compiled read path's) pass through."""

    def __init__(self, app: ASGIApp) -> None:
        # Inline, not in a worker thread: compressing even the largest page takes about a millisecond.
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE, compresslevel=LEVEL, thread_minimum_size=1 << 30)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            offered = [value for name, value in scope["headers"] if name == b"accept-encoding"]
            if offered and not accepts_gzip(b",".join(offered).decode("latin-1")):
                scope = without_accept_encoding(scope)
        await self.gzip(scope, receive, send)


def without_accept_encoding(scope: Scope) -> Scope:
    """The request as if it accepted only the identity encoding."""
    return {**scope, "headers": [(name, value) for name, value in scope["headers"] if name != b"accept-encoding"]}
