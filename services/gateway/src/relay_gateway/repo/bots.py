"""SQL about bots and their features. Every query names the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from relay_common import provisioning
from relay_common.db import DbConn
from relay_gateway.repo import images

BOT_COLUMNS = """id, name, prompt, status, transport, phone_number, runtime_state,
    runtime_reason, runtime_qr, runtime_pair_code, banned_until, created_at"""

FEATURE_COLUMNS = (
    "auto_reply",
    "lead_capture",
    "required_lead_fields",
    "scheduling",
    "working_hours_enabled",
    "working_hours_start",
    "working_hours_end",
    "time_zone",
    "away_message",
    "debounce_ms",
    "assignment",
    "takeover_idle_s",
    "unclaimed_after_s",
    "ignored_numbers",
    "answer_groups",
    "faq",
    "history_size",
    "default_region",
    "pacing",
)
"""The settings an admin may change, in a fixed order (never taken from input)."""


async def list_bots(pool: asyncpg.Pool, workspace_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT {BOT_COLUMNS} FROM bots WHERE workspace_id = $1 ORDER BY created_at, id",
        workspace_id,
    )
    return [dict(r) for r in rows]


async def get_bot(
    conn: DbConn | asyncpg.Pool, workspace_id: UUID, bot_id: UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {BOT_COLUMNS} FROM bots WHERE workspace_id = $1 AND id = $2",
        workspace_id,
        bot_id,
    )
    return dict(row) if row else None


async def lock_bot(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> dict[str, Any] | None:
    """The bot, locked against concurrent changes until the transaction ends."""
    row = await conn.fetchrow(
        f"SELECT {BOT_COLUMNS} FROM bots WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE",
        workspace_id,
        bot_id,
    )
    return dict(row) if row else None


async def bot_transport(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> str | None:
    found: str | None = await pool.fetchval(
        "SELECT transport FROM bots WHERE workspace_id = $1 AND id = $2", workspace_id, bot_id
    )
    return found


async def bot_exists(conn: DbConn | asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM bots WHERE workspace_id = $1 AND id = $2)",
        workspace_id,
        bot_id,
    )
    return found


@dataclass(frozen=True)
class BotAllowance:
    bots: int
    limit: int

    @property
    def reached(self) -> bool:
        return self.bots >= self.limit


async def lock_bot_allowance(conn: DbConn, workspace_id: UUID) -> BotAllowance:
    """How many bots the workspace has and may have; holds the workspace row so two
    concurrent creations cannot both take the last free place."""
    limit: int | None = await conn.fetchval(
        """SELECT COALESCE(s.bot_limit, 1)
           FROM workspaces w LEFT JOIN subscriptions s ON s.workspace_id = w.id
           WHERE w.id = $1 FOR NO KEY UPDATE OF w""",
        workspace_id,
    )
    if limit is None:
        return BotAllowance(bots=0, limit=0)
    # A statement of its own: its snapshot, taken once we hold the lock, counts the bots
    # of whoever held it before us.
    bots: int = await conn.fetchval(
        "SELECT count(*) FROM bots WHERE workspace_id = $1", workspace_id
    )
    return BotAllowance(bots=bots, limit=limit)


async def create_bot(
    conn: DbConn, workspace_id: UUID, name: str, prompt: str, transport: str
) -> dict[str, Any]:
    bot_id = await provisioning.create_bot(
        conn, workspace_id, name, prompt=prompt, transport=transport
    )
    created = await get_bot(conn, workspace_id, bot_id)
    assert created is not None
    return created


async def update_bot(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, name: str, prompt: str, status: str
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""UPDATE bots SET name = $3, prompt = $4, status = $5, updated_at = now()
            WHERE workspace_id = $1 AND id = $2 RETURNING {BOT_COLUMNS}""",
        workspace_id,
        bot_id,
        name,
        prompt,
        status,
    )
    assert row is not None
    return dict(row)


async def delete_bot(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> None:
    """The bot and everything it owns; images' bytes too unless another bot uses them."""
    hashes = await images.lock_blobs_of_bot(conn, workspace_id, bot_id)
    await conn.execute("DELETE FROM bots WHERE workspace_id = $1 AND id = $2", workspace_id, bot_id)
    await images.drop_unused_blobs(conn, workspace_id, hashes)


async def lock_features(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> dict[str, Any] | None:
    """The bot's feature settings, locked; created with defaults if the row is missing."""
    await conn.execute(
        """INSERT INTO bot_features (bot_id, workspace_id)
           SELECT id, workspace_id FROM bots WHERE workspace_id = $1 AND id = $2
           ON CONFLICT (bot_id) DO NOTHING""",
        workspace_id,
        bot_id,
    )
    row = await conn.fetchrow(
        f"""SELECT {", ".join(FEATURE_COLUMNS)} FROM bot_features
            WHERE workspace_id = $1 AND bot_id = $2 FOR UPDATE""",
        workspace_id,
        bot_id,
    )
    return dict(row) if row else None


async def get_features(
    pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID
) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"""SELECT {", ".join(FEATURE_COLUMNS)} FROM bot_features
            WHERE workspace_id = $1 AND bot_id = $2""",
        workspace_id,
        bot_id,
    )
    return dict(row) if row else None


async def save_features(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, values: dict[str, Any]
) -> None:
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(FEATURE_COLUMNS, start=3))
    await conn.execute(
        f"""UPDATE bot_features SET {assignments}, updated_at = now()
            WHERE workspace_id = $1 AND bot_id = $2""",
        workspace_id,
        bot_id,
        *(values[c] for c in FEATURE_COLUMNS),
    )


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
