"""Real WhatsApp through neonize (Python bindings of whatsmeow, a Go library).

All bots share one whatsmeow store (a PostgreSQL database); the worker keeps each bot's
device JID and resumes it with ``jid=``. The Go runtime is one per process, keeps unlocked
global maps keyed by client, calls back on its own threads and holds one executor thread
per connected client, hence: one event loop, a large default executor, clients started
and stopped one at a time, and every callback wrapped so its exceptions are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
from neonize.aioze.client import ClientFactory, NewAClient
from neonize.aioze.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    HistorySyncEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    OfflineSyncCompletedEv,
    OfflineSyncPreviewEv,
    PairStatusEv,
    ReceiptEv,
    StreamErrorEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.exc import NeonizeError
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
from neonize.utils.enum import ChatPresence, ChatPresenceMedia, ReceiptType

from relay_common.contract import SessionState
from relay_common.logging import get_logger
from relay_session_worker.transports.base import (
    BotRef,
    Sent,
    SessionHooks,
    StateDetails,
    TransportError,
)
from relay_session_worker.transports.neonize_events import (
    from_epoch,
    history_messages,
    jid_from_string,
    message_received,
    phone_of,
    receipt,
    should_reconnect,
    state_change,
    whatsmeow_gives_up,
)

log = get_logger(__name__)

EVENTS = (
    MessageEv,
    HistorySyncEv,
    ReceiptEv,
    OfflineSyncPreviewEv,
    OfflineSyncCompletedEv,
    PairStatusEv,
    ConnectedEv,
    DisconnectedEv,
    KeepAliveTimeoutEv,
    KeepAliveRestoredEv,
    LoggedOutEv,
    StreamReplacedEv,
    TemporaryBanEv,
    ConnectFailureEv,
    ClientOutdatedEv,
    StreamErrorEv,
)
SETTLE_S = 15.0
"""How long a starting client keeps the start lock while Go registers it."""
EXTRA_THREADS = 16

_start_lock = asyncio.Lock()
_sized_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = (
    weakref.WeakKeyDictionary()
)


def lib_pq_url(url: str) -> str:
    """Our PostgreSQL URL in the form Go's lib/pq (whatsmeow's driver) accepts.

    Anything not ``postgres``-prefixed would silently become a SQLite file name. lib/pq
    forwards unknown parameters to the server (``pool_*`` of pgx fail there) and defaults
    to ``sslmode=require``, which fails against a server without TLS; ``prefer`` is what
    asyncpg and libpq do.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("the WhatsApp store must be a postgres:// or postgresql:// URL")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("pool_")
    ]
    if not any(k == "sslmode" for k, _ in query):
        query.append(("sslmode", "prefer"))
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def size_executor(loop: asyncio.AbstractEventLoop, threads: int) -> None:
    """Give the loop's default executor at least ``threads`` threads (it never shrinks):
    each connected client holds one of them for life."""
    if _sized_loops.get(loop, 0) >= threads:
        return
    loop.set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="neonize"))
    _sized_loops[loop] = threads


