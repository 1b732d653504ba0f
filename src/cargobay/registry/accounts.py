"""Accounts: sign-up rules, authentication (passwords and personal access tokens, throttled),
organisations and their members, and personal access tokens."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from cargobay.metadata.accounts import AccountRow, AccountStore, Conflict, LastOwner, TokenRow
from cargobay.registry.passwords import hash_password, verify_password
from cargobay.registry.verified_passwords import VerifiedPasswords

NAME_RE = re.compile(r"[a-z0-9]{4,30}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
TOKEN_PREFIX = "cbpat_"
TOKEN_SCOPES = {
    "read": frozenset({"pull"}),
    "read-write": frozenset({"pull", "push"}),
    "delete": frozenset({"pull", "push", "delete"}),
}
RESERVED_NAMES = frozenset(
    {"library", "admin", "root", "cargobay", "api", "token", "search", "help", "v1", "v2"}
)


class AccountError(ValueError):
    """A request the rules refuse; `field` says which input was wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AccountConflict(AccountError):
    """A name or email is already taken."""


class AccountNotFound(AccountError):
    """No such user, organisation, membership or token."""


class NotAllowed(AccountError):
    """The actor lacks the role, or a personal access token tried account administration."""


class RegistrationClosed(NotAllowed):
    """Sign-up is turned off (`open_registration: false`); administrators create accounts."""


class InvalidCredentials(ValueError):
    pass


