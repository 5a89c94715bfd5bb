"""Creating workspaces and bots with everything they need, in one place.

Used by the gateway's API, `relay up`'s demo data and the tests' factories.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from relay_common.db import DbConn
from relay_common.phone import device_jid_for_phone


@dataclass(frozen=True)
class NewWorkspace:
    workspace_id: UUID
    owner_id: UUID


async def create_workspace(conn: DbConn, name: str, owner_email: str) -> NewWorkspace:
    """A workspace on the free plan, owned by ``owner_email`` (created if new)."""
    async with conn.transaction():
        workspace_id: UUID = await conn.fetchval(
            "INSERT INTO workspaces (name) VALUES ($1) RETURNING id", name
        )
        owner_id: UUID = await conn.fetchval(
            """INSERT INTO users (email) VALUES ($1)
               ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id""",
            owner_email.lower(),
        )
        await conn.execute(
            "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')",
            workspace_id,
            owner_id,
        )
        await conn.execute("INSERT INTO subscriptions (workspace_id) VALUES ($1)", workspace_id)
    return NewWorkspace(workspace_id, owner_id)


async def create_bot(
    conn: DbConn,
    workspace_id: UUID,
    name: str,
    *,
    prompt: str = "",
    transport: str = "simulated",
    status: str = "enabled",
    linked: bool = True,
) -> UUID:
    """A bot with default features.

    A simulated bot is ``linked`` to a simulated number at once, so it can chat right
    away; with ``linked=False`` it shows a QR code for a simulated phone to scan.
    """
    async with conn.transaction():
        bot_id: UUID = await conn.fetchval(
            """INSERT INTO bots (workspace_id, name, prompt, transport, status)
               VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            workspace_id,
            name,
            prompt,
            transport,
            status,
        )
        await conn.execute(
            "INSERT INTO bot_features (bot_id, workspace_id) VALUES ($1, $2)", bot_id, workspace_id
        )
        if transport == "simulated" and linked:
            phone = simulated_number(bot_id)
            await conn.execute(
                """INSERT INTO bot_devices (bot_id, workspace_id, device_jid, phone_number)
                   VALUES ($1, $2, $3, $4)""",
                bot_id,
                workspace_id,
                device_jid_for_phone(phone),
                phone,
            )
            await conn.execute("UPDATE bots SET phone_number = $2 WHERE id = $1", bot_id, phone)
    return bot_id


def simulated_number(bot_id: UUID) -> str:
    """A stable fake number for a simulated bot (+1555 and ten digits)."""
    return f"+1555{bot_id.int % 10**10:010d}"


async def add_member(conn: DbConn, workspace_id: UUID, email: str, role: str = "vendor") -> UUID:
    """An active member of the workspace (the user is created if new); their user id."""
    async with conn.transaction():
        user_id: UUID = await conn.fetchval(
            """INSERT INTO users (email) VALUES ($1)
               ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id""",
            email.lower(),
        )
        await conn.execute(
            "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)",
            workspace_id,
            user_id,
            role,
        )
    return user_id
