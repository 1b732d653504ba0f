"""Password hashing with argon2id (argon2-cffi's defaults, rehashed when they change)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A real hash: checking against it when the user does not exist costs the same time as a
    real check, so response timing does not reveal which accounts exist."""
    return _HASHER.hash("cargobay-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
