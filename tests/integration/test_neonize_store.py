"""The neonize transport against a real PostgreSQL store and the real Go library.

Nothing reaches WhatsApp: no test calls the plain ``connect()``. Where the Go client is
started for real, it is given a SOCKS proxy on a closed local port, so the websocket dial
is refused on this machine and ``Neonize()`` returns an error (a failed first connect).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from neonize._binder import ProxySettings
from neonize.aioze.client import ClientFactory, NewAClient

from relay_common.contract import SessionState
from relay_common.embedded import drop_database, ensure_database
from relay_common.testing.infra import Infra
from relay_common.testing.waiting import eventually
from relay_session_worker.transports import neonize as transport_module
from relay_session_worker.transports.base import BotRef, SessionHooks, StateDetails
from relay_session_worker.transports.neonize import NeonizeTransport

DEVICE = "34600111222:12@s.whatsapp.net"
DEAD_PROXY = ProxySettings(proxy_address="socks5://127.0.0.1:1")
WHATSMEOW_TABLES = 17


@pytest.fixture(scope="module")
async def store_url(infra: Infra) -> AsyncIterator[str]:
    """A database of its own for whatsmeow's store, as production may use."""
    name = f"relay_wa_{uuid4().hex[:8]}"
    url = await ensure_database(infra.admin_database_url, name)
    yield url
    await drop_database(infra.admin_database_url, name)


@pytest.fixture
def transport(store_url: str) -> NeonizeTransport:
    return NeonizeTransport(store_url, max_sessions=4, offline_cutoff_s=600, qr_timeout_s=60)


@pytest.fixture
def offline_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real connect(), through a proxy nobody listens on; no reconnect during a test."""
    real_connect = NewAClient.connect

    async def connect_via_dead_proxy(client: NewAClient) -> Any:
        return await real_connect(client, DEAD_PROXY)

    monkeypatch.setattr(NewAClient, "connect", connect_via_dead_proxy)
    monkeypatch.setattr(transport_module, "backoff_delay", lambda failures: 3600.0)


class StateLog:
    def __init__(self) -> None:
        self.states: list[tuple[SessionState, str | None, StateDetails]] = []

    async def on_state(self, state: SessionState, reason: str | None, d: StateDetails) -> None:
        self.states.append((state, reason, d))

    def hooks(self, device_jid: str | None) -> SessionHooks:
        async def ignore(_: Any) -> None:
            return None

        return SessionHooks(ignore, self.on_state, ignore, device_jid)


def bot() -> BotRef:
    return BotRef(workspace_id=uuid4(), bot_id=uuid4(), transport="whatsapp")


async def add_fake_device(url: str, jid: str) -> None:
    """A device row as whatsmeow writes one after pairing (random keys of the right sizes)."""
    conn = await asyncpg.connect(url)
    key = os.urandom
    try:
        await conn.execute(
            """
            INSERT INTO whatsmeow_device (
                jid, registration_id, noise_key, identity_key, signed_pre_key,
                signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig,
                adv_account_sig_key, adv_device_sig, platform, business_name, push_name,
                lid_migration_ts, companion_meta_nonce
            ) VALUES ($1, 1, $2, $3, $4, 1, $5, $6, '', $7, $8, $9, 'android', '', 'Relay', 0, '')
            ON CONFLICT DO NOTHING
            """,
            jid,
            *(key(32), key(32), key(32), key(64), key(32), key(64), key(32), key(64)),
        )
    finally:
        await conn.close()


async def test_the_shared_store_is_created_in_postgresql(
    transport: NeonizeTransport, store_url: str
) -> None:
    factory = transport.factory()
    assert await asyncio.to_thread(factory.get_all_devices) == []
    conn = await asyncpg.connect(store_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'whatsmeow%'"
        )
    finally:
        await conn.close()
    assert tables == WHATSMEOW_TABLES


async def test_device_lookup(transport: NeonizeTransport, store_url: str) -> None:
    await asyncio.to_thread(transport.factory().get_all_devices)  # whatsmeow's schema
    assert not await transport.device_exists(DEVICE)
    await add_fake_device(store_url, DEVICE)
    assert await transport.device_exists(DEVICE)
    listed = await asyncio.to_thread(transport.factory().get_all_devices)
    assert [d.JID.User for d in listed] == ["34600111222:12"]  # neonize's own parsing


async def test_a_store_whatsmeow_never_used_has_no_device(database_url: str) -> None:
    unused = NeonizeTransport(database_url, max_sessions=4, offline_cutoff_s=1, qr_timeout_s=1)
    assert not await unused.device_exists(DEVICE)


async def test_a_missing_device_is_reported_not_resumed(
    transport: NeonizeTransport, offline_go: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[dict[str, Any]] = []
    new_client = ClientFactory.new_client

    def spy(factory: ClientFactory, **kwargs: Any) -> NewAClient:
        created.append(kwargs)
        return new_client(factory, **kwargs)

    monkeypatch.setattr(ClientFactory, "new_client", spy)
    log = StateLog()
    session = transport.open(bot(), log.hooks("34600111222:99@s.whatsapp.net"))
    await session.start()
    assert log.states == [(SessionState.LOGGED_OUT, "device no longer linked", StateDetails())]
    assert created == []
    await session.stop()


async def test_stored_device_resumes_and_a_failed_connect_is_reported(
    transport: NeonizeTransport, store_url: str, offline_go: None
) -> None:
    await asyncio.to_thread(transport.factory().get_all_devices)
    await add_fake_device(store_url, DEVICE)
    log = StateLog()
    session = transport.open(bot(), log.hooks(DEVICE))
    await session.start()  # real Go: loads the device from PostgreSQL, then the dial fails

    async def reported() -> bool:
        return bool(log.states)

    await eventually(reported, within_s=30, what="the failed connect")
    state, reason, _ = log.states[0]
    assert state is SessionState.DISCONNECTED
    assert reason is not None
    assert reason.startswith("connect failed:")
    assert "connection refused" in reason
    assert session._reconnect is not None  # retried later, with backoff
    await session.stop()


async def test_linking_a_new_device_starts_the_real_client(
    transport: NeonizeTransport, offline_go: None
) -> None:
    log = StateLog()
    session = transport.open(bot(), log.hooks(None))
    await session.start()

    async def reported() -> bool:
        return bool(log.states)

    await eventually(reported, within_s=30, what="the failed connect")
    assert log.states[0][0] is SessionState.DISCONNECTED
    await session.stop()
    assert session._client is None
