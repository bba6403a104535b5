"""Cache keys and the stored encoding of a FileLineage.

Encoding: orjson of `FileLineage.to_dict()` (the public JSON shape, so a stored value is
readable with `sqlite3` + `zlib`), compressed with zlib level 1 once it is big enough to
gain. A one-byte tag in front says which, so old rows stay readable if this changes.

Why zlib-1 (tests/bench/bench_cache.py, realistic warehouse lineage, Python 3.11):
    1 stmt x 5 cols    json 1.3 KB -> 0.37 KB  (3.5x)   encode 11 us, decode 13 us
    1 stmt x 36 cols   json 7.4 KB -> 0.94 KB  (7.8x)   encode 26 us, decode 45 us
    4 stmt x 36 cols   json 28 KB  -> 3.3 KB   (8.7x)   encode 75 us, decode 156 us
Column edges repeat fully-qualified names and dict keys, so JSON shrinks 3-10x: that is
3-10x more entries under the same byte bound and fewer pages per batched get. Of a
~58 us decode (2 x 24 columns), zlib is 10 us, orjson 14, FileLineage.from_dict 31, so
compression is not what limits hit throughput. Level 6 saved only ~20 % more at 2-4x
the encode time. Pickle was larger than JSON (no dedup) and would tie the on-disk
format to class layout.
"""

from __future__ import annotations

import hashlib
import zlib

import orjson

from lineaged.model import FileLineage

_RAW = b"j"
_ZLIB = b"z"
# Below this, zlib's header and lost dictionary warm-up eat most of the gain.
_COMPRESS_FROM = 256
_ZLIB_LEVEL = 1


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
    raw = orjson.dumps(lineage.to_dict())
    if len(raw) < _COMPRESS_FROM:
        return _RAW + raw
    return _ZLIB + zlib.compress(raw, _ZLIB_LEVEL)


def decode(blob: bytes) -> FileLineage:
    try:
        tag, body = blob[:1], blob[1:]
        if tag == _ZLIB:
            body = zlib.decompress(body)
        elif tag != _RAW:
            raise CodecError(f"unknown encoding tag {tag!r}")
        return FileLineage.from_dict(orjson.loads(body))
    except CodecError:
        raise
    except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CodecError(str(exc)) from exc
