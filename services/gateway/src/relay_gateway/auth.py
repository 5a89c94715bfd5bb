"""Session tokens: a JWT naming the user, the workspace and a CSRF secret.

Keys have ids (``kid``, derived from the key) so they can rotate: tokens signed with a
previous key stay valid until they expire. Roles are never in the token: they are read
from the database on each request, so a deactivated user is refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

COOKIE = "relay_session"
CSRF_COOKIE = "relay_csrf"
CSRF_HEADER = "X-CSRF-Token"
ALGORITHM = "HS256"
MIN_KEY_BYTES = 32
"""RFC 7518: an HS256 key has at least as many bits as the hash (256)."""


def key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Session:
    user_id: UUID
    workspace_id: UUID | None
    csrf: str


class KeyRing:
    """The current signing key and the earlier ones still accepted."""

    def __init__(self, current: str, previous: list[str] | None = None) -> None:
        for key in [current, *(previous or [])]:
            if len(key.encode()) < MIN_KEY_BYTES:
                raise ValueError(
                    f"signing keys need at least {MIN_KEY_BYTES} bytes "
                    "(make one with: openssl rand -hex 32)"
                )
        self.current_kid = key_id(current)
        self._keys = {key_id(k): k for k in [*(previous or []), current] if k}

    def issue(
        self, user_id: UUID, email: str, workspace_id: UUID | None, days: int
    ) -> tuple[str, str]:
        """A new token and its CSRF secret."""
        now = datetime.now(UTC)
        csrf = secrets.token_urlsafe(24)
        claims: dict[str, object] = {
            "sub": str(user_id),
            "email": email,
            "csrf": csrf,
            "iat": now,
            "exp": now + timedelta(days=days),
        }
        if workspace_id is not None:
            claims["ws"] = str(workspace_id)
        token = jwt.encode(
            claims,
            self._keys[self.current_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.current_kid},
        )
        return token, csrf

    def read(self, token: str) -> Session | None:
        """The session of a valid token; None for a tampered, unknown-key or expired one."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "csrf"]}
            )
            workspace = claims.get("ws")
            return Session(
                UUID(str(claims["sub"])),
                UUID(str(workspace)) if workspace else None,
                str(claims["csrf"]),
            )
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None
