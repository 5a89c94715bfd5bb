"""Bus handlers of the lead service: store each message once, apply found lead details,
qualify and assign. Lead events go through the outbox, in the same transaction as the
change they describe, so each is published exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from relay_common.bus import Bus, Delivery, RejectMessage
from relay_common.contract import (
    FieldChange,
    LeadAssigned,
    LeadCreated,
    LeadDetailsFound,
    LeadMessageRecorded,
    LeadQualified,
    LeadStatus,
    LeadStatusChanged,
    LeadUpdated,
    MessageKind,
    MessageReceived,
    MessageSent,
    Origin,
)
from relay_common.db import DbConn
from relay_common.logging import get_logger
from relay_common.metrics import MESSAGES_STORED
from relay_common.outbox import OutboxRelay, stage
from relay_lead_service import repo
from relay_lead_service.domain import Incoming, merge, needs_reply, origin_of, qualified

log = get_logger(__name__)


class LeadHandlers:
    def __init__(self, bus: Bus, pool: asyncpg.Pool, outbox: OutboxRelay) -> None:
        self.bus = bus
        self.pool = pool
        self.outbox = outbox

    async def on_message_received(self, message: MessageReceived, _: Delivery) -> None:
        origin = origin_of(message)
        await self._record(
            message,
            Incoming(
                chat_jid=message.chat_jid,
                phone=message.sender_phone,
                whatsapp_message_id=message.whatsapp_message_id,
                origin=origin,
                kind=message.kind,
                text=message.text,
                media=message.media.model_dump() if message.media else None,
                sent_by=None,
                is_history=message.is_history,
                sent_at=message.sent_at,
                needs_reply=needs_reply(message),
                by_a_human=origin is Origin.PHONE and not message.is_history,
            ),
        )

    async def on_message_sent(self, message: MessageSent, _: Delivery) -> None:
        image = message.image_sha256
        await self._record(
            message,
            Incoming(
                chat_jid=message.chat_jid,
                phone=None,
                whatsapp_message_id=message.whatsapp_message_id,
                origin=message.origin,
                kind=MessageKind.IMAGE if image else MessageKind.TEXT,
                text=message.text,
                media={"sha256": image} if image else None,
                sent_by=message.sent_by_user_id,
                is_history=False,
                sent_at=message.sent_at,
                needs_reply=False,
                by_a_human=message.origin is Origin.VENDOR,
            ),
        )

    async def _record(self, cause: MessageReceived | MessageSent, incoming: Incoming) -> None:
        """Store a conversation message once, with its lead and its lead events."""
        ws, bot_id = cause.workspace_id, cause.bot_id
        async with self.pool.acquire() as conn, conn.transaction():
            if not await repo.bot_exists(conn, ws, bot_id):
                raise RejectMessage("unknown bot for this workspace")
            lead = await repo.get_or_create_lead(
                conn,
                workspace_id=ws,
                bot_id=bot_id,
                chat_jid=incoming.chat_jid,
                phone=incoming.phone,
                at=incoming.sent_at,
            )
            stored = await repo.store_message(conn, ws, bot_id, lead.id, incoming)
            if not stored.inserted:
                return  # a redelivery: its events were staged the first time
            if incoming.by_a_human:
                await repo.mark_human_active(conn, ws, lead.id)
            if lead.created:
                await stage(
                    conn,
                    self.bus.prefix,
                    cause.caused(
                        LeadCreated,
                        lead_id=lead.id,
                        chat_jid=incoming.chat_jid,
                        phone=lead.phone,
                        name=lead.name,
                        created_at=lead.created_at,
                    ),
                )
            await stage(
                conn,
                self.bus.prefix,
                cause.caused(
                    LeadMessageRecorded,
                    lead_id=lead.id,
                    chat_jid=incoming.chat_jid,
                    message_id=stored.id,
                    whatsapp_message_id=incoming.whatsapp_message_id,
                    origin=incoming.origin,
                    kind=incoming.kind,
                    text=incoming.text,
                    sent_at=incoming.sent_at,
                    is_history=incoming.is_history,
                    needs_reply=incoming.needs_reply,
                ),
            )
        MESSAGES_STORED.labels(incoming.origin.value).inc()
        self.outbox.kick()

    async def on_details_found(self, found: LeadDetailsFound, _: Delivery) -> None:
        ws, prefix = found.workspace_id, self.bus.prefix
        async with self.pool.acquire() as conn, conn.transaction():
            lead = await repo.lock_lead(conn, ws, found.lead_id)
            if lead is None:
                raise RejectMessage("unknown lead for this workspace")
            changes = merge(lead.known, found.found)
            if not changes:
                return
            await repo.apply_changes(conn, ws, lead.id, changes, found.message_id)
            values = lead.values | {c.field: c.new for c in changes}
            await stage(
                conn,
                prefix,
                found.caused(
                    LeadUpdated,
                    lead_id=lead.id,
                    changes=[
                        FieldChange(field=c.field, old=c.old, new=c.new, source=c.source)
                        for c in changes
                    ],
                    caused_by_message_id=found.message_id,
                    **values,
                ),
            )
            if lead.status == "capturing" and qualified(values, lead.required):
                await self._qualify(conn, found, lead, values)
        self.outbox.kick()

    async def _qualify(
        self,
        conn: DbConn,
        found: LeadDetailsFound,
        lead: repo.LeadForUpdate,
        values: dict[str, str | None],
    ) -> None:
        ws, prefix = found.workspace_id, self.bus.prefix
        at = await repo.qualify(conn, ws, lead.id)
        if at is None:
            return
        await stage(
            conn,
            prefix,
            found.caused(
                LeadQualified, lead_id=lead.id, chat_jid=lead.chat_jid, qualified_at=at, **values
            ),
        )
        await stage(
            conn,
            prefix,
            found.caused(
                LeadStatusChanged,
                lead_id=lead.id,
                status=LeadStatus.QUALIFIED,
                previous=LeadStatus.CAPTURING,
                at=at,
            ),
        )
        if lead.assignment != "round_robin":
            return
        vendor = await repo.next_vendor(conn, ws)
        if vendor is None:
            log.info("no_vendor_to_assign", lead_id=str(lead.id))
            return
        assigned_at = await repo.assign(conn, ws, lead.id, vendor)
        await stage(
            conn,
            prefix,
            found.caused(
                LeadAssigned,
                lead_id=lead.id,
                vendor_user_id=vendor.user_id,
                vendor_email=vendor.email,
                by="round_robin",
                at=assigned_at,
            ),
        )
        await stage(
            conn,
            prefix,
            found.caused(
                LeadStatusChanged,
                lead_id=lead.id,
                status=LeadStatus.ASSIGNED,
                previous=LeadStatus.QUALIFIED,
                at=assigned_at,
            ),
        )

    async def flag_unclaimed(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for lead in await repo.flag_unclaimed(conn):
                await stage(
                    conn,
                    self.bus.prefix,
                    LeadStatusChanged(
                        workspace_id=lead.workspace_id,
                        bot_id=lead.bot_id,
                        lead_id=lead.lead_id,
                        status=LeadStatus.QUALIFIED,
                        flag="unclaimed",
                        at=lead.at or datetime.now(UTC),
                    ),
                )
        self.outbox.kick()
