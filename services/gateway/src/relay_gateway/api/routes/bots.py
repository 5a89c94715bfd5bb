"""Bots of the signed-in workspace, and the simulator chat with a simulated bot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from relay_common.contract import SimulatedCustomerWrote
from relay_common.phone import chat_jid_for_phone
from relay_gateway import repo
from relay_gateway.api.deps import PrincipalDep, StateDep
from relay_gateway.errors import ApiError

router = APIRouter(prefix="/bots", tags=["bots"])

PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"


class BotPublic(BaseModel):
    id: UUID
    name: str
    status: str
    transport: str
    runtime_state: str
    runtime_reason: str | None
    created_at: datetime


@router.get("", operation_id="list_bots", response_model=list[BotPublic])
async def list_bots(principal: PrincipalDep, state: StateDep) -> list[BotPublic]:
    return [BotPublic(**row) for row in await repo.list_bots(state.pool, principal.workspace_id)]


class SimulatedMessageCreate(BaseModel):
    customer_phone: str = Field(pattern=PHONE_PATTERN, examples=["+34600111222"])
    text: str = Field(min_length=1, max_length=4096)
    push_name: str | None = Field(default=None, max_length=100)


class SimulatedMessageAccepted(BaseModel):
    whatsapp_message_id: str


class ConversationMessage(BaseModel):
    id: UUID
    whatsapp_message_id: str
    origin: str
    kind: str
    text: str
    sent_at: datetime


async def _simulated_bot(state: StateDep, principal: PrincipalDep, bot_id: UUID) -> None:
    transport = await repo.bot_transport(state.pool, principal.workspace_id, bot_id)
    if transport is None:
        raise ApiError(404, "No such bot.")
    if transport != "simulated":
        raise ApiError(409, "Only bots on the simulated network have a simulator.")


@router.post(
    "/{bot_id}/simulator/messages",
    operation_id="send_simulated_message",
    status_code=202,
    response_model=SimulatedMessageAccepted,
)
async def send_simulated_message(
    bot_id: UUID, body: SimulatedMessageCreate, principal: PrincipalDep, state: StateDep
) -> SimulatedMessageAccepted:
    """Write to the bot as a simulated customer; the answer arrives on the event stream."""
    await _simulated_bot(state, principal, bot_id)
    message_id = "SIM" + uuid4().hex.upper()
    await state.bus.publish(
        SimulatedCustomerWrote(
            workspace_id=principal.workspace_id,
            bot_id=bot_id,
            customer_phone=body.customer_phone,
            whatsapp_message_id=message_id,
            push_name=body.push_name,
            text=body.text,
            sent_at=datetime.now(UTC),
        )
    )
    return SimulatedMessageAccepted(whatsapp_message_id=message_id)


@router.get(
    "/{bot_id}/simulator/messages",
    operation_id="list_simulated_messages",
    response_model=list[ConversationMessage],
)
async def list_simulated_messages(
    bot_id: UUID,
    principal: PrincipalDep,
    state: StateDep,
    customer_phone: Annotated[str, Query(pattern=PHONE_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConversationMessage]:
    """The simulated customer's conversation with the bot, oldest first."""
    await _simulated_bot(state, principal, bot_id)
    rows = await repo.conversation(
        state.pool, principal.workspace_id, bot_id, chat_jid_for_phone(customer_phone), limit
    )
    return [ConversationMessage(**row) for row in rows]
