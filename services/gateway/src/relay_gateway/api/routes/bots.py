"""Bots of the signed-in workspace, and the simulator chat with a simulated bot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from relay_common.contract import (
    ControlAction,
    ControlBot,
    SimulatedCustomerWrote,
    SimulatedPhoneScanned,
)
from relay_common.phone import chat_jid_for_phone
from relay_gateway.api.deps import AdminDep, PrincipalDep, StateDep
from relay_gateway.errors import ApiError
from relay_gateway.qr import qr_data_url
from relay_gateway.repo import bots as repo

router = APIRouter(prefix="/bots", tags=["bots"])

PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"


class BotPublic(BaseModel):
    id: UUID
    name: str
    status: str
    transport: str
    phone_number: str | None
    runtime_state: str
    runtime_reason: str | None
    qr_data_url: str | None = Field(description="QR code to scan while linking (PNG).")
    pair_code: str | None = Field(description="Code to type on the phone while linking.")
    banned_until: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> BotPublic:
        qr = row.pop("runtime_qr")
        linking = row["runtime_state"] == "linking"
        return cls(
            **row,
            qr_data_url=qr_data_url(qr) if qr and linking else None,
            pair_code=row.pop("runtime_pair_code") if linking else None,
        )


@router.get("", operation_id="list_bots", response_model=list[BotPublic])
async def list_bots(principal: PrincipalDep, state: StateDep) -> list[BotPublic]:
    rows = await repo.list_bots(state.pool, principal.workspace_id)
    return [BotPublic.from_row(row) for row in rows]


@router.get("/{bot_id}", operation_id="get_bot", response_model=BotPublic)
async def get_bot(bot_id: UUID, principal: PrincipalDep, state: StateDep) -> BotPublic:
    row = await repo.get_bot(state.pool, principal.workspace_id, bot_id)
    if row is None:
        raise ApiError(404, "No such bot.")
    return BotPublic.from_row(row)


class SessionActionCreate(BaseModel):
    phone_number: str | None = Field(
        default=None,
        pattern=PHONE_PATTERN,
        description="relink only: link by pairing code for this number instead of a QR.",
    )


class Accepted(BaseModel):
    command_id: UUID


@router.post(
    "/{bot_id}/session/{action}",
    operation_id="control_bot_session",
    status_code=202,
    response_model=Accepted,
)
async def control_session(
    bot_id: UUID,
    action: ControlAction,
    principal: AdminDep,
    state: StateDep,
    body: SessionActionCreate | None = None,
) -> Accepted:
    """Pause, resume, relink (new QR or pairing code), log out or restart a bot's session.

    The session worker holding the bot carries it out; the new state arrives on the event
    stream as ``session.state.v1``.
    """
    if await repo.bot_transport(state.pool, principal.workspace_id, bot_id) is None:
        raise ApiError(404, "No such bot.")
    phone = body.phone_number if body else None
    if phone and action is not ControlAction.RELINK:
        raise ApiError(422, "A phone number only goes with relink.")
    command = ControlBot(
        workspace_id=principal.workspace_id, bot_id=bot_id, action=action, phone_number=phone
    )
    await state.bus.publish(command)
    return Accepted(command_id=command.event_id)


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


class SimulatedScanCreate(BaseModel):
    phone_number: str = Field(pattern=PHONE_PATTERN, examples=["+15550009999"])


@router.post(
    "/{bot_id}/simulator/scan",
    operation_id="scan_simulated_qr",
    status_code=202,
    response_model=Accepted,
)
async def scan_simulated_qr(
    bot_id: UUID, body: SimulatedScanCreate, principal: AdminDep, state: StateDep
) -> Accepted:
    """Scan the bot's current QR code with a simulated phone, linking it to that number."""
    await _simulated_bot(state, principal, bot_id)
    bot = await repo.get_bot(state.pool, principal.workspace_id, bot_id)
    if bot is None or bot["runtime_state"] != "linking" or not bot["runtime_qr"]:
        raise ApiError(409, "The bot shows no QR code: relink it first.")
    scan = SimulatedPhoneScanned(
        workspace_id=principal.workspace_id,
        bot_id=bot_id,
        qr_code=bot["runtime_qr"],
        phone_number=body.phone_number,
    )
    await state.bus.publish(scan)
    return Accepted(command_id=scan.event_id)


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