def backoff_delay(failures: int, *, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """Exponential backoff with jitter, so bots that failed together do not retry together."""
    ceiling = min(cap_s, base_s * 2.0 ** min(failures, 20))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class NeonizeTransport:
    name = "whatsapp"

    def __init__(
        self, store_url: str, *, max_sessions: int, offline_cutoff_s: float, qr_timeout_s: float
    ) -> None:
        self.store_url = lib_pq_url(store_url)
        self.max_sessions = max_sessions
        self.offline_cutoff_s = offline_cutoff_s
        self.qr_timeout_s = qr_timeout_s
        self._factory: ClientFactory | None = None
        self._sessions: dict[NewAClient, NeonizeSession] = {}

    def open(self, bot: BotRef, hooks: SessionHooks) -> NeonizeSession:
        return NeonizeSession(self, bot, hooks)

    def factory(self) -> ClientFactory:
        """The one store of every bot, created on first use (in the running loop)."""
        if self._factory is None:
            size_executor(asyncio.get_running_loop(), self.max_sessions + EXTRA_THREADS)
            factory = ClientFactory(self.store_url)
            for event_type in EVENTS:
                factory.event(event_type)(self._dispatch)
            self._factory = factory
        return self._factory

    async def device_exists(self, device_jid: str) -> bool:
        """Whether whatsmeow still stores the device (``jid=`` of a missing one crashes Go).

        Asked with SQL: neonize's ``get_all_devices`` opens a Go pool that is never closed.
        """
        conn = await asyncpg.connect(self.store_url, timeout=10)
        try:
            found = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM whatsmeow_device WHERE jid = $1)", device_jid
            )
        except asyncpg.UndefinedTableError:
            return False  # whatsmeow never ran against this store
        finally:
            await conn.close()
        return bool(found)

    def new_client(self, session: NeonizeSession, device_jid: str | None) -> NewAClient:
        if device_jid is None:
            # A fresh uuid: the Go side keys clients by it (with jid= it is the phone number).
            client = self.factory().new_client(uuid=f"link-{uuid4().hex}", new_device=True)
        else:
            client = self.factory().new_client(jid=jid_from_string(device_jid))
        self._sessions[client] = session
        return client

    def forget(self, client: NewAClient) -> None:
        """Drop a stopped client. Its GC finalizer would stop by uuid, i.e. also a newer
        client of the same phone number, so it is detached."""
        self._sessions.pop(client, None)
        with contextlib.suppress(ValueError):
            self.factory().clients.remove(client)
        client._stop_finalizer.detach()

    async def _dispatch(self, client: NewAClient, event: Any) -> None:
        session = self._sessions.get(client)
        if session is None:
            return
        try:
            await session.on_event(client, event)
        except Exception:
            log.exception(
                "whatsapp_event_failed",
                bot_id=str(session.bot.bot_id),
                event_type=type(event).__name__,
            )


