"""Studio accounts: a name, a role and a scrypt hash, kept in the store beside the bots' data.

Logging in goes through :meth:`Accounts.authenticate`, which also keeps the lockout: 5 failed
attempts within 15 minutes lock the name for 15 minutes, whether or not the name exists (so
the answer does not tell an attacker which names are real).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from enum import StrEnum

from ..errors import AccountError
from ..store import Store
from .passwords import MIN_LENGTH, hash_password, verify_password
from .roles import Role

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
NAME = re.compile(r"^[\w.@-]{1,64}$")
INDEX = "studio:accounts"
# an unknown name is checked against this, so a wrong name costs as long as a wrong password
_DUMMY = hash_password("an unknown account never matches")


class LoginResult(StrEnum):
    OK = "ok"
    WRONG = "wrong"      # unknown name or wrong password: the page does not say which
    LOCKED = "locked"    # too many failures: wait


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: Role
    created: float


class Accounts:
    """Accounts in the studio's store namespace."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, name: str, role: Role | str, password: str) -> Account:
        """Create or replace an account (a new password or role for an existing name)."""
        if not NAME.match(name):
            raise AccountError(f"account name {name!r}: use 1-64 letters, digits, '.', '@', '_' or '-'")
        try:
            role = Role(role)
        except ValueError:
            raise AccountError(f"role {role!r}: use one of {', '.join(Role)}") from None
        if len(password) < MIN_LENGTH:
            raise AccountError(f"the password for {name!r} is too short: at least {MIN_LENGTH} characters")
        account = Account(name, role, time.time())
        record = {"name": name, "role": str(role), "hash": hash_password(password), "created": account.created}
        await self.store.put(_key(name), json.dumps(record))
        await self.store.zincr(INDEX, name, 0)
        return account

    async def get(self, name: str) -> Account | None:
        record = await self._record(name)
        if record is None:
            return None
        return Account(record["name"], Role(record["role"]), float(record["created"]))

    async def all(self) -> list[Account]:
        names = [name for name, _ in await self.store.ztop(INDEX, 10_000)]
        found = [await self.get(name) for name in sorted(names)]
        return [a for a in found if a is not None]

    async def authenticate(self, name: str, password: str) -> tuple[LoginResult, Account | None]:
        """Check a login; count a failure towards the lockout."""
        if await self.locked(name):
            return LoginResult.LOCKED, None
        record = await self._record(name)
        ok = verify_password(password, record["hash"] if record else _DUMMY) and record is not None
        if not ok:
            failures = await self.store.incr(_failures(name), 1, ttl=LOCK_SECONDS)
            if failures >= MAX_FAILURES:
                await self.store.put(_locked(name), str(time.time()), ttl=LOCK_SECONDS)
                await self.store.delete(_failures(name))
                return LoginResult.LOCKED, None
            return LoginResult.WRONG, None
        await self.store.delete(_failures(name))
        assert record is not None
        return LoginResult.OK, Account(record["name"], Role(record["role"]), float(record["created"]))

    async def locked(self, name: str) -> bool:
        return await self.store.get(_locked(name)) is not None

    async def _record(self, name: str) -> dict[str, str] | None:
        """The stored account: name, role and password hash as text, created as a timestamp."""
        raw = await self.store.get(_key(name))
        return {k: str(v) for k, v in json.loads(raw).items()} if raw else None


def _key(name: str) -> str:
    return f"studio:account:{name}"


def _failures(name: str) -> str:
    return f"studio:failures:{name.casefold()}"


def _locked(name: str) -> str:
    return f"studio:locked:{name.casefold()}"