class TooManyAttempts(ValueError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking. `token_actions` limits a personal access token (None: a password login)."""

    name: str
    account_id: int
    is_admin: bool
    token_actions: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class NewToken:
    row: TokenRow
    secret: str


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise AccountError("username must be 4 to 30 lowercase letters or digits", "username")
    if name in RESERVED_NAMES:
        raise AccountError(f"the name {name!r} is reserved", "username")
    return name


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters", "password")
    if password.isdigit() or (password.isalpha() and password.islower()):
        raise AccountError("password is too simple: mix letters with digits, capitals or symbols", "password")
    return password


def check_email(email: str) -> str:
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise AccountError("email address is not valid", "email")
    return email


def _secret_hash(secret: str) -> str:
    # Tokens carry 190 bits of randomness, so a fast hash is enough and allows an indexed lookup.
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        *,
        open_registration: bool = True,
        max_failures_per_account: int = 5,
        max_failures_per_address: int = 20,
        failure_window: float = 300.0,
        verified_passwords: VerifiedPasswords | None = None,
    ) -> None:
        self.store = store
        # Successful password checks of this process, so repeated Basic logins skip argon2.
        self.verified_passwords = (
            verified_passwords if verified_passwords is not None else VerifiedPasswords()
        )
        self.open_registration = open_registration
        self.max_failures_per_account = max_failures_per_account
        self.max_failures_per_address = max_failures_per_address
        self.failure_window = failure_window

    # -- accounts -------------------------------------------------------------------------

    async def sign_up(
        self, username: str, email: str, password: str, *, is_admin: bool = False
    ) -> AccountRow:
        check_name(username)
        check_email(email)
        check_password(password)
        if await self.store.account_by_email(email) is not None:
            raise AccountConflict("an account with this email already exists", "email")
        try:
            password_hash = await asyncio.to_thread(hash_password, password)
            return await self.store.create_account(username, "user", email, password_hash, is_admin)
        except Conflict:
            raise AccountConflict("this username is taken", "username") from None

    async def register(self, username: str, email: str, password: str) -> AccountRow:
        """Self-service sign-up (API and web site): only while registration is open."""
        if not self.open_registration:
            raise RegistrationClosed("registration is closed; ask an administrator for an account")
        return await self.sign_up(username, email, password)

    async def change_password(self, actor: Actor, old_password: str, new_password: str) -> None:
        account = await self._own_account(actor)
        if actor.token_actions is not None:
            raise NotAllowed("access tokens cannot change passwords; log in with the password")
        # Guesses at the current password count against the account's login limit: a stolen
        # web session must not be a way around it.
        account_key = [f"user:{account.name}"]
        await self._check_throttle(account_key)
        if not await asyncio.to_thread(verify_password, account.password_hash, old_password):
            await self.store.record_failure(account_key, self.failure_window)
            raise InvalidCredentials("current password is wrong")
        check_password(new_password)
        await self.store.set_password_hash(account.id, await asyncio.to_thread(hash_password, new_password))

    async def set_password(self, username: str, new_password: str) -> None:
        """Administrative reset (CLI)."""
        account = await self.store.account_by_name(username)
        if account is None or account.kind != "user":
            raise AccountNotFound(f"no such user: {username}", "username")
        check_password(new_password)
        await self.store.set_password_hash(account.id, await asyncio.to_thread(hash_password, new_password))

    async def delete_account(self, actor: Actor, password: str | None) -> None:
        account = await self._own_account(actor)
        if actor.token_actions is not None or not await asyncio.to_thread(
            verify_password, account.password_hash, password or ""
        ):
            raise InvalidCredentials("deleting an account needs its password")
        sole = await self.store.orgs_solely_owned_by(account.id)
        if sole:
            raise NotAllowed(
                f"{account.name} is the only owner of {', '.join(sole)}: add another owner first", "username"
            )
        await self.store.delete_account(account.id, account.name)

    async def profile(self, actor: Actor) -> AccountRow:
        """The actor's own account (name, email, when it joined), e.g. for a settings page."""
        return await self._own_account(actor)

    async def _own_account(self, actor: Actor) -> AccountRow:
        account = await self.store.account_by_name(actor.name)
        if account is None or account.id != actor.account_id:
            raise InvalidCredentials("account no longer exists")
        return account

    # -- authentication -------------------------------------------------------------------

    async def authenticate(self, username: str, secret: str, address: str | None) -> Actor:
        """Check a password or an access token; throttled per account and per client address."""
        if "\x00" in username or "\x00" in secret:
            # No account can match (PostgreSQL cannot even compare such text): refuse before any query.
            raise InvalidCredentials("incorrect username or password")
        account_key = f"user:{username.lower()[:64]}"
        keys = [account_key] + ([f"addr:{address}"] if address else [])
        # A personal access token is too long to guess, so someone hammering an account's
        # password cannot lock out its tokens (CI keeps working); the address limit still holds.
        is_token = secret.startswith(TOKEN_PREFIX)
        await self._check_throttle(keys[1:] if is_token else keys)
        actor = await self._check_secret(username, secret)
        if actor is None:
            await self.store.record_failure(keys, self.failure_window)
            raise InvalidCredentials("incorrect username or password")
        if not is_token:
            await self.store.clear_failures([account_key])
        return actor

    async def _check_throttle(self, keys: list[str]) -> None:
        failures = await self.store.failures(keys, self.failure_window)
        now = time.time()
        for key, (start, count) in failures.items():
            limit = (
                self.max_failures_per_account if key.startswith("user:") else self.max_failures_per_address
            )
            if count >= limit:
                raise TooManyAttempts(max(1, int(start + self.failure_window - now) + 1))

    async def _check_secret(self, username: str, secret: str) -> Actor | None:
        if secret.startswith(TOKEN_PREFIX):
            found = await self.store.token_by_secret_hash(_secret_hash(secret))
            if found is None:
                return None
            token, account = found
            if token.revoked_at is not None or account.name != username.lower():
                return None
            await self.store.touch_token(token.id)
            return Actor(account.name, account.id, account.is_admin, TOKEN_SCOPES[token.scope])
        user = await self.store.account_by_name(username.lower())
        if user is None and "@" in username:
            user = await self.store.account_by_email(username)
        if user is None or user.kind != "user" or user.password_hash is None:
            await asyncio.to_thread(verify_password, None, secret)  # as slow as a real check
            return None
        # A hit needs this very password checked against this very hash (so a new password
        # misses) less than a few minutes ago; failures are never remembered.
        if self.verified_passwords.contains(user.id, user.password_hash, secret):
            return Actor(user.name, user.id, user.is_admin)
        if not await asyncio.to_thread(verify_password, user.password_hash, secret):
            return None
        self.verified_passwords.add(user.id, user.password_hash, secret)
        return Actor(user.name, user.id, user.is_admin)

    async def actor_for(self, name: str, *, issued_at: float | None = None) -> Actor | None:
        """The current state of an account named in a token: None when it was deleted, or, given
        the token's `issued_at`, when its credentials changed since (e.g. a new password)."""
        account = await self.store.account_by_name(name)
        if account is None or account.kind != "user":
            return None
        if issued_at is not None and account.credentials_changed_at > issued_at:
            return None
        return Actor(account.name, account.id, account.is_admin)

    # -- organisations --------------------------------------------------------------------

    async def create_org(self, actor: Actor, name: str) -> AccountRow:
        check_name(name)
        try:
            org = await self.store.create_account(name, "org", None, None)
        except Conflict:
            raise AccountConflict("this name is taken", "name") from None
        await self.store.set_membership(org.id, actor.account_id, "owner")
        return org

    async def _org_for_owner(self, actor: Actor, org_name: str) -> AccountRow:
        org = await self.store.account_by_name(org_name)
        if org is None or org.kind != "org":
            raise AccountNotFound(f"no such organisation: {org_name}", "org")
        if not actor.is_admin and await self.store.role_in(org_name, actor.account_id) != "owner":
            raise NotAllowed(f"only owners of {org_name} can manage its members", "org")
        return org

    async def set_member(self, actor: Actor, org_name: str, username: str, role: str) -> None:
        if role not in ("owner", "member"):
            raise AccountError("role must be owner or member", "role")
        org = await self._org_for_owner(actor, org_name)
        user = await self.store.account_by_name(username)
        if user is None or user.kind != "user":
            raise AccountNotFound(f"no such user: {username}", "username")
        with _last_owner_refused():
            await self.store.set_membership(org.id, user.id, role, keep_an_owner=True)

    async def remove_member(self, actor: Actor, org_name: str, username: str) -> None:
        org = await self._org_for_owner(actor, org_name)
        user = await self.store.account_by_name(username)
        if user is None:
            raise AccountNotFound(f"no such user: {username}", "username")
        with _last_owner_refused():
            removed = await self.store.remove_membership(org.id, user.id, keep_an_owner=True)
        if not removed:
            raise AccountNotFound(f"{username} is not a member of {org_name}", "username")

    async def leave_org(self, actor: Actor, org_name: str) -> None:
        """The actor leaves an organisation: any member may, an owner only while another owner
        remains. To anyone who is not a member the organisation does not exist."""
        org = await self.store.account_by_name(org_name)
        role = await self.store.role_in(org_name, actor.account_id) if org is not None else None
        if org is None or org.kind != "org" or role is None:
            raise AccountNotFound(f"no such organisation: {org_name}", "org")
        with _last_owner_refused():
            removed = await self.store.remove_membership(org.id, actor.account_id, keep_an_owner=True)
        if not removed:
            raise AccountNotFound(f"no such organisation: {org_name}", "org")

    async def members(self, org_name: str) -> list[tuple[str, str]]:
        org = await self.store.account_by_name(org_name)
        if org is None or org.kind != "org":
            raise AccountNotFound(f"no such organisation: {org_name}", "org")
        return await self.store.members(org.id)

    async def kind_of(self, name: str) -> Literal["user", "org"] | None:
        """Whether a name is a user's or an organisation's (None: no such account)."""
        account = await self.store.account_by_name(name)
        if account is None:
            return None
        return "org" if account.kind == "org" else "user"

    async def role_in(self, actor: Actor, org_name: str) -> str | None:
        """The actor's role in an organisation: "owner", "member", or None (not a member, or no
        such organisation)."""
        return await self.store.role_in(org_name, actor.account_id)

    async def members_for(self, actor: Actor, org_name: str) -> list[tuple[str, str]]:
        """An organisation's members as the actor may see them: members and administrators see
        the list; to anyone else the organisation does not exist (AccountNotFound)."""
        if not actor.is_admin and await self.role_in(actor, org_name) is None:
            raise AccountNotFound(f"no such organisation: {org_name}", "org")
        return await self.members(org_name)

    async def organisations_of(self, actor: Actor) -> list[str]:
        """The names of the organisations the actor belongs to, sorted."""
        return sorted(await self.store.namespaces_of(actor.account_id))

    # -- personal access tokens ------------------------------------------------------------

    async def create_token(self, actor: Actor, label: str, scope: str) -> NewToken:
        if actor.token_actions is not None:
            raise NotAllowed("access tokens cannot create access tokens")
        if not 1 <= len(label) <= 100:
            raise AccountError("token label must be 1 to 100 characters", "label")
        if scope not in TOKEN_SCOPES:
            raise AccountError("scope must be read, read-write or delete", "scope")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(24)
        row = await self.store.create_token(
            secrets.token_hex(16), actor.account_id, label, _secret_hash(secret), scope
        )
        return NewToken(row, secret)

    async def list_tokens(self, actor: Actor) -> list[TokenRow]:
        return await self.store.list_tokens(actor.account_id)

    async def revoke_token(self, actor: Actor, token_id: str) -> None:
        if not await self.store.revoke_token(actor.account_id, token_id):
            raise AccountNotFound("no such active token", "token")


@contextlib.contextmanager
def _last_owner_refused() -> Iterator[None]:
    """The store's `LastOwner` (checked in the same transaction as the change) as an AccountError."""
    try:
        yield
    except LastOwner:
        raise AccountError("an organisation must keep at least one owner", "role") from None
