"""Who is calling: a signed-in user in one of their workspaces, or an API key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import asyncpg

ROLE_SCOPES = {
    "owner": frozenset({"read", "send", "manage"}),
    "admin": frozenset({"read", "send", "manage"}),
    "vendor": frozenset({"read", "send"}),
}


@dataclass(frozen=True)
class Principal:
    workspace_id: UUID
    workspace_name: str
    role: str
    """owner, admin or vendor; ``api_key`` for an integrator's key."""
    scopes: frozenset[str]
    user_id: UUID | None = None
    email: str | None = None
    api_key_id: UUID | None = None
    is_platform_admin: bool = False

    @property
    def is_vendor(self) -> bool:
        """Vendors see only the leads assigned to them."""
        return self.role == "vendor"

    @property
    def own_leads_only(self) -> UUID | None:
        """The user whose leads alone this caller may see (vendors); None: all of them."""
        return self.user_id if self.is_vendor else None

    @property
    def sees_secrets(self) -> bool:
        """Prompts, QR and pairing codes, settings: for whoever manages bots, never vendors."""
        return "manage" in self.scopes

    @property
    def actor(self) -> str:
        return self.email or f"api-key:{self.api_key_id}"


async def for_user(
    pool: asyncpg.Pool, user_id: UUID, workspace_id: UUID | None, admin_emails: frozenset[str]
) -> Principal | None:
    """The user in ``workspace_id`` (else their first workspace); None if unknown,
    deactivated there, or removed."""
    row = await pool.fetchrow(
        """SELECT u.id, u.email, w.id AS workspace_id, w.name AS workspace_name, m.role
           FROM users u
           JOIN memberships m ON m.user_id = u.id AND m.is_active
           JOIN workspaces w ON w.id = m.workspace_id
           WHERE u.id = $1 AND ($2::uuid IS NULL OR m.workspace_id = $2)
           ORDER BY m.created_at LIMIT 1""",
        user_id,
        workspace_id,
    )
    if row is None:
        return None
    return Principal(
        workspace_id=row["workspace_id"],
        workspace_name=row["workspace_name"],
        role=row["role"],
        scopes=ROLE_SCOPES[row["role"]],
        user_id=row["id"],
        email=row["email"],
        is_platform_admin=row["email"] in admin_emails,
    )


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def for_api_key(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The workspace of a live API key; None if unknown or revoked."""
    # last_used_at to the minute: a key used many times a second is written once a minute.
    row = await pool.fetchrow(
        """WITH k AS (
               SELECT id, workspace_id, scopes, last_used_at FROM api_keys
               WHERE key_hash = $1 AND revoked_at IS NULL),
           touched AS (
               UPDATE api_keys SET last_used_at = now()
               WHERE id = (SELECT id FROM k)
                 AND coalesce((SELECT last_used_at FROM k), '-infinity')
                     < now() - interval '1 minute')
           SELECT k.id, k.scopes, w.id AS workspace_id, w.name AS workspace_name
           FROM k JOIN workspaces w ON w.id = k.workspace_id""",
        hash_api_key(key),
    )
    if row is None:
        return None
    return Principal(
        workspace_id=row["workspace_id"],
        workspace_name=row["workspace_name"],
        role="api_key",
        scopes=frozenset(row["scopes"]),
        api_key_id=row["id"],
    )


async def user_id_by_email(pool: asyncpg.Pool, email: str) -> UUID | None:
    """A known user, marking the sign-in."""
    found: UUID | None = await pool.fetchval(
        "UPDATE users SET last_login_at = now() WHERE email = $1 RETURNING id", email.lower()
    )
    return found
