"""Live events of the signed-in workspace over Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from relay_gateway.api.deps import PrincipalDep, StateDep

router = APIRouter(tags=["events"])


@router.get(
    "/events",
    operation_id="stream_events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream"}},
)
async def stream_events(principal: PrincipalDep, state: StateDep) -> EventSourceResponse:
    """Events named by subject (``lead.message.v1``...), data is the bus payload (JSON)."""
    client = state.hub.add(principal.workspace_id)

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {
                "event": "CONNECTED",
                "data": json.dumps({"client_id": client.id, "role": principal.role}),
            }
            while not client.dropped.is_set():
                getter = asyncio.ensure_future(client.queue.get())
                dropped = asyncio.ensure_future(client.dropped.wait())
                done, pending = await asyncio.wait(
                    {getter, dropped}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                if getter in done:
                    event = getter.result()
                    yield {"event": event.name, "data": event.data}
        finally:
            state.hub.remove(client)

    return EventSourceResponse(events(), ping=int(state.settings.sse_heartbeat_s))