class NeonizeSession:
    # neonize cannot send with our message id: a retried send could arrive twice.
    idempotent_sends = False

    def __init__(self, transport: NeonizeTransport, bot: BotRef, hooks: SessionHooks) -> None:
        self.transport = transport
        self.bot = bot
        self.hooks = hooks
        self.device_jid = hooks.device_jid
        self._log = log.bind(bot_id=str(bot.bot_id))
        self._client: NewAClient | None = None
        self._registered = asyncio.Event()
        """Set once Go shows the client is known to it: only then are calls on it safe."""
        self._pair_phone: str | None = None
        self._pair_code: str | None = None
        self._offline_sync = False
        self._events = asyncio.Lock()
        """Go schedules each event as its own task: the lock keeps them in arrival order."""
        self._failures = 0
        self._qr_timer: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self._connect_or_link()

    async def _connect_or_link(self) -> None:
        if self.device_jid is None:
            await self._open(None)
        elif await self.transport.device_exists(self.device_jid):
            await self._open(self.device_jid)
        else:
            self.device_jid = None
            await self.hooks.on_state(
                SessionState.LOGGED_OUT, "device no longer linked", StateDetails()
            )

    async def _open(self, device_jid: str | None) -> None:
        async with _start_lock:
            if self._stopped:
                return
            client = self.transport.new_client(self, device_jid)
            client.event.qr(self._on_qr_logged)
            self._client, self._registered = client, asyncio.Event()
            self._offline_sync = False
            task = await client.connect()
            task.add_done_callback(lambda done: self._on_connect_done(client, done))
            if device_jid is None:
                self._qr_timer = self._spawn(self._expire_qr(client), "qr_timeout")
            await self._settle(task)

    async def _settle(self, task: asyncio.Future[Any]) -> None:
        """Keep the start lock until Go shows a sign of life: it writes global maps meanwhile."""
        registered = asyncio.ensure_future(self._registered.wait())
        first = asyncio.FIRST_COMPLETED
        await asyncio.wait({registered, task}, timeout=SETTLE_S, return_when=first)
        registered.cancel()

    async def _drop_client(self) -> None:
        """Stop the current client (releasing its thread); the session may open another."""
        for timer in (self._qr_timer, self._reconnect):
            if timer is not None and timer is not asyncio.current_task():
                timer.cancel()
        async with _start_lock:  # also waits for a client this session is starting
            client, self._client = self._client, None
            self._registered = asyncio.Event()
            if client is None:
                return
            self.transport.forget(client)
            try:
                await client.stop()
            except Exception:
                self._log.exception("whatsapp_stop_failed")

    async def relink(self, phone_number: str | None = None) -> None:
        await self._drop_client()
        self.device_jid = None
        self._pair_phone = phone_number.removeprefix("+") if phone_number else None
        self._pair_code = None
        self._failures = 0
        await self._open(None)

    async def logout(self) -> None:
        client = self._client
        if client is not None and self._registered.is_set():
            try:
                await client.logout()
            except NeonizeError as exc:
                raise TransportError(f"logout failed: {exc}") from exc
        await self._drop_client()
        self.device_jid = None
        await self.hooks.on_state(SessionState.LOGGED_OUT, "logged out from Relay", StateDetails())

    async def stop(self) -> None:
        self._stopped = True
        await self._drop_client()

    # -- what WhatsApp reports -------------------------------------------------------

    async def on_event(self, client: NewAClient, event: Any) -> None:
        if client is not self._client:
            return
        self._registered.set()
        async with self._events:
            await self._handle(event)

    async def _handle(self, event: Any) -> None:
        if isinstance(event, MessageEv):
            cutoff = self._offline_cutoff() if self._offline_sync else None
            message = message_received(event, self.bot, offline_cutoff=cutoff)
            if message is not None:
                await self.hooks.on_message(message)
        elif isinstance(event, HistorySyncEv):
            for message in history_messages(event, self.bot):
                await self.hooks.on_message(message)
        elif isinstance(event, ReceiptEv):
            found = receipt(event)
            if found is not None:
                await self.hooks.on_receipt(found)
        elif isinstance(event, OfflineSyncPreviewEv | OfflineSyncCompletedEv):
            self._offline_sync = isinstance(event, OfflineSyncPreviewEv)
        else:
            await self._on_state_event(event)

    def _offline_cutoff(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.transport.offline_cutoff_s)

    async def _on_state_event(self, event: Any) -> None:
        change = state_change(event, now=datetime.now(UTC))
        if change is None:
            return
        state, reason, details = change
        if details.device_jid:
            self.device_jid = details.device_jid
        if state is SessionState.CONNECTED:
            self._failures, self._pair_phone, self._pair_code = 0, None, None
            if self._qr_timer is not None:
                self._qr_timer.cancel()
            details = self._with_device(details)
        if whatsmeow_gives_up(event):
            if isinstance(event, ConnectFailureEv) and should_reconnect(event):
                self._schedule_reconnect()
            else:
                await self._drop_client()  # release the client's thread
        if state is SessionState.LOGGED_OUT:
            self.device_jid = None  # whatsmeow already deleted it
        await self.hooks.on_state(state, reason, details)

    def _with_device(self, details: StateDetails) -> StateDetails:
        if details.device_jid or not self.device_jid:
            return details
        phone = phone_of(jid_from_string(self.device_jid))
        return replace(details, device_jid=self.device_jid, phone_number=phone)

    async def _on_qr_logged(self, client: NewAClient, code: bytes) -> None:
        try:
            await self._on_qr(client, code)
        except Exception:
            self._log.exception("whatsapp_qr_failed")

    async def _on_qr(self, client: NewAClient, code: bytes) -> None:
        if self._client is None or client is not self._client:
            return
        self._registered.set()
        reason = None
        if self._pair_phone is not None:
            phone, self._pair_phone = self._pair_phone, None  # once, though codes keep rotating
            try:
                self._pair_code = str(await client.PairPhone(phone, show_push_notification=True))
            except NeonizeError as exc:
                reason = f"pairing code failed: {exc}"
        await self.hooks.on_state(
            SessionState.LINKING,
            reason,
            StateDetails(qr_code=code.decode(), pair_code=self._pair_code),
        )

    async def _expire_qr(self, client: NewAClient) -> None:
        # whatsmeow's QR timeout is silent: the client would wait forever.
        await asyncio.sleep(self.transport.qr_timeout_s)
        if client is self._client:
            await self._drop_client()
            await self.hooks.on_state(SessionState.DISCONNECTED, "QR code expired", StateDetails())

    def _on_connect_done(self, client: NewAClient, task: asyncio.Future[Any]) -> None:
        """The Go call returned: normally after stop(); with an error when connecting failed."""
        if task.cancelled() or task.exception() is None or client is not self._client:
            return
        self._spawn(self._connect_failed(str(task.exception())), "connect_failed")

    async def _connect_failed(self, error: str) -> None:
        self._log.warning("whatsapp_connect_failed", error=error)
        await self.hooks.on_state(
            SessionState.DISCONNECTED, f"connect failed: {error}", StateDetails()
        )
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        # whatsmeow reconnects by itself only after unexpected drops of logged-in sessions.
        if self._stopped or (self._reconnect is not None and not self._reconnect.done()):
            return
        delay = backoff_delay(self._failures)
        self._failures += 1
        self._reconnect = self._spawn(self._reconnect_after(delay), "reconnect")

    async def _reconnect_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._drop_client()
        self._reconnect = None  # a quick failure of the next attempt schedules another
        if not self._stopped:
            await self._connect_or_link()

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(lambda done: self._log_failure(done, what))
        return task

    def _log_failure(self, task: asyncio.Task[None], what: str) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error(f"whatsapp_{what}_failed", exc_info=task.exception())

    # -- what the worker asks --------------------------------------------------------

    def _ready(self) -> NewAClient:
        # A client Go does not know yet is a nil pointer there: calling it kills the process.
        if self._client is None or not self._registered.is_set():
            raise TransportError("the WhatsApp session is not connected")
        return self._client

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        # neonize's SendMessage passes no SendRequestExtra.ID to whatsmeow: WhatsApp gets a
        # generated id, not ``message_id``; the returned Sent carries the real one.
        return await self._send(chat_jid, Message(conversation=text))

    async def send_image(
        self, chat_jid: str, image: bytes, *, caption: str, message_id: str
    ) -> Sent:
        client = self._ready()
        try:
            message = await client.build_image_message(image, caption=caption or None)
        except (NeonizeError, OSError) as exc:
            raise TransportError(f"image upload failed: {exc}") from exc
        return await self._send(chat_jid, message)

    async def _send(self, chat_jid: str, message: Message) -> Sent:
        client = self._ready()
        try:
            response = await client.send_message(jid_from_string(chat_jid), message)
        except NeonizeError as exc:
            raise TransportError(f"send failed: {exc}") from exc
        return Sent(whatsapp_message_id=str(response.ID), sent_at=from_epoch(response.Timestamp))

    async def set_typing(self, chat_jid: str, typing: bool) -> None:
        client = self._ready()
        state = (
            ChatPresence.CHAT_PRESENCE_COMPOSING if typing else ChatPresence.CHAT_PRESENCE_PAUSED
        )
        try:
            await client.send_chat_presence(
                jid_from_string(chat_jid), state, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
            )
        except NeonizeError as exc:
            raise TransportError(f"typing indicator failed: {exc}") from exc

    async def mark_read(self, chat_jid: str, message_ids: list[str]) -> None:
        if not message_ids:
            return
        client = self._ready()
        chat = jid_from_string(chat_jid)
        try:
            await client.mark_read(*message_ids, chat=chat, sender=chat, receipt=ReceiptType.READ)
        except NeonizeError as exc:
            raise TransportError(f"read receipt failed: {exc}") from exc
