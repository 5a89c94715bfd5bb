"""Lead events delivered to per-workspace HTTPS webhooks, signed, retried, logged.

Each event becomes one delivery row per active webhook of its workspace (in the database,
so a restart loses nothing); a loop posts due deliveries, with exponential backoff, and
keeps the outcome of every attempt. The signature header is
``Relay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import asyncpg
import httpx
from pydantic import ConfigDict

from relay_common.bus import Delivery
from relay_common.contract import Envelope
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.pump import Pump

log = get_logger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_S = (5, 15, 60, 300, 900, 1800, 3600)


class AnyLeadEvent(Envelope):
    """Any lead event, kept whole: webhooks forward the payload as published."""

    model_config = ConfigDict(frozen=True, extra="allow")


def decode_lead_event(subject: str, data: bytes) -> AnyLeadEvent:
    address = s.parse(subject.split(".", 1)[0], subject)
    event = AnyLeadEvent.model_validate_json(data)
    return event.model_copy(update={"event_name": address.path if address else subject})


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_S[min(attempts - 1, len(BACKOFF_S) - 1)])


class Webhooks:
    def __init__(self, pool: asyncpg.Pool, *, allow_http: bool, poll_s: float = 1.0) -> None:
        self.pool = pool
        self.allow_http = allow_http
        self.poll_s = poll_s
        self._client = httpx.AsyncClient(timeout=10, follow_redirects=False)
        self._pump = Pump("webhooks", self.deliver_all_due, poll_s)

    async def on_lead_event(self, event: AnyLeadEvent, _: Delivery) -> None:
        payload = event.model_dump_json(exclude={"event_name"}).encode()
        name = str(getattr(event, "event_name", ""))
        inserted = await self.pool.fetchval(
            """WITH hooks AS (
                   SELECT id FROM webhooks WHERE workspace_id = $1 AND active
               ), added AS (
                   INSERT INTO webhook_deliveries (webhook_id, workspace_id, event_id, event,
                                                   payload)
                   SELECT id, $1, $2, $3, $4 FROM hooks
                   ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING 1
               ) SELECT count(*) FROM added""",
            event.workspace_id,
            event.event_id,
            name,
            payload,
        )
        if inserted:
            self._pump.kick()

    def start(self) -> None:
        self._pump.start()

    async def stop(self) -> None:
        await self._pump.stop()
        await self._client.aclose()

    async def deliver_all_due(self) -> None:
        while await self.deliver_due():
            pass

    async def deliver_due(self, batch: int = 20) -> int:
        """Attempt due deliveries once each; returns how many were attempted."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT d.id, d.event, d.event_id, d.payload, d.attempts, w.url, w.secret
                   FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                   WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                   ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED""",
                batch,
            )
            for row in rows:
                status, error = await self._post(row)
                attempts = row["attempts"] + 1
                if status is not None and 200 <= status < 300:
                    await conn.execute(
                        """UPDATE webhook_deliveries SET status = 'delivered', attempts = $2,
                               last_status = $3, last_error = NULL, delivered_at = now()
                           WHERE id = $1""",
                        row["id"],
                        attempts,
                        status,
                    )
                    continue
                final = attempts >= MAX_ATTEMPTS or error == "refused: not https"
                await conn.execute(
                    """UPDATE webhook_deliveries
                       SET status = $2, attempts = $3, last_status = $4, last_error = $5,
                           next_attempt_at = now() + $6::interval
                       WHERE id = $1""",
                    row["id"],
                    "failed" if final else "pending",
                    attempts,
                    status,
                    error,
                    backoff(attempts),
                )
        return len(rows)

    async def _post(self, row: asyncpg.Record) -> tuple[int | None, str | None]:
        url: str = row["url"]
        if not url.startswith("https://") and not self.allow_http:
            return None, "refused: not https"
        body = bytes(row["payload"])
        headers = {
            "Content-Type": "application/json",
            "Relay-Event": row["event"],
            "Relay-Event-Id": str(row["event_id"]),
            "Relay-Signature": signature(row["secret"], int(time.time()), body),
            "User-Agent": "Relay-Webhooks/1",
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        error = None if response.is_success else response.text[:500]
        return response.status_code, error
