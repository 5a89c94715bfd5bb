"""Fan-out of bus events to the browsers of each workspace, resumable by event id.

The FEED stream sources every stream browsers care about into one sequence; each SSE
event's id is its FEED sequence. One ordered consumer per gateway process feeds every
browser connected to it: an event is encoded once, then queued for each client of its
workspace that may see it. A client whose mailbox is full is dropped, never the gateway.
A browser that reconnects (to any replica) with ``Last-Event-ID: n`` gets what it
missed from a short-lived filtered consumer starting at ``n + 1``, then the live events
after it: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from relay_common.bus import Bus
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.metrics import SSE_CLIENTS
from relay_gateway.browser_events import Audience, classify, for_browsers, frame
from relay_gateway.mailbox import Mailbox
from relay_gateway.repo.principals import Principal

log = get_logger(__name__)

ASSIGNEE_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class FeedEvent:
    seq: int
    name: str
    frame: bytes
    audience: Audience
    vendors: frozenset[UUID] = frozenset()
    """For lead events: the vendors the lead is assigned to (before and after a change)."""


HEARTBEAT = FeedEvent(0, "", b": heartbeat\n\n", Audience())
"""Queued to every client now and then, so proxies keep idle streams open."""
DROPPED = FeedEvent(0, "", b"", Audience())
"""The last thing a dropped client's stream reads: it ends, and the browser resumes."""


@dataclass
class Client:
    id: int
    workspace_id: UUID
    user_id: UUID | None
    api_key_id: UUID | None
    vendor_id: UUID | None
    """Set when the caller is a vendor: they get only the events of their own leads."""
    sees_secrets: bool
    """QR codes, pairing codes, settings: as ``Principal.sees_secrets``."""
    mailbox: Mailbox[FeedEvent]

    def may_see(self, event: FeedEvent) -> bool:
        if event.audience.admins_only and not self.sees_secrets:
            return False
        if self.vendor_id is None or event.audience.lead_id is None:
            return True
        return self.vendor_id in event.vendors


class ResumeGapError(Exception):
    """The client's last event id is no longer (or never was) in the feed."""


