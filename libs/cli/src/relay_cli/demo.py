"""Demo data created on the first `relay up`: a workspace, its owner and one demo bot."""

from __future__ import annotations

import asyncpg

from relay_common.provisioning import create_bot, create_workspace

DEV_EMAIL = "dev@relay.local"
DEMO_PROMPT = (
    "You are the friendly assistant of Demo Store. Answer briefly, then ask for the "
    "customer's name and email so a salesperson can follow up."
)


async def ensure_demo(database_url: str) -> bool:
    """Create the demo workspace unless any workspace exists; True when it created it."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            # Two `relay up` racing on one database must not both seed it.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('relay-demo-seed'))")
            if await conn.fetchval("SELECT exists(SELECT 1 FROM workspaces)"):
                return False
            workspace = await create_workspace(conn, "Demo workspace", DEV_EMAIL)
            await create_bot(conn, workspace.workspace_id, "Demo bot", prompt=DEMO_PROMPT)
            return True
    finally:
        await conn.close()
