"""Content-Encoding decoded under a size cap, before any byte past the cap exists.

httpx decodes ``gzip``/``deflate`` itself, one network chunk at a time and
without a bound: a few kilobytes of ``Content-Encoding: gzip, gzip`` expand to
gigabytes inside one chunk, before a caller counting bytes sees any of them.
:class:`BoundedDecoder` is fed the raw bytes (``response.aiter_raw()``) instead
and undoes every layered encoding, last applied first, with ``zlib``'s
``max_length``: no layer ever produces more than the cap (plus the little a
compressed layer may exceed its content by), so a decompression bomb is refused
having expanded at most that much.

Only what riskdrift asks for (``Accept-Encoding: gzip, deflate``) is decoded,
stacked at most :data:`MAX_LAYERS` deep; anything else is refused.
"""

from __future__ import annotations

import zlib

from riskdrift.errors import FilingParseError

MAX_LAYERS = 2
"""Stacked encodings undone at most; a server stacking more is refused."""

_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,  # zlib-wrapped, as RFC 9110 says; raw deflate is tried too
}
CHUNK = 64 * 1024
"""Output produced per inflate call: memory beyond the cap stays this small."""


class _Layer:
    """One encoding to undo, with a cap on what it may produce in all."""

    def __init__(self, coding: str, cap: int) -> None:
        self.coding = coding
        self.cap = cap
        self.produced = 0
        self.started = False
        self._inflater = zlib.decompressobj(_WBITS[coding])

    def inflate(self, data: bytes, what: str) -> list[bytes]:
        out: list[bytes] = []
        while data:
            if self._inflater.eof:
                break  # bytes after the end of the stream: ignored, as httpx does
            try:
                piece = self._inflater.decompress(data, CHUNK)
            except zlib.error:
                if self.coding == "deflate" and not self.started:
                    # Some servers send raw deflate under "deflate": start again raw.
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.started = True
                    continue
                raise FilingParseError(
                    f"{what}: its {self.coding} encoding is corrupt", filing=what
                ) from None
            self.started = True
            self.produced += len(piece)
            if self.produced > self.cap:
                raise _too_large(what, self.cap)
            out.append(piece)
            data = self._inflater.unconsumed_tail
        return out


def _too_large(what: str, cap: int) -> FilingParseError:
    """A response whose decoded body passed the cap (while being decoded)."""
    return FilingParseError(
        f"EDGAR answer is over the {cap}-byte limit once decoded (compressed "
        "content expanding past it was refused before it could)",
        filing=what,
    )


class BoundedDecoder:
    """Undo ``content_encoding`` (a Content-Encoding header value) on fed raw bytes,
    refusing a body that decodes to more than ``limit`` bytes."""

    def __init__(self, content_encoding: str | None, limit: int, *, what: str) -> None:
        codings = [
            c.strip().lower()
            for c in (content_encoding or "").split(",")
            if c.strip() and c.strip().lower() != "identity"
        ]
        unknown = [c for c in codings if c not in _WBITS]
        if unknown:
            raise FilingParseError(
                f"{what}: unsupported Content-Encoding {', '.join(unknown)}", filing=what
            )
        if len(codings) > MAX_LAYERS:
            raise FilingParseError(
                f"{what}: {len(codings)} stacked Content-Encodings, more than {MAX_LAYERS}",
                filing=what,
            )
        self.limit = limit
        self.what = what
        self.total = 0
        # Undone last-applied first. An inner layer is compressed content, which may
        # exceed what it decodes to only by framing: capped a little above the limit.
        caps = ([limit] + [limit + limit // 100 + CHUNK] * (len(codings) - 1))[: len(codings)]
        self._layers = [
            _Layer(coding, cap)
            for coding, cap in zip(reversed(codings), reversed(caps), strict=True)
        ]

    def feed(self, raw: bytes) -> bytes:
        """The decoded bytes ``raw`` yields; raises once the body passes the limit."""
        pieces = [raw]
        for layer in self._layers:
            pieces = [out for piece in pieces for out in layer.inflate(piece, self.what)]
        decoded = b"".join(pieces)
        self.total += len(decoded)
        if self.total > self.limit:
            raise _too_large(self.what, self.limit)
        return decoded
