"""Token signing and the attacks a verifier must refuse (alg none, HS256 with the public key,
embedded keys, another hub's key, tampering, expiry, wrong audience), and the scope grammar."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cargobay.registry.passwords import hash_password, verify_password
from cargobay.registry.scopes import InvalidScope, Scope, parse_scope, parse_scopes
from cargobay.registry.tokens import InvalidToken, KeyRing, TokenIssuer

PULL = Scope("repository", "alice/app", frozenset({"pull"}))


@pytest.fixture
def issuer(tmp_path: Path) -> TokenIssuer:
    return TokenIssuer(KeyRing(tmp_path / "keys").load(), issuer="cargobay", service="hub.test")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forge(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def _claims(issuer: TokenIssuer, **extra: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "cargobay",
        "sub": "mallory",
        "aud": "hub.test",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "access": [{"type": "repository", "name": "alice/app", "actions": ["pull", "push"]}],
    }
    claims.update(extra)
    return claims


def test_issued_tokens_verify_and_carry_only_the_granted_access(issuer: TokenIssuer) -> None:
    token, issued_at, expires_in = issuer.issue("alice", [PULL])
    verified = issuer.verify(token)
    assert verified.subject == "alice" and expires_in == 300 and issued_at <= time.time()
    assert verified.allows("repository", "alice/app", "pull")
    assert not verified.allows("repository", "alice/app", "push")
    assert not verified.allows("repository", "alice/other", "pull")


def test_alg_none_is_refused(issuer: TokenIssuer) -> None:
    kid = issuer.keys.signing.kid
    with pytest.raises(InvalidToken, match="algorithm"):
        issuer.verify(_forge({"alg": "none", "typ": "JWT", "kid": kid}, _claims(issuer)))


def test_hs256_with_the_public_key_as_secret_is_refused(issuer: TokenIssuer) -> None:
    public_pem = issuer.keys.signing.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.keys.signing.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(issuer)).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken, match="algorithm"):
        issuer.verify(f"{signing_input}.{_b64(signature)}")


def test_embedded_jwk_is_refused_even_with_a_known_kid(issuer: TokenIssuer) -> None:
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    token = jwt.encode(
        _claims(issuer), attacker, algorithm="ES256", headers={"kid": issuer.keys.signing.kid, "jwk": jwk}
    )
    with pytest.raises(InvalidToken, match="own key material"):
        issuer.verify(token)


def test_known_kid_with_a_foreign_signature_is_refused(issuer: TokenIssuer) -> None:
    attacker = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(_claims(issuer), attacker, algorithm="ES256", headers={"kid": issuer.keys.signing.kid})
    with pytest.raises(InvalidToken, match="Signature"):
        issuer.verify(token)


def test_token_from_another_hub_is_refused(issuer: TokenIssuer, tmp_path: Path) -> None:
    other = TokenIssuer(KeyRing(tmp_path / "other").load(), issuer="cargobay", service="hub.test")
    token, _, _ = other.issue("alice", [PULL])
    with pytest.raises(InvalidToken, match="unknown key"):
        issuer.verify(token)


def test_tampered_claims_are_refused(issuer: TokenIssuer) -> None:
    token, _, _ = issuer.issue("alice", [PULL])
    header, _payload, signature = token.split(".")
    forged = ".".join([header, _b64(json.dumps(_claims(issuer, sub="alice")).encode()), signature])
    with pytest.raises(InvalidToken):
        issuer.verify(forged)


def test_expired_and_wrong_audience_tokens_are_refused(issuer: TokenIssuer) -> None:
    old, _, _ = issuer.issue("alice", [PULL], now=time.time() - 3600)
    with pytest.raises(InvalidToken, match="expired"):
        issuer.verify(old)
    elsewhere = TokenIssuer(issuer.keys, issuer="cargobay", service="other.service")
    token, _, _ = elsewhere.issue("alice", [PULL])
    with pytest.raises(InvalidToken, match="Audience"):
        issuer.verify(token)


def test_rotation_keeps_old_tokens_valid(issuer: TokenIssuer) -> None:
    old_token, _, _ = issuer.issue("alice", [PULL])
    old_kid = issuer.keys.signing.kid
    issuer.keys.rotate()
    time.sleep(0.01)
    issuer.keys.load()
    assert issuer.keys.signing.kid != old_kid
    assert issuer.verify(old_token).subject == "alice"
    new_token, _, _ = issuer.issue("alice", [PULL])
    assert jwt.get_unverified_header(new_token)["kid"] == issuer.keys.signing.kid


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "x" * 9000, "eyJhbGciOiJFUzI1NiJ9..."])
def test_garbage_tokens_are_refused(issuer: TokenIssuer, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        issuer.verify(garbage)


def test_scope_grammar() -> None:
    assert parse_scope("repository:alice/app:pull,push") == Scope(
        "repository", "alice/app", frozenset({"pull", "push"})
    )
    assert parse_scope("repository(plugin):alice/app:pull").type == "repository"
    assert parse_scope("repository:alice/app:*").actions == frozenset({"pull", "push", "delete"})
    assert parse_scope("registry:catalog:*").name == "catalog"
    assert len(parse_scopes(["repository:a/b:pull repository:c/d:push"])) == 2


@pytest.mark.parametrize(
    "text",
    [
        "repository:alice/app",
        "repository::pull",
        "repository:Alice/App:pull",
        "repository:alice/app:pull,fly",
        "registry:everything:*",
        "team:alice:pull",
        "repository:" + "a" * 2000 + ":pull",
        "repository:../etc:pull",
    ],
)
def test_malformed_scopes_are_rejected(text: str) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(text)


def test_passwords_are_hashed_with_argon2() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong")
    assert not verify_password(None, "correct horse")
    assert not verify_password("not a hash", "x")


def test_a_key_rotated_in_by_another_process_signs_at_once(issuer: TokenIssuer) -> None:
    old_kid = issuer.keys.signing.kid
    time.sleep(0.01)
    KeyRing(issuer.keys.directory).rotate()  # as `cargobay admin keys rotate` does
    token, _, _ = issuer.issue("alice", [PULL])
    assert jwt.get_unverified_header(token)["kid"] != old_kid
    assert issuer.verify(token).subject == "alice"
