"""Live events of the caller's workspace over Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from relay_gateway.api.deps import ReaderDep, StateDep
from relay_gateway.api.routes.bots import BotPublic
from relay_gateway.api.routes.leads import LeadMessagePublic, LeadPublic
from relay_gateway.browser_events import frame
from relay_gateway.errors import ApiError
from relay_gateway.events import DROPPED, HEARTBEAT, Client, EventHub, ResumeGapError
from relay_gateway.repo import bots as bots_repo
from relay_gateway.repo import leads as leads_repo
from relay_gateway.repo.principals import Principal

router = APIRouter(tags=["events"])

RECONNECT_MS = 2000
INIT_LEADS_LIMIT = 200
FOLLOWED_STATUSES = ("qualified", "assigned", "won", "lost")
"""INIT_LEADS holds leads past capturing: the ones people work on."""


@router.get(
    "/events",
    operation_id="stream_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream"}},
)
async def stream_events(
    principal: ReaderDep,
    state: StateDep,
    last_event_id: Annotated[
        int | None, Header(ge=0, description="Sent by browsers when they reconnect.")
    ] = None,
    resume_after: Annotated[
        int | None, Query(ge=0, description="Like Last-Event-ID, for clients without headers.")
    ] = None,
    lead_id: Annotated[
        UUID | None, Query(description="Also send this lead's history (LEAD_MESSAGES).")
    ] = None,
) -> StreamingResponse:
    """The workspace's live events, as the caller's role may see them.

    A new stream starts with ``CONNECTED``, ``INIT`` (bots) and ``INIT_LEADS``; each
    event after that has an id, and a stream opened with ``Last-Event-ID`` continues
    right after that event, with no gap and no repeat. If the id is too old, the stream
    starts afresh with ``INIT``. Vendors get only their own leads' events and no QR codes.
    A comment line every ``GATEWAY_SSE_HEARTBEAT_S`` keeps proxies from closing it.
    """
    history = None
    if lead_id is not None:
        history = await _history(state, principal, lead_id)
    hub = state.hub
    client = hub.add(principal)
    resume = last_event_id if last_event_id is not None else resume_after
    events = _events(hub, client, principal, state, resume, lead_id, history)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    hub: EventHub,
    client: Client,
    principal: Principal,
    state: StateDep,
    resume: int | None,
    lead_id: UUID | None,
    history: list[dict[str, object]] | None,
) -> AsyncIterator[bytes]:
    try:
        upto = hub.last_seq  # every later event reaches the client's mailbox
        yield f"retry: {RECONNECT_MS}\n".encode()
        yield frame("CONNECTED", {"client_id": client.id, "role": principal.role})
        sent = upto
        fresh = resume is None
        if not fresh:
            assert resume is not None
            try:
                missed = await hub.missed(client, resume, upto, state.settings.sse_replay_limit)
                for event in missed:
                    yield event.frame
                sent = max(upto, resume)
            except ResumeGapError:
                fresh = True
        if fresh:
            bots, leads = await _snapshot(state, principal)
            yield frame("INIT", {"bots": bots}, upto)
            yield frame("INIT_LEADS", {"leads": leads}, upto)
        if history is not None:
            yield frame("LEAD_MESSAGES", {"lead_id": lead_id, "messages": history}, upto)
        while True:
            # Everything that arrived since the last write goes out in one write.
            chunk = []
            for event in await client.mailbox.take_all():
                if event is DROPPED:
                    return
                if event is HEARTBEAT:
                    chunk.append(HEARTBEAT.frame)
                elif event.seq > sent:
                    sent = event.seq
                    chunk.append(event.frame)
            if chunk:
                yield b"".join(chunk)
    finally:
        hub.remove(client)


async def _snapshot(
    state: StateDep, principal: Principal
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The bots and the followed leads, as ``GET /bots`` and ``GET /leads`` show them."""
    rows = await bots_repo.list_bots(state.pool, principal.workspace_id)
    bots = [BotPublic.from_row(row, principal).model_dump(mode="json") for row in rows]
    query = leads_repo.LeadQuery(
        principal.workspace_id,
        vendor_id=principal.own_leads_only,
        statuses=FOLLOWED_STATUSES,
    )
    async with state.pool.acquire() as conn:
        lead_rows = await leads_repo.list_leads(conn, query, None, INIT_LEADS_LIMIT)
    leads = [LeadPublic.from_row(row).model_dump(mode="json") for row in lead_rows]
    return bots, leads


async def _history(state: StateDep, principal: Principal, lead_id: UUID) -> list[dict[str, object]]:
    """A lead's whole conversation, as ``GET /leads/{id}`` shows it; 404 if not visible."""
    ws = principal.workspace_id
    async with state.pool.acquire() as conn:
        if not await leads_repo.is_visible(conn, ws, lead_id, principal.own_leads_only):
            raise ApiError(404, "No such lead.")
        rows = await leads_repo.messages(conn, ws, lead_id)
    return [LeadMessagePublic(**row).model_dump(mode="json") for row in rows]
