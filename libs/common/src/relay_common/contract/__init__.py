"""The bus contract: every subject (``subjects``) and every payload, versioned."""

from relay_common.contract.commands import SendMessage
from relay_common.contract.envelope import Envelope
from relay_common.contract.leads import LeadCreated, LeadMessageRecorded
from relay_common.contract.messages import Media, MessageKind, MessageReceived, MessageSent, Origin
from relay_common.contract.sessions import SessionState, SessionStateChanged
from relay_common.contract.simnet import SimulatedCustomerWrote, SimulatedDelivery

ALL_MESSAGES: tuple[type[Envelope], ...] = (
    MessageReceived,
    MessageSent,
    SendMessage,
    SessionStateChanged,
    LeadCreated,
    LeadMessageRecorded,
    SimulatedCustomerWrote,
    SimulatedDelivery,
)

__all__ = [
    "ALL_MESSAGES",
    "Envelope",
    "LeadCreated",
    "LeadMessageRecorded",
    "Media",
    "MessageKind",
    "MessageReceived",
    "MessageSent",
    "Origin",
    "SendMessage",
    "SessionState",
    "SessionStateChanged",
    "SimulatedCustomerWrote",
    "SimulatedDelivery",
]
