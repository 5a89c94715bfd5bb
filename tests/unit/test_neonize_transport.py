"""The neonize transport with only the lowest neonize calls replaced: nothing reaches WhatsApp.

Clients are real ``NewAClient`` objects of a real ``ClientFactory``; the Go entry points
(``connect``/``stop``, ``send_message``, ``upload``, ...) are replaced. Events travel the real
neonize path: serialized, handed to ``Event.execute`` (as the Go side does) and dispatched
to the handlers registered on the factory.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from neonize.aioze import events as neonize_events
from neonize.aioze.client import ClientFactory, NewAClient
from neonize.aioze.events import (
    ConnectedEv,
    ConnectFailureEv,
    LoggedOutEv,
    MessageEv,
    OfflineSyncCompletedEv,
    OfflineSyncPreviewEv,
)
from neonize.events import EVENT_TO_INT
from neonize.exc import NeonizeError, SendMessageError
from neonize.proto.Neonize_pb2 import (
    JID,
    ConnectFailureReason,
    MessageInfo,
    MessageSource,
    SendResponse,
    UploadResponse,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
from neonize.utils.enum import ChatPresence, ChatPresenceMedia, ReceiptType
from PIL import Image
from structlog.testing import capture_logs

from relay_common.contract import MessageReceived, SessionState
from relay_common.testing.waiting import eventually
from relay_session_worker.transports import neonize as transport_module
from relay_session_worker.transports.base import (
    BotRef,
    Receipt,
    SessionHooks,
    StateDetails,
    TransportError,
)
from relay_session_worker.transports.neonize import (
    NeonizeSession,
    NeonizeTransport,
    backoff_delay,
    lib_pq_url,
    size_executor,
)

PHONE = "34600111222"
DEVICE = f"{PHONE}:12@s.whatsapp.net"
CUSTOMER = "34699888777@s.whatsapp.net"
MAX_SESSIONS = 8


class Hooks:
    """What the worker would receive."""

    def __init__(self, device_jid: str | None = None) -> None:
        self.messages: list[MessageReceived] = []
        self.states: list[tuple[SessionState, str | None, StateDetails]] = []
        self.receipts: list[Receipt] = []
        self.fail_messages = False
        self.device_jid = device_jid

    async def on_message(self, message: MessageReceived) -> None:
        if self.fail_messages:
            raise RuntimeError("bus down")
        self.messages.append(message)

    async def on_state(self, state: SessionState, reason: str | None, d: StateDetails) -> None:
        self.states.append((state, reason, d))

    async def on_receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)

    def session_hooks(self) -> SessionHooks:
        return SessionHooks(self.on_message, self.on_state, self.on_receipt, self.device_jid)

    def last(self) -> tuple[SessionState, str | None, StateDetails]:
        return self.states[-1]


class FakeGo:
    """Stands in for the Go calls that connect and stop a client.

    ``connect`` returns a pending task (the Go call runs for the client's whole life) and,
    as whatsmeow would, then shows a QR code (new device) or reports Connected.
    """

    def __init__(self) -> None:
        self.connected: list[NewAClient] = []
        self.stopped: list[NewAClient] = []
        self.fail_with: Exception | None = None
        self.greet = True
        self.qr_codes = iter(f"2@qr-{n}" for n in range(1000))

    async def connect(self, client: NewAClient) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        self.connected.append(client)
        task: asyncio.Future[None] = loop.create_future()
        client.connect_task = task
        if self.fail_with is not None:
            task.set_exception(self.fail_with)
        elif self.greet:
            loop.call_soon(self.hello, client)
        return task

    def hello(self, client: NewAClient) -> None:
        if client.jid is None:
            self.show_qr(client)
        else:
            go_delivers(client, ConnectedEv(status=True))

    def show_qr(self, client: NewAClient) -> None:
        # What NewAClient.__onQr does with the code Go hands it.
        code = next(self.qr_codes).encode()
        asyncio.get_running_loop().create_task(client.event._qr(client, code))

    async def stop(self, client: NewAClient) -> None:
        self.stopped.append(client)
        task = client.connect_task
        if task is not None and not task.done():
            task.set_result(None)  # Neonize() returns once stopped


def go_delivers(client: NewAClient, event: Any) -> None:
    """What the Go side does with an event: serialize it and call the client's callback.

    Go fills every field neonize's proto2 schema marks required; these tests set only
    those that matter, so they serialize partially (parsing does not check).
    """
    data = event.SerializePartialToString()
    buffer = ctypes.create_string_buffer(data, max(len(data), 1))
    client.event.execute(0, ctypes.addressof(buffer), len(data), EVENT_TO_INT[type(event)])


@pytest.fixture
async def go(monkeypatch: pytest.MonkeyPatch) -> FakeGo:
    fake = FakeGo()
    monkeypatch.setattr(NewAClient, "connect", lambda client: fake.connect(client))
    monkeypatch.setattr(NewAClient, "stop", lambda client: fake.stop(client))
    monkeypatch.setattr(transport_module, "SETTLE_S", 2.0)
    # The real connect() sets the loop that Go callbacks are scheduled on.
    neonize_events.set_event_loop(asyncio.get_running_loop())
    return fake


@pytest.fixture
def transport() -> NeonizeTransport:
    return NeonizeTransport(
        "postgresql://relay@127.0.0.1:5432/relay",
        max_sessions=MAX_SESSIONS,
        offline_cutoff_s=600,
        qr_timeout_s=60,
    )


def bot() -> BotRef:
    return BotRef(workspace_id=uuid4(), bot_id=uuid4(), transport="whatsapp")


async def resumed(
    transport: NeonizeTransport, monkeypatch: pytest.MonkeyPatch, hooks: Hooks
) -> NeonizeSession:
    async def device_exists(device_jid: str) -> bool:
        return device_jid == DEVICE

    monkeypatch.setattr(transport, "device_exists", device_exists)
    session = transport.open(bot(), hooks.session_hooks())
    await session.start()
    await eventually(probe(lambda: hooks.states), within_s=5, what="connected")
    return session


def probe(check: Any) -> Any:
    async def run() -> Any:
        return check()

    return run


def client_of(session: NeonizeSession) -> NewAClient:
    client = session._client
    assert client is not None
    return client


@pytest.fixture
async def connected(
    transport: NeonizeTransport, go: FakeGo, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[NeonizeSession, Hooks]]:
    hooks = Hooks(DEVICE)
    session = await resumed(transport, monkeypatch, hooks)
    yield session, hooks
    await session.stop()


# -- pure helpers ----------------------------------------------------------------------


def test_store_url_for_lib_pq() -> None:
    assert lib_pq_url("postgresql://u:p@db:5432/relay") == (
        "postgresql://u:p@db:5432/relay?sslmode=prefer"
    )
    assert lib_pq_url("postgres://u@db/relay?sslmode=disable&pool_max_conns=20") == (
        "postgres://u@db/relay?sslmode=disable"
    )
    assert lib_pq_url("postgresql://postgres:@/relay?host=/tmp/pg") == (
        "postgresql://postgres:@/relay?host=/tmp/pg&sslmode=prefer"
    )
    for wrong in ("relay.db", "sqlite:///relay.db", "mysql://db/relay"):
        with pytest.raises(ValueError, match="postgres"):
            lib_pq_url(wrong)


def test_executor_only_grows() -> None:
    loop = asyncio.new_event_loop()  # never run: only its executor setting is looked at
    try:
        size_executor(loop, 516)
        size_executor(loop, 10)
        executor = loop._default_executor  # type: ignore[attr-defined]
        assert executor._max_workers == 516
    finally:
        loop.close()


async def test_the_shared_store_sizes_the_running_loop(transport: NeonizeTransport) -> None:
    factory = transport.factory()
    assert isinstance(factory, ClientFactory)
    assert factory is transport.factory()
    assert factory.database_name == transport.store_url
    executor = asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]
    assert executor._max_workers == MAX_SESSIONS + transport_module.EXTRA_THREADS


def test_backoff_grows_with_jitter_up_to_a_cap() -> None:
    for failures in range(12):
        ceiling = min(300.0, 2.0 * 2**failures)
        delays = {backoff_delay(failures) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1
    assert backoff_delay(10_000) <= 300.0


# -- devices, linking ------------------------------------------------------------------


async def test_resume_passes_the_stored_device(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, hooks = connected
    client = client_of(session)
    assert client.jid == JID(
        User=PHONE, RawAgent=0, Device=12, Integrator=0, Server="s.whatsapp.net", IsEmpty=False
    )
    assert not client.new_device
    assert hooks.states == [
        (
            SessionState.CONNECTED,
            None,
            StateDetails(device_jid=DEVICE, phone_number=f"+{PHONE}"),
        )
    ]


async def test_missing_device_is_never_passed_as_jid(
    transport: NeonizeTransport, go: FakeGo, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[dict[str, Any]] = []
    new_client = ClientFactory.new_client

    def spy(factory: ClientFactory, **kwargs: Any) -> NewAClient:
        created.append(kwargs)
        return new_client(factory, **kwargs)

    async def device_exists(device_jid: str) -> bool:
        return False

    monkeypatch.setattr(ClientFactory, "new_client", spy)
    monkeypatch.setattr(transport, "device_exists", device_exists)
    hooks = Hooks(DEVICE)
    session = transport.open(bot(), hooks.session_hooks())
    await session.start()
    assert hooks.states == [(SessionState.LOGGED_OUT, "device no longer linked", StateDetails())]
    assert created == []
    assert go.connected == []

    await session.relink()
    await eventually(probe(lambda: hooks.states[1:]), within_s=5, what="a QR code")
    assert all(call.get("jid") is None for call in created)
    assert created[0]["new_device"] is True
    assert hooks.last() == (SessionState.LINKING, None, StateDetails(qr_code="2@qr-0"))
    await session.stop()


async def test_linking_with_rotating_qr_codes_pair_code_and_expiry(
    transport: NeonizeTransport, go: FakeGo, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, bool]] = []

    async def pair_phone(client: NewAClient, phone: str, show_push_notification: bool) -> str:
        asked.append((phone, show_push_notification))
        return "ABCD-1234"

    monkeypatch.setattr(NewAClient, "PairPhone", pair_phone)
    transport.qr_timeout_s = 0.5
    hooks = Hooks()
    session = transport.open(bot(), hooks.session_hooks())
    await session.relink("+34600111222")
    await eventually(probe(lambda: hooks.states), within_s=5, what="a QR code")
    client = client_of(session)
    go.show_qr(client)
    await eventually(probe(lambda: len(hooks.states) == 2), within_s=5, what="a second QR")
    assert asked == [(PHONE, True)]
    assert [d for _, _, d in hooks.states] == [
        StateDetails(qr_code="2@qr-0", pair_code="ABCD-1234"),
        StateDetails(qr_code="2@qr-1", pair_code="ABCD-1234"),
    ]
    await eventually(probe(lambda: len(hooks.states) == 3), within_s=5, what="QR expiry")
    assert hooks.last() == (SessionState.DISCONNECTED, "QR code expired", StateDetails())
    assert go.stopped == [client]
    assert session._client is None


async def test_pairing_reports_the_new_device(
    transport: NeonizeTransport, go: FakeGo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neonize.aioze.events import PairStatusEv

    hooks = Hooks()
    session = transport.open(bot(), hooks.session_hooks())
    await session.start()
    await eventually(probe(lambda: hooks.states), within_s=5, what="a QR code")
    client = client_of(session)
    device = JID(User=PHONE, RawAgent=0, Device=3, Integrator=0, Server="s.whatsapp.net")
    go_delivers(client, PairStatusEv(ID=device, Status=PairStatusEv.SUCCESS))
    go_delivers(client, ConnectedEv(status=True))
    await eventually(probe(lambda: len(hooks.states) == 3), within_s=5, what="connected")
    linked = StateDetails(device_jid=f"{PHONE}:3@s.whatsapp.net", phone_number=f"+{PHONE}")
    assert hooks.states[1:] == [
        (SessionState.CONNECTED, "linked", linked),
        (SessionState.CONNECTED, None, linked),
    ]
    assert session.device_jid == linked.device_jid
    assert session._qr_timer is not None
    assert session._qr_timer.cancelled()
    await session.stop()


# -- what the worker asks ----------------------------------------------------------------


async def test_send_text(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, _ = connected
    client = client_of(session)
    calls: list[tuple[Any, Any]] = []

    async def send_message(to: Any, message: Any) -> Any:
        calls.append((to, message))
        return SendResponse(ID="3EB0AAAA", Timestamp=1_740_000_000)

    client.send_message = send_message
    sent = await session.send_text(CUSTOMER, "Hola, ¿en qué te ayudo?", message_id="ours-1")
    assert sent.whatsapp_message_id == "3EB0AAAA"
    assert sent.sent_at == datetime.fromtimestamp(1_740_000_000, UTC)
    (to, message) = calls[0]
    assert (to.User, to.Server, to.Device) == ("34699888777", "s.whatsapp.net", 0)
    assert message == Message(conversation="Hola, ¿en qué te ayudo?")


async def test_send_failure_is_a_transport_error(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, _ = connected

    async def send_message(to: Any, message: Any) -> Any:
        raise SendMessageError("server returned error 479")

    client_of(session).send_message = send_message
    with pytest.raises(TransportError, match="479"):
        await session.send_text(CUSTOMER, "hi", message_id="ours-2")


async def test_nothing_is_sent_before_go_knows_the_client(transport: NeonizeTransport) -> None:
    session = transport.open(bot(), Hooks().session_hooks())
    with pytest.raises(TransportError, match="not connected"):
        await session.send_text(CUSTOMER, "hi", message_id="ours-3")
    with pytest.raises(TransportError):
        await session.set_typing(CUSTOMER, True)


async def test_send_image_with_caption(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, _ = connected
    client = client_of(session)
    png = io.BytesIO()
    Image.new("RGB", (640, 480), "orange").save(png, format="PNG")
    uploads: list[bytes] = []
    sends: list[Any] = []

    async def upload(binary: bytes, media_type: Any = None) -> Any:
        uploads.append(binary)
        return UploadResponse(
            url="https://mmg.example/x", DirectPath="/v/x", FileSHA256=b"s" * 32, FileLength=9
        )

    async def send_message(to: Any, message: Any) -> Any:
        sends.append(message)
        return SendResponse(ID="3EB0IMG", Timestamp=1_740_000_001)

    client.upload = upload
    client.send_message = send_message
    sent = await session.send_image(CUSTOMER, png.getvalue(), caption="menu", message_id="ours-4")
    assert sent.whatsapp_message_id == "3EB0IMG"
    assert uploads == [png.getvalue()]
    image = sends[0].imageMessage
    assert (image.caption, image.mimetype, image.directPath) == ("menu", "image/png", "/v/x")
    assert image.JPEGThumbnail  # neonize made a thumbnail


async def test_typing_indicator(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, _ = connected
    calls: list[tuple[Any, Any, Any]] = []

    async def send_chat_presence(jid: Any, state: Any, media: Any) -> None:
        calls.append((jid.User, state, media))

    client_of(session).send_chat_presence = send_chat_presence
    await session.set_typing(CUSTOMER, True)
    await session.set_typing(CUSTOMER, False)
    text = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
    assert calls == [
        ("34699888777", ChatPresence.CHAT_PRESENCE_COMPOSING, text),
        ("34699888777", ChatPresence.CHAT_PRESENCE_PAUSED, text),
    ]


async def test_mark_read(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, _ = connected
    calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    async def mark_read(*ids: str, **kwargs: Any) -> None:
        calls.append((ids, kwargs))

    client_of(session).mark_read = mark_read
    await session.mark_read(CUSTOMER, ["A", "B"])
    await session.mark_read(CUSTOMER, [])
    ((ids, kwargs),) = calls
    assert ids == ("A", "B")
    assert kwargs["chat"].User == kwargs["sender"].User == "34699888777"
    assert kwargs["receipt"] is ReceiptType.READ


async def test_logout(connected: tuple[NeonizeSession, Hooks], go: FakeGo) -> None:
    session, hooks = connected
    client = client_of(session)
    logged_out: list[bool] = []

    async def logout() -> None:
        logged_out.append(True)

    client.logout = logout
    await session.logout()
    assert logged_out == [True]
    assert go.stopped == [client]
    assert hooks.last() == (SessionState.LOGGED_OUT, "logged out from Relay", StateDetails())
    assert session.device_jid is None


# -- what WhatsApp reports ---------------------------------------------------------------


def customer_message(msg_id: str, sent: datetime) -> Any:
    chat = JID(User="34699888777", RawAgent=0, Device=0, Integrator=0, Server="s.whatsapp.net")
    info = MessageInfo(
        MessageSource=MessageSource(Chat=chat, Sender=chat, IsFromMe=False, IsGroup=False),
        ID=msg_id,
        Pushname="Eva",
        Timestamp=int(sent.timestamp() * 1000),
    )
    return MessageEv(Info=info, Message=Message(conversation="hello"))


async def test_messages_and_offline_cutoff(connected: tuple[NeonizeSession, Hooks]) -> None:
    session, hooks = connected
    client = client_of(session)
    old = datetime.now(UTC) - timedelta(hours=1)
    go_delivers(client, customer_message("LIVE", datetime.now(UTC)))
    go_delivers(client, OfflineSyncPreviewEv(Total=2, Message=2))
    go_delivers(client, customer_message("QUEUED-OLD", old))
    go_delivers(client, customer_message("QUEUED-NEW", datetime.now(UTC)))
    go_delivers(client, OfflineSyncCompletedEv(Count=2))
    go_delivers(client, customer_message("AFTER", old))
    await eventually(probe(lambda: len(hooks.messages) == 4), within_s=5, what="messages")
    arrived = [(m.whatsapp_message_id, m.stale) for m in hooks.messages]
    assert arrived == [
        ("LIVE", False),
        ("QUEUED-OLD", True),
        ("QUEUED-NEW", False),
        ("AFTER", False),
    ]
    assert hooks.messages[0].bot_id == session.bot.bot_id


async def test_handler_errors_are_logged_not_lost(
    connected: tuple[NeonizeSession, Hooks], transport: NeonizeTransport
) -> None:
    session, hooks = connected
    client = client_of(session)
    hooks.fail_messages = True
    with capture_logs() as logs:
        await transport._dispatch(client, customer_message("M1", datetime.now(UTC)))
    assert [e["event"] for e in logs] == ["whatsapp_event_failed"]
    assert logs[0]["bot_id"] == str(session.bot.bot_id)
    assert logs[0]["exc_info"]
    hooks.fail_messages = False
    await transport._dispatch(client, customer_message("M2", datetime.now(UTC)))
    assert [m.whatsapp_message_id for m in hooks.messages] == ["M2"]


async def test_connect_failure_reconnects_with_backoff(
    connected: tuple[NeonizeSession, Hooks], go: FakeGo, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, hooks = connected
    monkeypatch.setattr(transport_module, "backoff_delay", lambda failures: 0.01)
    first = client_of(session)
    failure = ConnectFailureEv(Reason=ConnectFailureReason.Value("SERVICE_UNAVAILABLE"))
    go_delivers(first, failure)
    await eventually(probe(lambda: len(go.connected) == 2), within_s=5, what="a reconnect")
    await eventually(probe(lambda: len(hooks.states) == 3), within_s=5, what="connected")
    assert [s for s, _, _ in hooks.states] == [
        SessionState.CONNECTED,
        SessionState.DISCONNECTED,
        SessionState.CONNECTED,
    ]
    assert go.stopped == [first]
    assert go.connected[1].jid == first.jid
    assert session._client is go.connected[1]


async def test_failed_connect_call_reconnects(
    transport: NeonizeTransport, go: FakeGo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "backoff_delay", lambda failures: 0.01)
    go.fail_with = NeonizeError("dial tcp: lookup web.whatsapp.com: no such host")
    hooks = Hooks(DEVICE)

    async def device_exists(device_jid: str) -> bool:
        return True

    monkeypatch.setattr(transport, "device_exists", device_exists)
    session = transport.open(bot(), hooks.session_hooks())
    await session.start()
    await eventually(probe(lambda: len(go.connected) >= 2), within_s=5, what="a retry")
    go.fail_with = None
    await eventually(
        probe(lambda: hooks.states and hooks.last()[0] is SessionState.CONNECTED),
        within_s=5,
        what="connected",
    )
    state, reason, _ = hooks.states[0]
    assert state is SessionState.DISCONNECTED
    assert reason == "connect failed: dial tcp: lookup web.whatsapp.com: no such host"
    await session.stop()


async def test_logged_out_by_whatsapp_ends_the_client(
    connected: tuple[NeonizeSession, Hooks], go: FakeGo
) -> None:
    session, hooks = connected
    client = client_of(session)
    go_delivers(
        client, LoggedOutEv(OnConnect=False, Reason=ConnectFailureReason.Value("LOGGED_OUT"))
    )
    await eventually(probe(lambda: len(hooks.states) == 2), within_s=5, what="logged out")
    assert hooks.last()[:2] == (SessionState.LOGGED_OUT, "logged out by WhatsApp: logged out")
    assert go.stopped == [client]
    assert len(go.connected) == 1
    assert session.device_jid is None


async def test_stop_releases_the_client_and_ignores_late_events(
    connected: tuple[NeonizeSession, Hooks], go: FakeGo, transport: NeonizeTransport
) -> None:
    session, hooks = connected
    client = client_of(session)
    await session.stop()
    assert go.stopped == [client]
    assert client not in transport.factory().clients
    await transport._dispatch(client, customer_message("LATE", datetime.now(UTC)))
    assert hooks.messages == []
