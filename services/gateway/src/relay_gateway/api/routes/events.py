"""Live events of the caller's workspace over Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from relay_gateway.api.deps import ReaderDep, StateDep
from relay_gateway.browser_events import frame
from relay_gateway.errors import ApiError
from relay_gateway.events import DROPPED, HEARTBEAT, Client, EventHub, ResumeGapError
from relay_gateway.repo import snapshot
from relay_gateway.repo.principals import Principal

router = APIRouter(tags=["events"])

RECONNECT_MS = 2000


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
        history = await snapshot.lead_messages(state.pool, principal, lead_id)
        if history is None:
            raise ApiError(404, "No such lead.")
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
            yield frame("INIT", {"bots": await snapshot.bots(state.pool, principal)}, upto)
            leads = await snapshot.leads(state.pool, principal)
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
