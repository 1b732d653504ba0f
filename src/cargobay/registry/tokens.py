"""Registry bearer tokens: short-lived JWTs signed with the hub's ES256 keys.

Keys live in `<data_dir>/keys/*.pem`; the newest signs, all verify, so a key can be rotated
without cutting off tokens already issued. Verification trusts only these keys: the algorithm
is fixed (no `none`, no HS256 with a public key), headers that carry their own key material
(`jwk`, `jku`, `x5u`, `x5c`) are refused, and `kid` must name one of our keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cargobay.registry.scopes import Scope

ALGORITHM = "ES256"
_FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
_MAX_TOKEN_LENGTH = 8192


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        return self.private.public_key()


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    access: tuple[Scope, ...]
    expires_at: int
    token_id: str

    def allows(self, resource_type: str, name: str, action: str) -> bool:
        return any(s.type == resource_type and s.name == name and action in s.actions for s in self.access)


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b32encode(hashlib.sha256(der).digest()[:15]).decode().rstrip("=")


class KeyRing:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._keys: dict[str, SigningKey] = {}
        self._signing: SigningKey | None = None
        self._seen_mtime = -1

    def load(self, *, create: bool = True) -> KeyRing:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        paths = sorted(self.directory.glob("*.pem"), key=lambda p: (p.stat().st_mtime, p.name))
        if not paths and create:
            paths = [self.rotate()]
        self._seen_mtime = self.directory.stat().st_mtime_ns
        self._keys.clear()
        for path in paths:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path}: not an EC private key")
            key = SigningKey(key_id(private.public_key()), private)
            self._keys[key.kid] = key
            self._signing = key
        return self

    def rotate(self) -> Path:
        """Write a new key; it signs from the next load on, and the old ones keep verifying."""
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = self.directory / f"{int(time.time() * 1000)}-{key_id(private.public_key())}.pem"
        temp = path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        return path

    @property
    def signing(self) -> SigningKey:
        """The newest key, including one rotated in by another process since this one loaded."""
        self._reload_if_changed()
        if self._signing is None:
            raise RuntimeError("key ring not loaded")
        return self._signing

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def reload_for(self, kid: str) -> SigningKey | None:
        """A key this process has not loaded yet (rotated in by another process), if any."""
        self._reload_if_changed()
        return self._keys.get(kid)

    def _reload_if_changed(self) -> None:
        """Re-read the key directory when a key was added (one stat() to find out)."""
        try:
            changed = self.directory.stat().st_mtime_ns != self._seen_mtime
        except OSError:
            return
        if changed:
            self.load(create=False)


class TokenIssuer:
    def __init__(
        self,
        keys: KeyRing,
        *,
        issuer: str,
        service: str,
        lifetime: int = 300,
        refresh_lifetime: int = 30 * 86400,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.service = service
        self.lifetime = lifetime
        self.refresh_lifetime = refresh_lifetime

    @property
    def refresh_audience(self) -> str:
        return f"{self.service}/refresh"

    def issue_refresh(self, subject: str) -> str:
        """A long-lived token that only the token endpoint accepts, to mint access tokens."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.refresh_audience,
            "iat": now,
            "nbf": now - 1,
            "exp": now + self.refresh_lifetime,
            "jti": secrets.token_hex(12),
        }
        key = self.keys.signing
        return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})

    def verify_refresh(self, token: str) -> tuple[str, int]:
        """The subject of a valid refresh token, and when it was issued."""
        claims = self._decode(token, self.refresh_audience)
        return str(claims["sub"]), int(claims["iat"])

    def issue(self, subject: str, access: list[Scope], now: float | None = None) -> tuple[str, int, int]:
        """(token, issued_at, expires_in)."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "iat": issued,
            "nbf": issued - 1,
            "exp": issued + self.lifetime,
            "jti": secrets.token_hex(12),
            "access": [scope.to_claim() for scope in access],
        }
        key = self.keys.signing
        token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
        return token, issued, self.lifetime

    def verify(self, token: str) -> VerifiedToken:
        claims = self._decode(token, self.service)
        access: list[Scope] = []
        for item in claims.get("access") or []:
            if not isinstance(item, dict):
                raise InvalidToken("malformed access claim")
            actions = item.get("actions")
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                raise InvalidToken("malformed access claim")
            access.append(Scope(str(item.get("type")), str(item.get("name")), frozenset(actions)))
        return VerifiedToken(
            str(claims["sub"]), tuple(access), int(claims["exp"]), str(claims.get("jti", ""))
        )

    def _decode(self, token: str, audience: str) -> dict[str, Any]:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected token algorithm")
        if _FORBIDDEN_HEADERS & set(header):
            raise InvalidToken("token carries its own key material")
        kid = str(header.get("kid", ""))
        key = self.keys.get(kid) or self.keys.reload_for(kid)
        if key is None:
            raise InvalidToken("token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.public,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.issuer,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if not isinstance(claims.get("sub"), str):
            raise InvalidToken("malformed subject")
        return claims
