"""Accounts, sessions, lockout and the audit log on each real store (memory, SQLite, Redis)."""

from __future__ import annotations

import pytest

from persona.errors import AccountError
from persona.studio.accounts import MAX_FAILURES, Accounts, LoginResult
from persona.studio.audit import Action, AuditLog
from persona.studio.passwords import hash_password, verify_password
from persona.studio.roles import Role
from persona.studio.sessions import Sessions


def test_a_password_hash_is_salted_scrypt_and_verifies_only_the_password():
    first, second = hash_password("s3cret pass"), hash_password("s3cret pass")
    assert first.startswith("scrypt$") and first != second  # a salt of its own
    assert verify_password("s3cret pass", first) and verify_password("s3cret pass", second)
    assert not verify_password("s3cret pasS", first)
    assert not verify_password("s3cret pass", "scrypt$broken")
    assert not verify_password("s3cret pass", "md5$x$y$z$a$b")


async def test_an_account_logs_in_with_its_password_only(store):
    accounts = Accounts(store)
    await accounts.add("wendy", "writer", "a good password")
    result, account = await accounts.authenticate("wendy", "a good password")
    assert result is LoginResult.OK and account is not None and account.role is Role.WRITER
    assert (await accounts.authenticate("wendy", "a bad password"))[0] is LoginResult.WRONG
    assert (await accounts.authenticate("nobody", "a good password"))[0] is LoginResult.WRONG
    assert [a.name for a in await accounts.all()] == ["wendy"]


@pytest.mark.parametrize("name, role, password, says", [
    ("wendy", "boss", "a good password", "role 'boss'"),
    ("we ndy", "writer", "a good password", "account name"),
    ("wendy", "writer", "short", "too short"),
])
async def test_a_bad_account_is_refused_with_a_reason(store, name, role, password, says):
    with pytest.raises(AccountError, match=says):
        await Accounts(store).add(name, role, password)
    assert await Accounts(store).all() == []


async def test_five_failures_lock_the_name_even_against_the_right_password(store):
    accounts = Accounts(store)
    await accounts.add("alice", "agent", "a good password")
    results = [(await accounts.authenticate("alice", f"wrong {i}"))[0] for i in range(MAX_FAILURES)]
    assert results == [LoginResult.WRONG] * (MAX_FAILURES - 1) + [LoginResult.LOCKED]
    assert (await accounts.authenticate("alice", "a good password"))[0] is LoginResult.LOCKED
    assert await accounts.locked("alice")


async def test_a_success_clears_the_count_of_failures(store):
    accounts = Accounts(store)
    await accounts.add("alice", "agent", "a good password")
    for _ in range(MAX_FAILURES - 1):
        await accounts.authenticate("alice", "wrong")
    assert (await accounts.authenticate("alice", "a good password"))[0] is LoginResult.OK
    for _ in range(MAX_FAILURES - 1):
        assert (await accounts.authenticate("alice", "wrong"))[0] is LoginResult.WRONG


async def test_a_session_lives_on_the_server_and_ends_there(store):
    sessions = Sessions(store)
    session = await sessions.start("alice")
    found = await sessions.get(session.token)
    assert found is not None and found.user == "alice" and found.csrf == session.csrf
    assert await sessions.get(session.token + "x") is None
    assert await sessions.get(None) is None
    await sessions.end(session.token)
    assert await sessions.get(session.token) is None


async def test_the_audit_log_reads_newest_first(store):
    audit = AuditLog(store)
    await audit.record("root", Action.ADD_ACCOUNT, "wendy", role="writer")
    await audit.record("wendy", Action.PUBLISH, "xiaowanzi/welcome", version=2)
    await audit.record("wendy", Action.PUBLISH, "xiaowanzi/welcome", version=2)  # twice is twice
    entries = await audit.recent()
    assert [e.action for e in entries] == [Action.PUBLISH, Action.PUBLISH, Action.ADD_ACCOUNT]
    assert entries[-1].detail == {"role": "writer"} and entries[0].actor == "wendy"
