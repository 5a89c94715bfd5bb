"""People who sign in with Google: finding them (by Google subject, else by the email
they were invited with), and giving newcomers a workspace of their own."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from relay_common.provisioning import create_workspace
from relay_gateway.oidc import Identity


class DeactivatedError(Exception):
    """The person is known but deactivated in every workspace they belong to."""


class LinkedElsewhereError(Exception):
    """The email belongs to a user already linked to another Google account."""


@dataclass(frozen=True)
class SignedIn:
    user_id: UUID
    email: str
    workspace_id: UUID | None
    """Their new workspace when one was just created; None: their first one."""


async def sign_in_with_google(pool: asyncpg.Pool, identity: Identity) -> SignedIn:
    async with pool.acquire() as conn, conn.transaction():
        # Two first sign-ins of the same person at once must not make two workspaces.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('google-sign-in:' || $1))", identity.email
        )
        user = await conn.fetchrow(
            """SELECT id, email, google_sub FROM users
               WHERE google_sub = $1 OR email = $2
               ORDER BY google_sub = $1 DESC NULLS LAST LIMIT 1""",
            identity.subject,
            identity.email,
        )
        if user is not None and user["google_sub"] not in (None, identity.subject):
            raise LinkedElsewhereError(identity.email)
        # A user found by subject keeps the email they were invited with.
        email: str = identity.email if user is None else user["email"]
        counts = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE is_active) AS active, count(*) AS total
               FROM memberships WHERE user_id = $1""",
            None if user is None else user["id"],
        )
        active, total = (counts["active"], counts["total"]) if counts else (0, 0)
        if total and not active:
            raise DeactivatedError(email)
        new_workspace: UUID | None = None
        if total:
            assert user is not None
            user_id: UUID = user["id"]
        else:
            # Self-serve sign-up: a newcomer (or someone removed from every workspace)
            # starts with a workspace of their own.
            owner_name = (identity.name or email.split("@", 1)[0])[:100]
            created = await create_workspace(conn, f"{owner_name}'s workspace", email)
            user_id, new_workspace = created.owner_id, created.workspace_id
        await conn.execute(
            """UPDATE users SET google_sub = $2, name = coalesce($3, name), picture_url = $4,
                                last_login_at = now()
               WHERE id = $1""",
            user_id,
            identity.subject,
            identity.name,
            identity.picture_url,
        )
    return SignedIn(user_id, email, new_workspace)