class EventHub:
    def __init__(
        self, bus: Bus, pool: asyncpg.Pool, queue_size: int, heartbeat_s: float = 15.0
    ) -> None:
        self.bus = bus
        self.pool = pool
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self._beat: asyncio.Task[None] | None = None
        self._revocations: Subscription | None = None
        self.last_seq = 0
        """The last FEED sequence handed to clients."""
        self._clients: dict[UUID, dict[int, Client]] = {}
        self._ids = itertools.count(1)
        self._assignees: OrderedDict[UUID, UUID | None] = OrderedDict()
        self._sub: JetStreamContext.PushSubscription | None = None

    @property
    def feed(self) -> str:
        return s.FEED.full_name(self.bus.prefix)

    async def start(self) -> None:
        info = await self.bus.js.stream_info(self.feed)
        self.last_seq = info.state.last_seq
        self._sub = await self.bus.js.subscribe(
            f"{self.bus.prefix}.>",
            stream=self.feed,
            ordered_consumer=True,
            cb=self._on,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.last_seq + 1
            ),
        )
        self._revocations = await self.bus.nc.subscribe(
            s.access_revoked(self.bus.prefix), cb=self._on_revoked
        )
        self._beat = asyncio.create_task(self._heartbeat(), name="sse-heartbeat")

    async def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        for sub in (self._sub, self._revocations):
            if sub is not None:
                await sub.unsubscribe()
        for clients in list(self._clients.values()):
            for client in list(clients.values()):
                self.drop(client, "gateway stopping")

    async def _heartbeat(self) -> None:
        """One timer for every client, rather than a timeout on each one's every wait;
        it also ends the streams of access taken away behind the API's back."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for client in self._all():
                client.mailbox.offer(HEARTBEAT)  # if full, it has plenty to read
            try:
                await self._recheck_access()
            except Exception:
                log.exception("sse_access_recheck_failed")

    def _all(self) -> list[Client]:
        return [c for clients in self._clients.values() for c in clients.values()]

    # -- clients and their access -----------------------------------------------------

    def add(self, principal: Principal) -> Client:
        client = Client(
            next(self._ids),
            principal.workspace_id,
            principal.user_id,
            principal.api_key_id,
            principal.own_leads_only,
            principal.sees_secrets,
            Mailbox(self.queue_size),
        )
        self._clients.setdefault(client.workspace_id, {})[client.id] = client
        SSE_CLIENTS.inc()
        return client

    async def revoke_access(
        self, workspace_id: UUID, *, user_id: UUID | None = None, api_key_id: UUID | None = None
    ) -> None:
        """End, on every gateway, the streams of a member whose access or role changed, or
        of a revoked API key; the browser reconnects (or is refused) with what holds now."""
        body = {"workspace_id": str(workspace_id)}
        if user_id is not None:
            body["user_id"] = str(user_id)
        if api_key_id is not None:
            body["api_key_id"] = str(api_key_id)
        await self.bus.nc.publish(s.access_revoked(self.bus.prefix), json.dumps(body).encode())

    async def _on_revoked(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            workspace_id = UUID(body["workspace_id"])
            user_id = UUID(body["user_id"]) if body.get("user_id") else None
            api_key_id = UUID(body["api_key_id"]) if body.get("api_key_id") else None
        except (ValueError, KeyError, TypeError):
            log.warning("access_revoked_unreadable", data=msg.data[:200])
            return
        for client in list(self._clients.get(workspace_id, {}).values()):
            if (user_id and client.user_id == user_id) or (
                api_key_id and client.api_key_id == api_key_id
            ):
                self.drop(client, "access changed")

    async def _recheck_access(self) -> None:
        """A backstop for a lost revocation message: members still active in the same
        role, keys not revoked."""
        clients = self._all()
        users = list({c.user_id for c in clients if c.user_id})
        keys = list({c.api_key_id for c in clients if c.api_key_id})
        roles: dict[tuple[UUID, UUID], str] = {}
        if users:
            rows = await self.pool.fetch(
                """SELECT workspace_id, user_id, role FROM memberships
                   WHERE is_active AND user_id = ANY($1::uuid[])""",
                users,
            )
            roles = {(r["workspace_id"], r["user_id"]): r["role"] for r in rows}
        live_keys: set[UUID] = set()
        if keys:
            rows = await self.pool.fetch(
                "SELECT id FROM api_keys WHERE revoked_at IS NULL AND id = ANY($1::uuid[])", keys
            )
            live_keys = {r["id"] for r in rows}
        for client in clients:
            if client.user_id:
                role = roles.get((client.workspace_id, client.user_id))
                allowed = role is not None and (role == "vendor") == (client.vendor_id is not None)
            else:
                allowed = client.api_key_id in live_keys
            if not allowed:
                self.drop(client, "access changed")

    def drop(self, client: Client, reason: str, *, level: int = logging.INFO) -> None:
        """End the client's stream: what it has not read yet is replaced by the end."""
        log.log(level, "sse_client_dropped", client=client.id, reason=reason)
        self.remove(client)
        client.mailbox.replace_all(DROPPED)

    def remove(self, client: Client) -> None:
        clients = self._clients.get(client.workspace_id, {})
        if clients.pop(client.id, None) is not None:
            SSE_CLIENTS.dec()
        if not clients:
            self._clients.pop(client.workspace_id, None)

    # -- live events ------------------------------------------------------------------

    async def _on(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            event = await self._event(seq, msg.subject, msg.data)
        except Exception:
            log.exception("feed_event_unreadable", subject=msg.subject, seq=seq)
            event = None
        self.last_seq = max(self.last_seq, seq)
        if event is None:
            return
        workspace_id, feed_event = event
        for client in list(self._clients.get(workspace_id, {}).values()):
            if not client.may_see(feed_event):
                continue
            if not client.mailbox.offer(feed_event):
                self.drop(client, "slow", level=logging.WARNING)

    async def _event(self, seq: int, subject: str, data: bytes) -> tuple[UUID, FeedEvent] | None:
        address = s.parse(self.bus.prefix, subject)
        if address is None:
            return None
        payload = json.loads(data)
        classified = classify(address.path, payload)
        if classified is None:
            return None
        name, audience = classified
        vendors: frozenset[UUID] = frozenset()
        if audience.lead_id is not None:
            vendors = await self._vendors(audience.lead_id, address.path, payload)
        body = for_browsers(address.path, payload)
        return address.workspace_id, FeedEvent(seq, name, frame(name, body, seq), audience, vendors)

    async def _vendors(
        self, lead_id: UUID, path: str, payload: dict[str, object]
    ) -> frozenset[UUID]:
        """Who the lead is assigned to; an assignment event also reaches the one it left."""
        current = await self._assignee(lead_id)
        if path != s.LEAD_ASSIGNED.path:
            return frozenset({current} if current else ())
        new = payload.get("vendor_user_id")
        new_id = UUID(str(new)) if new else None
        self._remember(lead_id, new_id)
        return frozenset(v for v in (current, new_id) if v)

    async def _assignee(self, lead_id: UUID) -> UUID | None:
        if lead_id in self._assignees:
            self._assignees.move_to_end(lead_id)
            return self._assignees[lead_id]
        found: UUID | None = await self.pool.fetchval(
            "SELECT assigned_to FROM leads WHERE id = $1", lead_id
        )
        self._remember(lead_id, found)
        return found

    def _remember(self, lead_id: UUID, assignee: UUID | None) -> None:
        self._assignees[lead_id] = assignee
        self._assignees.move_to_end(lead_id)
        if len(self._assignees) > ASSIGNEE_CACHE_SIZE:
            self._assignees.popitem(last=False)

    # -- catching up ------------------------------------------------------------------

    async def missed(self, client: Client, after: int, upto: int, limit: int) -> list[FeedEvent]:
        """The client's events in (after, upto]; ResumeGapError if they cannot be had."""
        if after == upto:
            return []
        info = await self.bus.js.stream_info(self.feed)
        if after + 1 < info.state.first_seq or after > info.state.last_seq:
            raise ResumeGapError
        if after > upto:
            return []  # this replica lags a moment behind: its mailbox brings the rest
        # NATS 2.9 allows one filter per consumer, and only within one sourced stream's
        # subjects: one consumer per source, merged by FEED sequence.
        found: list[FeedEvent] = []
        for source in s.FEED_SOURCES:
            found += await self._missed_in(source, client, after, upto, limit - len(found))
        return sorted(found, key=lambda event: event.seq)

    async def _missed_in(
        self, source: s.Stream, client: Client, after: int, upto: int, limit: int
    ) -> list[FeedEvent]:
        psub = await self.bus.js.pull_subscribe(
            source.workspace_wildcard(self.bus.prefix, client.workspace_id),
            stream=self.feed,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=after + 1,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30,
                mem_storage=True,
            ),
        )
        consumer = await psub.consumer_info()
        found: list[FeedEvent] = []
        try:
            pending = consumer.num_pending or 0
            while pending > 0:
                for msg in await psub.fetch(min(pending, 500), timeout=5):
                    pending -= 1
                    seq = msg.metadata.sequence.stream
                    if seq > upto:
                        return found
                    event = await self._event(seq, msg.subject, msg.data)
                    if event is not None and client.may_see(event[1]):
                        found.append(event[1])
                        if len(found) > limit:
                            raise ResumeGapError
            return found
        finally:
            await psub.unsubscribe()
            with contextlib.suppress(Exception):
                await self.bus.js.delete_consumer(self.feed, consumer.name)
