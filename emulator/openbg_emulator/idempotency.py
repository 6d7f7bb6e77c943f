"""The ``Idempotency-Key`` request header of ``POST /removebg`` (an openbg extension).

A client that may send the same call twice (a retry after a lost answer) gives each logical call a fresh
key (a UUID) and sends the same key with every retry of it. The server keeps, with the charge, the account
key's id, the idempotency key and a digest of the request's fields (:class:`Idempotency`); for
:data:`WINDOW_S` (24 h) a repeat with the same key and the same fields is answered normally (recomputed)
but not charged again: ``X-Credits-Charged`` is the original charge, and ``Idempotent-Replayed: true``
says so. The same key with other fields is refused (422 ``idempotency_key_reused``). Two copies of one
call that arrive at once (on one server or several) are both computed; the charge, serialised per account,
is taken once and the other copy is answered as a replay.

No HTTP here beyond reading the header; :mod:`openbg_emulator.accounts` stores and checks the records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from openbg_emulator.errors import ApiError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # response header on a replay
MAX_LEN = 255
WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class Idempotency:
    key: str  # the client's Idempotency-Key
    digest: str  # sha256 (hex) of the request's fields


def digest(fields: Mapping[str, object]) -> str:
    """A digest of the request's fields (names and values, in name order; file parts by their bytes)."""
    h = hashlib.sha256()
    for name in sorted(fields):
        value = fields[name]
        if isinstance(value, bytes | bytearray):
            part = b"b" + bytes(value)
        else:
            part = b"j" + json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()
        n = name.encode("utf-8", "surrogatepass")
        h.update(len(n).to_bytes(8, "big") + n + len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


def from_request(headers: Mapping[str, str], fields: Mapping[str, object]) -> Idempotency | None:
    """The request's idempotency record, None without the header; 400 ``invalid_idempotency_key`` for a
    value that is empty, longer than :data:`MAX_LEN` or not visible ASCII."""
    value = headers.get(HEADER.lower())
    if value is None:
        return None
    key = value.strip()
    if not 1 <= len(key) <= MAX_LEN or not all("!" <= ch <= "~" for ch in key):
        raise ApiError("invalid_idempotency_key",
                       detail=f"{HEADER} must be 1 to {MAX_LEN} visible ASCII characters (a UUID is a good choice)")
    return Idempotency(key, digest(fields))


def reused() -> ApiError:
    return ApiError("idempotency_key_reused",
                    detail=f"This {HEADER} was used in the last 24 hours with a different request; "
                           "use a fresh key for a new request")
