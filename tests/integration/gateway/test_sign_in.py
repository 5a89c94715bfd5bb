"""Signing in with Google, against a local OpenID Connect provider: the real authlib flow
(state, nonce, PKCE S256) through a real gateway, and everything the callback refuses."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import asyncpg
import httpx
import pytest

from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.oidc import OidcProvider, OidcUser

LOGIN = "/api/v1/auth/google/login"
CALLBACK = "/api/v1/auth/google/callback"
FLOW_COOKIE = "relay_google_flow"


@pytest.fixture
async def provider() -> AsyncIterator[OidcProvider]:
    async with OidcProvider() as running:
        yield running


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


async def to_callback(client: httpx.AsyncClient, next_path: str = "/") -> str:
    """Login at the gateway, then the provider: the callback URL the browser is sent to."""
    login = await client.get(LOGIN, params={"next": next_path})
    assert login.status_code == 303, login.text
    authorize = await client.get(login.headers["location"])
    assert authorize.status_code == 302, authorize.text
    callback: str = authorize.headers["location"]
    return callback


async def google_sign_in(client: httpx.AsyncClient, next_path: str = "/") -> httpx.Response:
    """The whole flow, following redirects by hand as a browser would."""
    return await client.get(await to_callback(client, next_path))


async def signed_in_client(gateway: Any, email_seen: str) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await gateway.client()
    done = await google_sign_in(client)
    assert done.status_code == 303, done.text
    client.headers["X-CSRF-Token"] = client.cookies["relay_csrf"]
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email_seen.lower()
    return client


async def memberships_of(pool: asyncpg.Pool, email: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        """SELECT m.workspace_id, m.role, m.is_active, w.name FROM memberships m
           JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.workspace_id
           WHERE u.email = $1""",
        email.lower(),
    )
    return rows


@pytest.mark.timeout(120)
async def test_a_newcomer_signs_up_with_google_and_owns_a_new_workspace(
    pool: asyncpg.Pool, start_gateway: Any, provider: OidcProvider
) -> None:
    async with pool.acquire() as conn:
        other = await create_workspace(conn, "Someone else's", unique_email("other"))
        foreign_bot = await create_bot(conn, other.workspace_id, "Not yours")
    gateway = await start_gateway(**provider.gateway_env())
    email = f"Nia-{uuid4().hex[:6]}@Example.com"
    provider.user = OidcUser(email=email, name="Nia Newcomer")
    browser = await gateway.client()

    login = await browser.get(LOGIN, params={"next": "/leads?status=new"})
    assert login.status_code == 303, login.text
    assert login.headers["location"].startswith(f"{provider.base_url}/authorize?")
    asked = query_of(login.headers["location"])
    assert asked["response_type"] == "code"
    assert asked["scope"] == "openid email profile"
    assert asked["client_id"] == provider.client_id
    assert asked["redirect_uri"] == f"{gateway.base_url}{CALLBACK}"
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["state"]) >= 20
    assert len(asked["nonce"]) >= 20
    flow_cookie = login.headers["set-cookie"].lower()
    assert flow_cookie.startswith(f"{FLOW_COOKIE}=")
    for attribute in ("httponly", "samesite=lax", "max-age=600", f"path={CALLBACK}"):
        assert attribute in flow_cookie

    authorize = await browser.get(login.headers["location"])
    assert authorize.status_code == 302
    done = await browser.get(authorize.headers["location"])
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/leads?status=new"
    assert browser.cookies.get(FLOW_COOKIE) is None  # the flow is over
    # The gateway proved it holds the verifier of the challenge it sent.
    verifier = provider.token_requests[-1]["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge.rstrip(b"=").decode() == asked["code_challenge"]

    browser.headers["X-CSRF-Token"] = browser.cookies["relay_csrf"]
    me = (await browser.get("/api/v1/auth/me")).json()
    assert me["email"] == email.lower()
    assert me["role"] == "owner"
    assert me["workspace_name"] == "Nia Newcomer's workspace"
    user = await pool.fetchrow("SELECT * FROM users WHERE email = $1", email.lower())
    assert user is not None
    assert user["google_sub"] == provider.user.sub
    assert user["name"] == "Nia Newcomer"
    assert user["picture_url"] == provider.user.picture
    assert user["last_login_at"] is not None
    [membership] = await memberships_of(pool, email)
    assert (membership["role"], membership["is_active"]) == ("owner", True)
    assert await pool.fetchval(
        "SELECT count(*) FROM subscriptions WHERE workspace_id = $1", membership["workspace_id"]
    )

    # Their own workspace only: another's bot and workspace are not found.
    assert (await browser.get(f"/api/v1/bots/{foreign_bot}")).status_code == 404
    switched = await browser.post(f"/api/v1/auth/workspace/{other.workspace_id}")
    assert switched.status_code == 404

    # Signing in again finds the same person and the same workspace: no second one.
    again = await signed_in_client(gateway, email)
    assert (await again.get("/api/v1/auth/me")).json()["workspace_id"] == me["workspace_id"]
    assert len(await memberships_of(pool, email)) == 1


@pytest.mark.timeout(120)
async def test_invited_people_land_in_their_workspace_and_deactivated_ones_are_refused(
    pool: asyncpg.Pool, start_gateway: Any, provider: OidcProvider
) -> None:
    vendor_email, gone_email, linked_email = (
        unique_email("vendor"),
        unique_email("gone"),
        unique_email("linked"),
    )
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Inviters", unique_email("owner"))
        bot = await create_bot(conn, ws.workspace_id, "Theirs")
        other = await create_workspace(conn, "Elsewhere", unique_email("else"))
        foreign_bot = await create_bot(conn, other.workspace_id, "Not theirs")
        for email, active, sub in (
            (vendor_email, True, None),
            (gone_email, False, None),
            (linked_email, True, "someone-else"),
        ):
            user_id = await conn.fetchval(
                "INSERT INTO users (email, name, google_sub) VALUES ($1, 'As invited', $2) "
                "RETURNING id",
                email,
                None if sub is None else f"{sub}-{uuid4().hex}",
            )
            await conn.execute(
                """INSERT INTO memberships (workspace_id, user_id, role, is_active)
                   VALUES ($1, $2, 'vendor', $3)""",
                ws.workspace_id,
                user_id,
                active,
            )
    gateway = await start_gateway(**provider.gateway_env())

    # Google says the address in capitals; the invitation was in lower case.
    provider.user = OidcUser(email=vendor_email.upper(), name="Vera Vendor")
    vendor = await signed_in_client(gateway, vendor_email)
    me = (await vendor.get("/api/v1/auth/me")).json()
    assert (me["workspace_id"], me["role"]) == (str(ws.workspace_id), "vendor")
    assert [(m["workspace_id"], m["role"]) for m in await memberships_of(pool, vendor_email)] == [
        (ws.workspace_id, "vendor")
    ]
    assert (
        await pool.fetchval("SELECT google_sub FROM users WHERE email = $1", vendor_email)
        == provider.user.sub
    )
    # A vendor, in their own workspace only.
    assert (await vendor.post(f"/api/v1/bots/{bot}/session/pause")).status_code == 403
    assert (await vendor.get(f"/api/v1/bots/{foreign_bot}")).status_code == 404

    # Deactivated everywhere: refused, and no workspace of their own instead.
    provider.user = OidcUser(email=gone_email)
    refused = await google_sign_in(await gateway.client())
    assert refused.status_code == 403
    assert refused.json()["code"] == "deactivated"
    assert "relay_session" not in refused.cookies
    assert [m["is_active"] for m in await memberships_of(pool, gone_email)] == [False]

    # The address belongs to a user already linked to another Google account.
    provider.user = OidcUser(email=linked_email)
    taken = await google_sign_in(await gateway.client())
    assert taken.status_code == 403
    assert taken.json()["code"] == "linked_elsewhere"


@pytest.mark.timeout(120)
async def test_the_callback_refuses_what_it_cannot_trust(
    pool: asyncpg.Pool, start_gateway: Any, provider: OidcProvider
) -> None:
    gateway = await start_gateway(**provider.gateway_env(), GATEWAY_SIGN_IN_PER_MINUTE="1000")

    async def refused(expected_status: int, code: str) -> None:
        email = unique_email("tricked")
        provider.user = OidcUser(email=email)
        answer = await google_sign_in(await gateway.client())
        assert answer.status_code == expected_status, answer.text
        assert answer.json()["code"] == code
        assert "relay_session" not in answer.cookies
        assert await pool.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0

    past = 1_600_000_000
    for overrides in (
        {"nonce": "not-the-nonce-we-sent"},
        {"nonce": None},
        {"aud": "someone-elses-client"},
        {"iss": "https://accounts.evil.example"},
        {"iat": past, "exp": past + 3600},
    ):
        provider.behave()
        provider.claim_overrides = overrides
        await refused(401, "sign_in_failed")
    for signing in ("foreign_key", "none", "hs256_client_secret"):
        provider.behave()
        provider.signing = signing
        await refused(401, "sign_in_failed")
    provider.behave()
    provider.claim_overrides = {"email_verified": False}
    await refused(403, "email_not_verified")
    provider.behave()

    # The state must be the one this browser's flow started with.
    browser = await gateway.client()
    provider.user = OidcUser(email=unique_email("state"))
    callback = await to_callback(browser)
    params = query_of(callback)
    wrong = await browser.get(CALLBACK, params={**params, "state": "guessed"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "bad_state"
    stranger = await gateway.client()  # never started a flow: no cookie
    assert (await stranger.get(callback)).json()["code"] == "bad_state"
    flow = browser.cookies[FLOW_COOKIE]
    forged = await stranger.get(callback, headers={"Cookie": f"{FLOW_COOKIE}={flow}x"})
    assert forged.json()["code"] == "bad_state"
    # A person's browser is sent back to the sign-in page, which explains.
    page = await stranger.get(callback, headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 303
    assert page.headers["location"] == "/?sign_in_error=bad_state"

    # The right one works once; the code cannot be replayed, even with the flow cookie.
    assert (await browser.get(callback)).status_code == 303
    replay = await stranger.get(callback, headers={"Cookie": f"{FLOW_COOKIE}={flow}"})
    assert replay.status_code == 401
    assert replay.json()["code"] == "sign_in_failed"

    # The person cancels at Google: back to the sign-in page, which can say so.
    provider.authorize_error = "access_denied"
    cancelled = await google_sign_in(await gateway.client())
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == "/?sign_in_error=access_denied"
    odd = await browser.get(CALLBACK, params={"error": "access_denied\nSet-Cookie: x=y"})
    assert odd.headers["location"] == "/?sign_in_error=failed"
    provider.behave()

    # `next` is a path on this site, never another site.
    for bad_next in ("//evil.example", "https://evil.example", "/\\evil.example", "/\t/x", "/ok\n"):
        answer = await browser.get(LOGIN, params={"next": bad_next})
        assert answer.status_code == 422, bad_next


@pytest.mark.timeout(120)
async def test_sign_in_is_limited_per_ip_address(
    start_gateway: Any, provider: OidcProvider
) -> None:
    gateway = await start_gateway(**provider.gateway_env(), GATEWAY_SIGN_IN_PER_MINUTE="3")
    provider.user = OidcUser(email=unique_email("eager"))
    browser = await gateway.client()
    for _ in range(3):
        assert (await browser.get(LOGIN)).status_code == 303
    limited = await browser.get(LOGIN)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    # The dev sign-in counts against the same allowance.
    assert (await browser.get("/api/v1/auth/dev")).status_code == 429
    # Another address has its own allowance.
    elsewhere = await gateway.client(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"))
    assert (await elsewhere.get(LOGIN)).status_code == 303


@pytest.mark.timeout(120)
async def test_without_google_or_outside_embedded_mode_those_sign_ins_are_absent(
    pool: asyncpg.Pool, start_gateway: Any, provider: OidcProvider
) -> None:
    email = unique_email("owner")
    async with pool.acquire() as conn:
        await create_workspace(conn, "Dev", email)
    no_google = await start_gateway()
    anonymous = await no_google.client()
    for path in (LOGIN, f"{CALLBACK}?code=x&state=y"):
        answer = await anonymous.get(path)
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_configured"
    offered = await anonymous.get("/api/v1/auth/options")
    assert offered.json() == {"google": False, "dev": True}

    production = await start_gateway(**provider.gateway_env(), RELAY_EMBEDDED="false")
    browser = await production.client()
    offered = await browser.get("/api/v1/auth/options")
    assert offered.json() == {"google": True, "dev": False}
    dev = await browser.get("/api/v1/auth/dev", params={"email": email})
    assert dev.status_code == 404
    assert "relay_session" not in dev.cookies
    provider.user = OidcUser(email=email)
    assert (await google_sign_in(browser)).status_code == 303
    me = await browser.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == email
