"""Content-Encoding decoded under a cap (riskdrift/sources/decoding.py), fed in pieces."""

from __future__ import annotations

import gzip
import zlib

import pytest

from riskdrift.errors import FilingParseError
from riskdrift.sources.decoding import BoundedDecoder

BODY = b"Item 1A. Risk Factors. Our business is subject to many risks. " * 2000


def fed(decoder: BoundedDecoder, raw: bytes, piece: int = 997) -> bytes:
    return b"".join(decoder.feed(raw[i : i + piece]) for i in range(0, len(raw), piece))


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b, wbits=-zlib.MAX_WBITS)),  # raw, as some send
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
        ("GZIP , gzip", lambda b: gzip.compress(gzip.compress(b))),
    ],
)
def test_every_supported_layering_decodes_in_pieces(header: str | None, encode: object) -> None:
    raw = encode(BODY)  # type: ignore[operator]
    assert fed(BoundedDecoder(header, len(BODY), what="x"), raw) == BODY


def test_one_byte_over_the_cap_is_refused() -> None:
    with pytest.raises(FilingParseError, match="over the 9999-byte limit"):
        fed(BoundedDecoder("gzip", 9999, what="x"), gzip.compress(BODY))


def test_corrupt_compressed_data_is_a_clear_error() -> None:
    with pytest.raises(FilingParseError, match="gzip encoding is corrupt"):
        BoundedDecoder("gzip", 1 << 20, what="x").feed(b"\x1f\x8b\x08\x00not gzip at all" * 10)
