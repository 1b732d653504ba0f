"""Content digests (`algorithm:encoded`) and a streaming digester."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

# Algorithms we can compute, with the length of their lowercase hex encoding.
HEX_LENGTHS: dict[str, int] = {"sha256": 64, "sha512": 128}
DEFAULT_ALGORITHM = "sha256"

# image-spec grammar: algorithm-component ([+._-] algorithm-component)* ":" encoded
_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_MAX_LENGTH = 256


class InvalidDigest(ValueError):
    """The string is not a digest we accept (bad grammar, unknown algorithm or bad length)."""


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate; only sha256 and sha512 with lowercase hex of the right length."""
        if len(text) > _MAX_LENGTH or not _GRAMMAR.fullmatch(text):
            raise InvalidDigest(f"invalid digest format: {text[:80]!r}")
        algorithm, encoded = text.split(":", 1)
        length = HEX_LENGTHS.get(algorithm)
        if length is None:
            raise InvalidDigest(f"unsupported digest algorithm: {algorithm[:32]!r}")
        if len(encoded) != length or not _is_lower_hex(encoded):
            raise InvalidDigest(f"invalid {algorithm} digest: {text[:80]!r}")
        return cls(algorithm, encoded)

    @classmethod
    def is_valid(cls, text: str) -> bool:
        try:
            cls.parse(text)
        except InvalidDigest:
            return False
        return True

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @property
    def short(self) -> str:
        """The first 12 hex characters, as docker shows layer and image IDs."""
        return self.encoded[:12]


def _is_lower_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def new_hasher(algorithm: str = DEFAULT_ALGORITHM) -> Any:
    if algorithm not in HEX_LENGTHS:
        raise InvalidDigest(f"unsupported digest algorithm: {algorithm[:32]!r}")
    return hashlib.new(algorithm)


class Digester:
    """Feeds bytes to a hash and counts them; `digest()` gives the `Digest` so far."""

    __slots__ = ("_hash", "algorithm", "size")

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        self.algorithm = algorithm
        self._hash = new_hasher(algorithm)
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._hash.hexdigest())


def digest_bytes(data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return Digest(algorithm, hasher.hexdigest())
