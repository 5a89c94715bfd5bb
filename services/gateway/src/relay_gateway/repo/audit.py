"""The audit log: who did what to which thing, when. Written in the transaction of the
change itself, so the log never claims a change that did not happen."""

from __future__ import annotations

from typing import Any

from relay_common.db import DbConn
from relay_gateway.repo.principals import Principal


async def record(
    conn: DbConn,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (workspace_id, actor_user_id, actor_email, actor_api_key,
                                  action, target_type, target_id, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        principal.workspace_id,
        principal.user_id,
        principal.email,
        principal.api_key_id,
        action,
        target_type,
        None if target_id is None else str(target_id),
        details or {},
    )
