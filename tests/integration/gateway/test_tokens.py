"""Session tokens: tampered, foreign, expired or stale ones are refused (401); keys rotate
without signing anyone out; cookie sessions need the CSRF header to change anything."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import jwt
import pytest

from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_gateway.auth import key_id
from relay_gateway.repo.principals import hash_api_key

ME = "/api/v1/auth/me"


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


def session_token(
    secret: str,
    user_id: UUID,
    *,
    kid: str | None = "from-secret",
    workspace_id: UUID | None = None,
    expires_in: timedelta = timedelta(hours=1),
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """A session token as the gateway makes them, or not quite (a claim given as None is
    left out)."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "email": "whoever@example.com",
        "csrf": "csrf-secret",
        "iat": now,
        "exp": now + expires_in,
        **claims,
    }
    if workspace_id is not None:
        payload["ws"] = str(workspace_id)
    payload = {k: v for k, v in payload.items() if v is not None}
    headers = {} if kid is None else {"kid": key_id(secret) if kid == "from-secret" else kid}
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


async def status_with(client: httpx.AsyncClient, token: str, path: str = ME) -> int:
    return (await client.get(path, headers={"Cookie": f"relay_session={token}"})).status_code


@pytest.mark.timeout(120)
async def test_tampered_foreign_expired_and_stale_tokens_are_refused(
    pool: asyncpg.Pool, start_gateway: Any, service_env: dict[str, str]
) -> None:
    owner_email, admin_email = unique_email("owner"), unique_email("admin")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Tokens", owner_email)
        other = await create_workspace(conn, "Not theirs", unique_email("other"))
        admin_id = await add_member(conn, ws.workspace_id, admin_email, "admin")
    secret = service_env["GATEWAY_JWT_SECRET"]
    gateway = await start_gateway()
    anonymous = await gateway.client()

    # The test's tokens are right when nothing is tampered with, so each 401 below is
    # about the one thing that is wrong.
    assert await status_with(anonymous, session_token(secret, ws.owner_id)) == 200
    issued = (await gateway.client(owner_email)).cookies["relay_session"]
    assert jwt.get_unverified_header(issued)["kid"] == key_id(secret)

    refused = {
        "alg none": session_token("", ws.owner_id, kid=key_id(secret), algorithm="none"),
        "same kid, another key": jwt.encode(
            jwt.decode(issued, options={"verify_signature": False}),
            secrets.token_urlsafe(32),
            algorithm="HS256",
            headers={"kid": key_id(secret)},
        ),
        "unknown kid": session_token(secret, ws.owner_id, kid="0123456789ab"),
        "no kid": session_token(secret, ws.owner_id, kid=None),
        "expired": session_token(secret, ws.owner_id, expires_in=timedelta(seconds=-5)),
        "no CSRF secret": session_token(secret, ws.owner_id, csrf=None),
        "unknown user": session_token(secret, uuid4()),
        "another workspace": session_token(secret, ws.owner_id, workspace_id=other.workspace_id),
        "signature cut off": issued.rsplit(".", 1)[0] + ".",
        "garbage": "not-a-token",
        "three dots": "a.b.c",
    }
    for what, token in refused.items():
        answer = await anonymous.get(ME, headers={"Cookie": f"relay_session={token}"})
        assert answer.status_code == 401, what
        assert answer.json()["code"] == "unauthenticated", what

    # Deactivated after signing in: refused at the very next request.
    admin = await gateway.client(admin_email)
    assert (await admin.get(ME)).status_code == 200
    await pool.execute(
        "UPDATE memberships SET is_active = false WHERE user_id = $1 AND workspace_id = $2",
        admin_id,
        ws.workspace_id,
    )
    assert (await admin.get(ME)).status_code == 401
    assert (await admin.get(f"/api/v1/bots/{uuid4()}")).status_code == 401


@pytest.mark.timeout(120)
async def test_cookie_sessions_need_the_csrf_header_and_api_keys_do_not(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    owner_email = unique_email("owner")
    api_key = f"rly_{secrets.token_urlsafe(32)}"
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Forms", owner_email)
        bot = await create_bot(conn, ws.workspace_id, "Pausable")
        await conn.execute(
            """INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scopes)
               VALUES ($1, 'ops', $2, $3, ARRAY['read', 'send', 'manage'])""",
            ws.workspace_id,
            api_key[:12],
            hash_api_key(api_key),
        )
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    pause = f"/api/v1/bots/{bot}/session/pause"
    session_cookie = {"Cookie": f"relay_session={owner.cookies['relay_session']}"}
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=15) as browser:
        for csrf in (None, "", "guessed"):
            headers = dict(session_cookie)
            if csrf is not None:
                headers["X-CSRF-Token"] = csrf
            forged = await browser.post(pause, headers=headers)
            assert forged.status_code == 403, csrf
            assert forged.json()["code"] == "csrf_failed"
        # Reading needs no header.
        assert (await browser.get(f"/api/v1/bots/{bot}", headers=session_cookie)).status_code == 200
        # Another session's CSRF secret does not fit this session.
        second = await gateway.client(owner_email)
        crossed = await browser.post(
            pause, headers={**session_cookie, "X-CSRF-Token": second.cookies["relay_csrf"]}
        )
        assert crossed.json()["code"] == "csrf_failed"

    paused = await owner.post(pause)  # sends its own X-CSRF-Token, as the dashboard does
    assert paused.status_code == 202, paused.text
    async with httpx.AsyncClient(
        base_url=gateway.base_url, timeout=15, headers={"Authorization": f"Bearer {api_key}"}
    ) as integrator:
        assert (await integrator.post(pause)).status_code == 202


@pytest.mark.timeout(120)
async def test_signing_keys_rotate_without_signing_anyone_out(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    owner_email = unique_email("owner")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Rotation", owner_email)
    key_a, key_b = (f"rotation-{n}-{secrets.token_urlsafe(32)}" for n in "ab")
    token_a = session_token(key_a, ws.owner_id)

    rotated, retired = await asyncio.gather(
        start_gateway(GATEWAY_JWT_SECRET=key_b, GATEWAY_JWT_PREVIOUS_SECRETS=json.dumps([key_a])),
        start_gateway(GATEWAY_JWT_SECRET=key_b),
    )
    on_rotated, on_retired = await rotated.client(), await retired.client()
    assert await status_with(on_rotated, token_a) == 200
    # New sessions are signed with the new key, which both gateways accept.
    token_b = (await rotated.client(owner_email)).cookies["relay_session"]
    assert jwt.get_unverified_header(token_b)["kid"] == key_id(key_b)
    assert await status_with(on_retired, token_b) == 200
    # Once key A is no longer listed, its tokens are over.
    assert await status_with(on_retired, token_a) == 401
