"""SQL of the lead service. Every statement is scoped by workspace id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from relay_common.db import DbConn


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
    conn: DbConn,
    *,
    workspace_id: UUID,
    bot_id: UUID,
    lead_id: UUID,
    whatsapp_message_id: str,
    origin: str,
    kind: str,
    body: str,
    media: dict[str, Any] | None,
    sent_by: UUID | None,
    is_history: bool,
    sent_at: datetime,
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
        whatsapp_message_id,
        origin,
        kind,
        body,
        media,
        sent_by,
        is_history,
        sent_at,
    )
    if inserted is not None:
        return StoredMessage(inserted, True)
    existing = await conn.fetchval(
        "SELECT id FROM lead_messages WHERE bot_id = $1 AND whatsapp_message_id = $2",
        bot_id,
        whatsapp_message_id,
    )
    return StoredMessage(existing, False)


async def bot_exists(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM bots WHERE workspace_id = $1 AND id = $2", workspace_id, bot_id
    )
    return found is not None
