"""A small per-process memory of successful password checks, so that a client presenting the
same Basic credentials again (docker, skopeo and `cargobay pull` ask `/token` once per process)
does not pay another argon2id verification (~0.2 s of CPU) within a few minutes.

What is kept is only a keyed hash: HMAC-SHA256, under a random key made when the cache is, over
the account's id, its stored password hash and the password. A new password (or a new hash of
the same one) gives another key, so a change anywhere — another worker, `cargobay admin` — makes
old entries useless without any message between processes. Entries live `ttl` seconds from the
check that made them (a hit does not extend them) and the oldest go first beyond `max_entries`.
Only successes are remembered; callers still look the account up on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_TTL = 300.0
DEFAULT_MAX_ENTRIES = 4096


class VerifiedPasswords:
    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 0:
            raise ValueError("ttl and max_entries must not be negative")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._expiry: OrderedDict[bytes, float] = OrderedDict()  # oldest insertion first

    def __len__(self) -> int:
        return len(self._expiry)

    def _digest(self, account_id: int, password_hash: str, password: str) -> bytes:
        # Length-prefixed fields: no two different triples give the same message.
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (str(account_id).encode(), password_hash.encode(), password.encode()):
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        return mac.digest()

    def contains(self, account_id: int, password_hash: str, password: str) -> bool:
        """Whether this password was verified against this stored hash less than `ttl` ago."""
        if not self._expiry:
            return False
        digest = self._digest(account_id, password_hash, password)
        expiry = self._expiry.get(digest)
        if expiry is None:
            return False
        if self._clock() >= expiry:
            del self._expiry[digest]
            return False
        return True

    def add(self, account_id: int, password_hash: str, password: str) -> None:
        """Remember a successful verification for `ttl` seconds."""
        if self.max_entries == 0 or self.ttl == 0:
            return
        now = self._clock()
        digest = self._digest(account_id, password_hash, password)
        self._expiry.pop(digest, None)
        self._expiry[digest] = now + self.ttl
        # Insertion order is expiry order (one ttl for all): drop the expired and the oldest.
        while self._expiry and (
            len(self._expiry) > self.max_entries or next(iter(self._expiry.values())) <= now
        ):
            self._expiry.popitem(last=False)

    def clear(self) -> None:
        self._expiry.clear()
