"""Session cookies: a signed JWT naming the user; roles are read from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

COOKIE = "relay_session"
ALGORITHM = "HS256"


def issue_token(secret: str, user_id: UUID, email: str, days: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "email": email, "iat": now, "exp": now + timedelta(days=days)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> UUID | None:
    """The user id of a valid token; None for a missing, tampered or expired one."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
        return UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError):
        return None
