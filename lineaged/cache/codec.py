"""Cache keys and the stored encoding of a FileLineage.

A one-byte tag in front of every stored value says how it is encoded, so rows written
by an older lineaged stay readable after the encoding changes (the cache file's schema
version is about its tables; the tag is the value's format version):

    m / M   msgpack of the FileLineage dataclasses' own fields (msgspec), M = zlib'd
    j / z   orjson of `FileLineage.to_dict()` (the public JSON shape), z = zlib'd;
            written before 2026-12 and still read

Why msgspec (issue 14 target 3, rebuilding a lost graph from the cache): decoding a
hit was ~60 us, of which `FileLineage.from_dict` (a Python loop building every
statement and edge) was half and orjson a quarter. msgspec decodes msgpack straight
into the frozen dataclasses in C: measured in one run on a 2-statement, 48-edge
result, 67 -> 23 us per hit including zlib (tests/bench/bench_cache.py prints both).
Encoding the dataclasses' own fields (tuples as arrays, no to_dict detour) is also what
makes the round trip exact for every field (tests/test_cache_codec.py).

Compression: zlib level 1 once a value is big enough to gain. Column edges repeat
fully-qualified names, so values shrink 3-10x: that many more entries under the same
byte bound and fewer pages per batched get; zlib costs ~5-10 us of a decode. Level 6
saved only ~20 % more at 2-4x the encode time. Pickle would tie the on-disk format to
class layout and Python version.
"""

from __future__ import annotations

import hashlib
import zlib

import msgspec
import orjson

from lineaged.model import FileLineage

_MSGPACK = b"m"
_MSGPACK_ZLIB = b"M"
_JSON = b"j"  # read only: the encoding before msgpack
_JSON_ZLIB = b"z"  # read only
# Below this, zlib's header and lost dictionary warm-up eat most of the gain.
_COMPRESS_FROM = 256
_ZLIB_LEVEL = 1

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(FileLineage)


class CodecError(ValueError):
    """A stored value could not be decoded; callers treat it as a miss."""


def cache_key(sha256: str, dialect: str, schema_fingerprint: str, extractor_version: str) -> str:
    """Stable key for one extraction input: 64 hex chars.

    Parts are length-prefixed before hashing so no two different tuples can join to the
    same string. Hashing (rather than storing the ~150-char joined parts) keeps the key
    index at a fixed 64 bytes per row; see the bench for the measured effect.
    """
    joined = "".join(
        f"{len(p)}:{p}" for p in (sha256, dialect, schema_fingerprint, extractor_version)
    )
    return hashlib.sha256(joined.encode()).hexdigest()


def encode(lineage: FileLineage) -> bytes:
    raw = _encoder.encode(lineage)
    if len(raw) < _COMPRESS_FROM:
        return _MSGPACK + raw
    return _MSGPACK_ZLIB + zlib.compress(raw, _ZLIB_LEVEL)


def decode(blob: bytes) -> FileLineage:
    try:
        tag, body = blob[:1], blob[1:]
        if tag == _MSGPACK_ZLIB:
            return _decoder.decode(zlib.decompress(body))
        if tag == _MSGPACK:
            return _decoder.decode(body)
        if tag == _JSON_ZLIB:
            return FileLineage.from_dict(orjson.loads(zlib.decompress(body)))
        if tag == _JSON:
            return FileLineage.from_dict(orjson.loads(body))
        raise CodecError(f"unknown encoding tag {tag!r}")
    except CodecError:
        raise
    except (
        zlib.error,
        msgspec.DecodeError,
        orjson.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise CodecError(str(exc)) from exc
