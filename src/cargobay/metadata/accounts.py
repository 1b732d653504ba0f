"""Accounts, organisations, memberships, access tokens and login throttling."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from cargobay.metadata.engine import Engines
from cargobay.metadata.fastread import FastReader, compile_query
from cargobay.metadata.schema import (
    access_tokens,
    accounts,
    login_failures,
    memberships,
    repositories,
    retired_names,
    web_sessions,
)


class Conflict(ValueError):
    """A unique name or email is taken."""


class LastOwner(ValueError):
    """The change would leave an organisation without an owner."""


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    kind: str
    email: str | None
    password_hash: str | None
    is_admin: bool
    created_at: float
    credentials_changed_at: float = 0.0


def account_row(row: Any) -> AccountRow:
    """Raw drivers return SQLite booleans as integers."""
    values = list(row)
    values[5] = bool(values[5])
    return AccountRow(*values)


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    account_id: int
    label: str
    scope: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


ACCOUNT_COLUMNS = (
    accounts.c.id,
    accounts.c.name,
    accounts.c.kind,
    accounts.c.email,
    accounts.c.password_hash,
    accounts.c.is_admin,
    accounts.c.created_at,
    accounts.c.credentials_changed_at,
)
_TOKEN_COLUMNS = (
    access_tokens.c.id,
    access_tokens.c.account_id,
    access_tokens.c.label,
    access_tokens.c.scope,
    access_tokens.c.created_at,
    access_tokens.c.last_used_at,
    access_tokens.c.revoked_at,
)


class AccountStore:
    def __init__(self, engines: Engines, fast: FastReader | None = None) -> None:
        self.engines = engines
        self._insert = sqlite.insert if engines.dialect == "sqlite" else postgresql.insert
        # Every authenticated registry request looks up its account and, in an organisation's
        # namespace, the caller's role: those two run on the lean read path when one is given.
        self._fast = fast
        self._account_statement = select(*ACCOUNT_COLUMNS).where(accounts.c.name == bindparam("name"))
        self._role_statement = (
            select(memberships.c.role)
            .select_from(memberships.join(accounts, accounts.c.id == memberships.c.org_id))
            .where(accounts.c.name == bindparam("org"), memberships.c.user_id == bindparam("user_id"))
        )
        self._queries = {
            "account": compile_query(self._account_statement, engines.dialect),
            "role": compile_query(self._role_statement, engines.dialect),
        }

    # -- accounts -------------------------------------------------------------------------

    async def create_account(
        self, name: str, kind: str, email: str | None, password_hash: str | None, is_admin: bool = False
    ) -> AccountRow:
        now = time.time()
        try:
            async with self.engines.writer.begin() as conn:
                retired = await conn.execute(select(retired_names.c.name).where(retired_names.c.name == name))
                if retired.first() is not None:
                    raise Conflict("this name belonged to a deleted account")
                account_id = (
                    await conn.execute(
                        accounts.insert()
                        .values(
                            name=name,
                            kind=kind,
                            email=email,
                            password_hash=password_hash,
                            is_admin=is_admin,
                            created_at=now,
                        )
                        .returning(accounts.c.id)
                    )
                ).scalar_one()
        except IntegrityError:
            raise Conflict("name or email already taken") from None
        return AccountRow(account_id, name, kind, email, password_hash, is_admin, now, 0.0)

    async def account_by_name(self, name: str) -> AccountRow | None:
        if self._fast is not None:
            found = await self._fast.fetchone(self._queries["account"], {"name": name})
        else:
            async with self.engines.reader.connect() as conn:
                found = (await conn.execute(self._account_statement, {"name": name})).first()
        return None if found is None else account_row(found)

    async def account_by_email(self, email: str) -> AccountRow | None:
        async with self.engines.reader.connect() as conn:
            row = (
                await conn.execute(
                    select(*ACCOUNT_COLUMNS).where(func.lower(accounts.c.email) == email.lower())
                )
            ).first()
        return None if row is None else AccountRow(*row)

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        async with self.engines.writer.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(password_hash=password_hash, credentials_changed_at=int(time.time()))
            )
            # A new password ends every web session of the account (the web site opens a new
            # one for whoever changed it).
            await conn.execute(delete(web_sessions).where(web_sessions.c.account_id == account_id))

    async def set_admin(self, account_id: int, is_admin: bool) -> None:
        async with self.engines.writer.begin() as conn:
            await conn.execute(update(accounts).where(accounts.c.id == account_id).values(is_admin=is_admin))

    async def delete_account(self, account_id: int, namespace: str) -> None:
        """Remove the account, its memberships, tokens and the repositories of its namespace."""
        async with self.engines.writer.begin() as conn:
            await conn.execute(delete(access_tokens).where(access_tokens.c.account_id == account_id))
            await conn.execute(
                delete(memberships).where(
                    (memberships.c.user_id == account_id) | (memberships.c.org_id == account_id)
                )
            )
            await conn.execute(delete(repositories).where(repositories.c.name.startswith(namespace + "/")))
            await conn.execute(delete(accounts).where(accounts.c.id == account_id))
            await conn.execute(
                self._insert(retired_names)
                .values(name=namespace, retired_at=time.time())
                .on_conflict_do_nothing(index_elements=["name"])
            )

    # -- organisations --------------------------------------------------------------------

    async def set_membership(
        self, org_id: int, user_id: int, role: str, *, keep_an_owner: bool = False
    ) -> None:
        """Add or change a membership; with `keep_an_owner`, refuse (`LastOwner`) to demote the
        organisation's only owner. The check and the change are one transaction."""
        async with self.engines.writer.begin() as conn:
            if keep_an_owner and role != "owner":
                await self._check_not_last_owner(conn, org_id, user_id)
            stmt = self._insert(memberships).values(org_id=org_id, user_id=user_id, role=role)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["org_id", "user_id"], set_={"role": role})
            )

    async def remove_membership(self, org_id: int, user_id: int, *, keep_an_owner: bool = False) -> bool:
        """Remove a membership (False when there was none); with `keep_an_owner`, refuse
        (`LastOwner`) to remove the organisation's only owner, in the same transaction."""
        async with self.engines.writer.begin() as conn:
            if keep_an_owner:
                await self._check_not_last_owner(conn, org_id, user_id)
            result = await conn.execute(
                delete(memberships).where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
            )
            return bool(result.rowcount)

    async def role_in(self, org_name: str, user_id: int) -> str | None:
        values = {"org": org_name, "user_id": user_id}
        if self._fast is not None:
            row = await self._fast.fetchone(self._queries["role"], values)
        else:
            async with self.engines.reader.connect() as conn:
                row = (await conn.execute(self._role_statement, values)).first()
        return None if row is None else str(row[0])

    async def members(self, org_id: int) -> list[tuple[str, str]]:
        query = (
            select(accounts.c.name, memberships.c.role)
            .select_from(memberships.join(accounts, accounts.c.id == memberships.c.user_id))
            .where(memberships.c.org_id == org_id)
            .order_by(accounts.c.name)
        )
        async with self.engines.reader.connect() as conn:
            return [(r[0], r[1]) for r in await conn.execute(query)]

    async def namespaces_of(self, user_id: int) -> list[str]:
        """Names of the organisations the user belongs to."""
        query = (
            select(accounts.c.name)
            .select_from(memberships.join(accounts, accounts.c.id == memberships.c.org_id))
            .where(memberships.c.user_id == user_id)
        )
        async with self.engines.reader.connect() as conn:
            return [r[0] for r in await conn.execute(query)]

    async def orgs_solely_owned_by(self, user_id: int) -> list[str]:
        """Organisations whose only owner is this user."""
        owners = memberships.alias("owners")
        owner_count = (
            select(func.count())
            .where(owners.c.org_id == memberships.c.org_id, owners.c.role == "owner")
            .scalar_subquery()
        )
        query = (
            select(accounts.c.name)
            .select_from(memberships.join(accounts, accounts.c.id == memberships.c.org_id))
            .where(memberships.c.user_id == user_id, memberships.c.role == "owner", owner_count == 1)
        )
        async with self.engines.reader.connect() as conn:
            return [r[0] for r in await conn.execute(query)]

    @staticmethod
    async def _check_not_last_owner(conn: Any, org_id: int, user_id: int) -> None:
        # SQLite's writer transaction holds the database's write lock from BEGIN IMMEDIATE; on
        # PostgreSQL the owners' rows are locked, so two owners leaving at once cannot both
        # see the other one still there.
        query = select(memberships.c.user_id).where(
            memberships.c.org_id == org_id, memberships.c.role == "owner"
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        owners = [row[0] for row in (await conn.execute(query)).all()]
        if owners == [user_id]:
            raise LastOwner("an organisation must keep at least one owner")

    # -- access tokens --------------------------------------------------------------------

    async def create_token(
        self, token_id: str, account_id: int, label: str, secret_hash: str, scope: str
    ) -> TokenRow:
        now = time.time()
        async with self.engines.writer.begin() as conn:
            await conn.execute(
                access_tokens.insert().values(
                    id=token_id,
                    account_id=account_id,
                    label=label,
                    secret_hash=secret_hash,
                    scope=scope,
                    created_at=now,
                )
            )
        return TokenRow(token_id, account_id, label, scope, now, None, None)

    async def token_by_secret_hash(self, secret_hash: str) -> tuple[TokenRow, AccountRow] | None:
        query = (
            select(*_TOKEN_COLUMNS, *ACCOUNT_COLUMNS)
            .select_from(access_tokens.join(accounts, accounts.c.id == access_tokens.c.account_id))
            .where(access_tokens.c.secret_hash == secret_hash)
        )
        async with self.engines.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        values = list(row)
        return TokenRow(*values[:7]), AccountRow(*values[7:])

    async def touch_token(self, token_id: str) -> None:
        async with self.engines.writer.begin() as conn:
            await conn.execute(
                update(access_tokens).where(access_tokens.c.id == token_id).values(last_used_at=time.time())
            )

    async def list_tokens(self, account_id: int) -> list[TokenRow]:
        query = (
            select(*_TOKEN_COLUMNS)
            .where(access_tokens.c.account_id == account_id)
            .order_by(access_tokens.c.created_at)
        )
        async with self.engines.reader.connect() as conn:
            return [TokenRow(*r) for r in await conn.execute(query)]

    async def revoke_token(self, account_id: int, token_id: str) -> bool:
        async with self.engines.writer.begin() as conn:
            result = await conn.execute(
                update(access_tokens)
                .where(
                    access_tokens.c.id == token_id,
                    access_tokens.c.account_id == account_id,
                    access_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=time.time())
            )
            return bool(result.rowcount)

    # -- login throttling -----------------------------------------------------------------

    async def failures(self, keys: list[str], window: float) -> dict[str, tuple[float, int]]:
        """Current (window_start, count) per key, ignoring windows that have ended."""
        since = time.time() - window
        query = select(login_failures.c.key, login_failures.c.window_start, login_failures.c.count).where(
            login_failures.c.key.in_(keys), login_failures.c.window_start > since
        )
        async with self.engines.reader.connect() as conn:
            return {r[0]: (float(r[1]), int(r[2])) for r in await conn.execute(query)}

    async def record_failure(self, keys: list[str], window: float) -> None:
        now = time.time()
        async with self.engines.writer.begin() as conn:
            for key in keys:
                row = (
                    await conn.execute(
                        select(login_failures.c.window_start, login_failures.c.count).where(
                            login_failures.c.key == key
                        )
                    )
                ).first()
                if row is None or row[0] <= now - window:
                    stmt = self._insert(login_failures).values(key=key, window_start=now, count=1)
                    await conn.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["key"], set_={"window_start": now, "count": 1}
                        )
                    )
                else:
                    await conn.execute(
                        update(login_failures).where(login_failures.c.key == key).values(count=row[1] + 1)
                    )

    async def clear_failures(self, keys: list[str]) -> None:
        async with self.engines.writer.begin() as conn:
            await conn.execute(delete(login_failures).where(login_failures.c.key.in_(keys)))
