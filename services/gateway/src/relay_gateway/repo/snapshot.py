"""What a browser gets when its event stream opens: the state the live events update."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from relay_gateway.qr import qr_data_url
from relay_gateway.repo.principals import Principal

INIT_LEADS_LIMIT = 200


async def bots(pool: asyncpg.Pool, principal: Principal) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT id, name, status, transport, phone_number, runtime_state, runtime_reason,
                  runtime_qr, runtime_pair_code, created_at
           FROM bots WHERE workspace_id = $1 ORDER BY created_at, id""",
        principal.workspace_id,
    )
    result = []
    for row in rows:
        bot = dict(row)
        qr, pair_code = bot.pop("runtime_qr"), bot.pop("runtime_pair_code")
        linking = bot["runtime_state"] == "linking" and not principal.is_vendor
        bot["qr_data_url"] = qr_data_url(qr) if qr and linking else None
        bot["pair_code"] = pair_code if linking else None
        result.append(bot)
    return result


async def leads(pool: asyncpg.Pool, principal: Principal) -> list[dict[str, Any]]:
    """Qualified leads (and later stages), newest first; a vendor's own only."""
    rows = await pool.fetch(
        """SELECT l.id, l.bot_id, l.name, l.email, l.phone, l.location, l.whatsapp_number,
                  l.status, l.assigned_to, u.email AS assigned_email, l.qualified_at,
                  l.last_message_at
           FROM leads l LEFT JOIN users u ON u.id = l.assigned_to
           WHERE l.workspace_id = $1 AND l.status <> 'capturing'
             AND ($2::uuid IS NULL OR l.assigned_to = $2)
           ORDER BY l.last_message_at DESC, l.id DESC LIMIT $3""",
        principal.workspace_id,
        principal.user_id if principal.is_vendor else None,
        INIT_LEADS_LIMIT,
    )
    return [dict(r) for r in rows]


async def lead_messages(
    pool: asyncpg.Pool, principal: Principal, lead_id: UUID
) -> list[dict[str, Any]] | None:
    """A lead's whole conversation, oldest first; None if the caller may not see it."""
    visible = await pool.fetchval(
        """SELECT true FROM leads WHERE workspace_id = $1 AND id = $2
           AND ($3::uuid IS NULL OR assigned_to = $3)""",
        principal.workspace_id,
        lead_id,
        principal.user_id if principal.is_vendor else None,
    )
    if not visible:
        return None
    rows = await pool.fetch(
        """SELECT id, whatsapp_message_id, origin, kind, body AS text, media, sent_by, sent_at
           FROM lead_messages WHERE workspace_id = $1 AND lead_id = $2
           ORDER BY sent_at, stored_at""",
        principal.workspace_id,
        lead_id,
    )
    return [dict(r) for r in rows]
