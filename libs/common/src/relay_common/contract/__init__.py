"""The bus contract: every subject (``subjects``) and every payload, versioned."""

from relay_common.contract.commands import (
    BOT_COMMANDS,
    ControlAction,
    ControlBot,
    SendMessage,
    SetPresence,
)
from relay_common.contract.envelope import Envelope
from relay_common.contract.leads import (
    FieldChange,
    FoundValue,
    LeadAssigned,
    LeadCreated,
    LeadDetailsFound,
    LeadMessageRecorded,
    LeadQualified,
    LeadStatus,
    LeadStatusChanged,
    LeadUpdated,
)
from relay_common.contract.messages import (
    Media,
    MessageKind,
    MessageReceiptReceived,
    MessageReceived,
    MessageSent,
    Origin,
    ReceiptKind,
)
from relay_common.contract.sessions import SessionState, SessionStateChanged
from relay_common.contract.simnet import (
    SimulatedCustomerWrote,
    SimulatedDelivery,
    SimulatedPhoneScanned,
)

ALL_MESSAGES: tuple[type[Envelope], ...] = (
    MessageReceived,
    MessageSent,
    MessageReceiptReceived,
    SendMessage,
    ControlBot,
    SetPresence,
    SessionStateChanged,
    LeadCreated,
    LeadMessageRecorded,
    LeadUpdated,
    LeadQualified,
    LeadAssigned,
    LeadStatusChanged,
    LeadDetailsFound,
    SimulatedCustomerWrote,
    SimulatedDelivery,
    SimulatedPhoneScanned,
)

__all__ = [
    "ALL_MESSAGES",
    "BOT_COMMANDS",
    "ControlAction",
    "ControlBot",
    "Envelope",
    "FieldChange",
    "FoundValue",
    "LeadAssigned",
    "LeadCreated",
    "LeadDetailsFound",
    "LeadMessageRecorded",
    "LeadQualified",
    "LeadStatus",
    "LeadStatusChanged",
    "LeadUpdated",
    "Media",
    "MessageKind",
    "MessageReceiptReceived",
    "MessageReceived",
    "MessageSent",
    "Origin",
    "ReceiptKind",
    "SendMessage",
    "SessionState",
    "SessionStateChanged",
    "SetPresence",
    "SimulatedCustomerWrote",
    "SimulatedDelivery",
    "SimulatedPhoneScanned",
]
