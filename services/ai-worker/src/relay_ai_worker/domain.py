"""Pure rules of the AI worker: when to answer, working hours, keyword images, ids."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from relay_common.contract import LeadMessageRecorded, Origin

_NAMESPACE = UUID("5b0f3a4e-2f55-4c1e-9d5c-1f1e4c2a7b10")


def reply_command_id(bot_id: UUID, whatsapp_message_id: str) -> UUID:
    """The send command answering one customer message: the same on every redelivery."""
    return uuid5(_NAMESPACE, f"{bot_id}:{whatsapp_message_id}")


def away_command_id(bot_id: UUID, lead_id: UUID, closed_period: str) -> UUID:
    """One away message per conversation per closed period, however often it is decided."""
    return uuid5(_NAMESPACE, f"{bot_id}:{lead_id}:away:{closed_period}")


def image_command_id(bot_id: UUID, lead_id: UUID, image_sha256: str) -> UUID:
    """Each image at most once per conversation: a second send reuses the first's id."""
    return uuid5(_NAMESPACE, f"{bot_id}:{lead_id}:image:{image_sha256}")


def should_answer(message: LeadMessageRecorded, *, bot_status: str, auto_reply: bool) -> bool:
    return (
        message.origin is Origin.CUSTOMER
        and message.needs_reply
        and bot_status == "enabled"
        and auto_reply
    )


def ignored_chat(chat_jid: str, *, answer_groups: bool, ignored_numbers: Sequence[str]) -> bool:
    """Group chats, status broadcasts and listed numbers get no automatic answer."""
    if chat_jid == "status@broadcast" or chat_jid.endswith("@broadcast"):
        return True
    if chat_jid.endswith("@g.us") and not answer_groups:
        return True
    digits = chat_jid.split("@", 1)[0].split(":", 1)[0]
    return any(digits == n.lstrip("+") for n in ignored_numbers)


def human_in_charge(human_active_at: datetime | None, idle_s: int, now: datetime) -> bool:
    """A vendor or the phone's owner wrote recently: the bot keeps quiet."""
    return human_active_at is not None and now - human_active_at < timedelta(seconds=idle_s)


@dataclass(frozen=True)
class WorkingHours:
    start: time
    end: time
    zone: str

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.zone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # opens in the evening, past midnight

    def closed_period(self, now: datetime) -> str:
        """Names the closed period ``now`` falls in: the local date and time it reopens."""
        zone = ZoneInfo(self.zone)
        local = now.astimezone(zone)
        reopening = datetime.combine(local.date(), self.start, tzinfo=zone)
        if reopening <= local:
            reopening += timedelta(days=1)
        return reopening.isoformat()


def _fold(text: str) -> str:
    """Lower case without accents: "Menú" and "menu" match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def keyword_matches(keywords: Iterable[str], texts: Iterable[str]) -> bool:
    """Any keyword present as whole words, case and accent insensitive."""
    haystack = " ".join(_fold(t) for t in texts)
    for keyword in keywords:
        words = _fold(keyword).split()
        if not words:
            continue
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
        if re.search(pattern, haystack):
            return True
    return False


SPANISH_HINTS = frozenset(
    [
        "hola",
        "gracias",
        "quiero",
        "quisiera",
        "precio",
        "precios",
        "cuanto",
        "cuánto",
        "tienen",
        "busco",
        "necesito",
        "buenas",
        "dias",
        "días",
        "tardes",
        "noches",
        "me",
        "llamo",
        "soy",
        "vivo",
        "en",
        "por",
        "favor",
        "correo",
        "telefono",
        "teléfono",
        "informacion",
        "información",
        "donde",
        "dónde",
        "como",
        "cómo",
        "estoy",
        "puedo",
    ]
)


def guess_language(texts: Iterable[str]) -> str:
    """'es' or 'en', enough to answer in the customer's language without a model."""
    words = re.findall(r"[\wáéíóúñü]+", " ".join(texts).casefold())
    spanish = sum(1 for w in words if w in SPANISH_HINTS)
    return "es" if spanish >= 1 and spanish * 5 >= len(words) * 0.5 else "en"


def missing_fields(values: dict[str, str | None], required: Sequence[str]) -> list[str]:
    """Required fields still unknown, in the order a salesperson would ask."""
    missing: list[str] = []
    for need in required:
        if need == "phone_or_email":
            if not (values.get("phone") or values.get("email")):
                missing.append("email")
        elif not values.get(need):
            missing.append(need)
    return missing
