"""SQL of the lead service. Every statement is scoped by workspace id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from relay_common.db import DbConn
from relay_lead_service.domain import FIELDS, Change, Incoming, Known


@dataclass(frozen=True)
class LeadRow:
    id: UUID
    created: bool
    created_at: datetime
    phone: str | None
    name: str | None


@dataclass(frozen=True)
class StoredMessage:
    id: UUID
    inserted: bool
    """False when this WhatsApp message was already stored (a redelivery)."""


async def get_or_create_lead(
    conn: DbConn,
    *,
    workspace_id: UUID,
    bot_id: UUID,
    chat_jid: str,
    phone: str | None,
    at: datetime,
) -> LeadRow:
    row = await conn.fetchrow(
        """INSERT INTO leads (workspace_id, bot_id, chat_jid, whatsapp_number, phone,
                              last_message_at)
           VALUES ($1, $2, $3, $4, $4, $5)
           ON CONFLICT (bot_id, chat_jid) DO UPDATE
               SET last_message_at = GREATEST(leads.last_message_at, EXCLUDED.last_message_at)
           WHERE leads.workspace_id = EXCLUDED.workspace_id
           RETURNING id, (xmax = 0) AS created, created_at, phone, name""",
        workspace_id,
        bot_id,
        chat_jid,
        phone,
        at,
    )
    if row is None:
        raise LookupError(f"chat {chat_jid} of bot {bot_id} belongs to another workspace")
    return LeadRow(row["id"], row["created"], row["created_at"], row["phone"], row["name"])


async def store_message(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, lead_id: UUID, message: Incoming
) -> StoredMessage:
    inserted = await conn.fetchval(
        """INSERT INTO lead_messages (workspace_id, bot_id, lead_id, whatsapp_message_id, origin,
                                      kind, body, media, sent_by, is_history, sent_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (bot_id, whatsapp_message_id) DO NOTHING
           RETURNING id""",
        workspace_id,
        bot_id,
        lead_id,
        message.whatsapp_message_id,
        message.origin.value,
        message.kind.value,
        message.text.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
        message.media,
        message.sent_by,
        message.is_history,
        message.sent_at,
    )
    if inserted is not None:
        return StoredMessage(inserted, True)
    existing = await conn.fetchval(
        "SELECT id FROM lead_messages WHERE bot_id = $1 AND whatsapp_message_id = $2",
        bot_id,
        message.whatsapp_message_id,
    )
    return StoredMessage(existing, False)


async def bot_exists(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM bots WHERE workspace_id = $1 AND id = $2", workspace_id, bot_id
    )
    return found is not None


async def mark_human_active(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> None:
    """A person (vendor or the phone's owner) wrote: the bot stays quiet for a while."""
    await conn.execute(
        "UPDATE leads SET human_active_at = now() WHERE workspace_id = $1 AND id = $2",
        workspace_id,
        lead_id,
    )


@dataclass(frozen=True)
class LeadForUpdate:
    id: UUID
    chat_jid: str
    status: str
    assigned_to: UUID | None
    values: dict[str, str | None]
    known: dict[str, Known]
    required: list[str]
    assignment: str


async def lock_lead(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> LeadForUpdate | None:
    row = await conn.fetchrow(
        """SELECT l.id, l.chat_jid, l.status, l.assigned_to, l.name, l.email, l.phone,
                  l.location, l.field_sources, f.required_lead_fields, f.assignment
           FROM leads l JOIN bot_features f ON f.bot_id = l.bot_id
           WHERE l.workspace_id = $1 AND l.id = $2
           FOR UPDATE OF l""",
        workspace_id,
        lead_id,
    )
    if row is None:
        return None
    sources: dict[str, Any] = row["field_sources"] or {}
    values = {f: row[f] for f in FIELDS}
    known = {
        f: Known(values[f], float(sources.get(f, {}).get("confidence", 0.5)))
        for f in FIELDS
        if values[f]
    }
    return LeadForUpdate(
        row["id"],
        row["chat_jid"],
        row["status"],
        row["assigned_to"],
        values,
        known,
        list(row["required_lead_fields"]),
        row["assignment"],
    )


async def apply_changes(
    conn: DbConn, workspace_id: UUID, lead_id: UUID, changes: list[Change], message_id: UUID
) -> None:
    for change in changes:
        # Field names come from the contract's closed set (LeadField), never from input.
        await conn.execute(
            f"""UPDATE leads SET {change.field} = $3,
                   field_sources = field_sources || jsonb_build_object(
                       $4::text, jsonb_build_object('confidence', $5::real, 'source', $6::text,
                                                    'message_id', $7::text))
                WHERE workspace_id = $1 AND id = $2""",
            workspace_id,
            lead_id,
            change.new,
            change.field,
            change.confidence,
            change.source,
            str(message_id),
        )
        await conn.execute(
            """INSERT INTO lead_field_changes (workspace_id, lead_id, field, old_value,
                   new_value, confidence, source, message_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            workspace_id,
            lead_id,
            change.field,
            change.old,
            change.new,
            change.confidence,
            change.source,
            message_id,
        )


async def qualify(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> datetime | None:
    """Capturing -> qualified; the time when it happened now, None if it was not capturing."""
    at: datetime | None = await conn.fetchval(
        """UPDATE leads SET status = 'qualified', qualified_at = now()
           WHERE workspace_id = $1 AND id = $2 AND status = 'capturing'
           RETURNING qualified_at""",
        workspace_id,
        lead_id,
    )
    return at


@dataclass(frozen=True)
class Vendor:
    user_id: UUID
    email: str


async def next_vendor(conn: DbConn, workspace_id: UUID) -> Vendor | None:
    """Round robin: the active vendor who was given a lead longest ago (or never)."""
    row = await conn.fetchrow(
        """SELECT m.user_id, u.email FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.workspace_id = $1 AND m.role = 'vendor' AND m.is_active
           ORDER BY m.last_assigned_at NULLS FIRST, m.created_at, m.user_id
           LIMIT 1 FOR UPDATE OF m""",
        workspace_id,
    )
    return Vendor(row["user_id"], row["email"]) if row else None


async def assign(conn: DbConn, workspace_id: UUID, lead_id: UUID, vendor: Vendor) -> datetime:
    at: datetime = await conn.fetchval(
        """UPDATE leads SET status = 'assigned', assigned_to = $3, assigned_at = now(),
                            human_active_at = now()
           WHERE workspace_id = $1 AND id = $2 RETURNING assigned_at""",
        workspace_id,
        lead_id,
        vendor.user_id,
    )
    await conn.execute(
        """UPDATE memberships SET last_assigned_at = now()
           WHERE workspace_id = $1 AND user_id = $2""",
        workspace_id,
        vendor.user_id,
    )
    return at


@dataclass(frozen=True)
class Unclaimed:
    workspace_id: UUID
    bot_id: UUID
    lead_id: UUID
    at: datetime


async def flag_unclaimed(conn: DbConn) -> list[Unclaimed]:
    """Qualified leads nobody took within their bot's time: flagged once."""
    rows = await conn.fetch(
        """UPDATE leads l SET unclaimed_at = now()
           FROM bot_features f
           WHERE f.bot_id = l.bot_id AND l.status = 'qualified' AND l.assigned_to IS NULL
             AND l.unclaimed_at IS NULL
             AND l.qualified_at < now() - make_interval(secs => f.unclaimed_after_s)
           RETURNING l.workspace_id, l.bot_id, l.id, l.unclaimed_at"""
    )
    return [Unclaimed(r["workspace_id"], r["bot_id"], r["id"], r["unclaimed_at"]) for r in rows]
