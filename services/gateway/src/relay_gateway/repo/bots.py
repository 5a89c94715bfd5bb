"""SQL about bots. Every query names the workspace."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

BOT_COLUMNS = """id, name, status, transport, phone_number, runtime_state, runtime_reason,
    runtime_qr, runtime_pair_code, banned_until, created_at"""


async def list_bots(pool: asyncpg.Pool, workspace_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT {BOT_COLUMNS} FROM bots WHERE workspace_id = $1 ORDER BY created_at, id",
        workspace_id,
    )
    return [dict(r) for r in rows]


async def get_bot(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {BOT_COLUMNS} FROM bots WHERE workspace_id = $1 AND id = $2",
        workspace_id,
        bot_id,
    )
    return dict(row) if row else None


async def bot_transport(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> str | None:
    found: str | None = await pool.fetchval(
        "SELECT transport FROM bots WHERE workspace_id = $1 AND id = $2", workspace_id, bot_id
    )
    return found


async def conversation(
    pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID, chat_jid: str, limit: int
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT m.id, m.whatsapp_message_id, m.origin, m.kind, m.body AS text, m.sent_at
           FROM lead_messages m
           JOIN leads l ON l.workspace_id = m.workspace_id AND l.id = m.lead_id
           WHERE l.workspace_id = $1 AND l.bot_id = $2 AND l.chat_jid = $3
           ORDER BY m.sent_at DESC, m.stored_at DESC LIMIT $4""",
        workspace_id,
        bot_id,
        chat_jid,
        limit,
    )
    return [dict(r) for r in reversed(rows)]
