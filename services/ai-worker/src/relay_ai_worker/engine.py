"""Reply engines: a language model when a key is configured, else the local engine.

The local engine keeps the product useful offline: it greets, answers from the bot's FAQ,
asks for one missing lead field at a time and confirms what it captured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from relay_ai_worker.domain import guess_language
from relay_ai_worker.providers import ChatMessage, ChatModel, Completion

FIELD_LABELS = {
    "en": {
        "name": "your name",
        "email": "your email",
        "phone": "a phone number",
        "location": "your city",
    },
    "es": {
        "name": "tu nombre",
        "email": "tu correo",
        "phone": "un teléfono",
        "location": "tu ciudad",
    },
}


@dataclass(frozen=True)
class Turn:
    origin: str
    text: str


@dataclass(frozen=True)
class Conversation:
    bot_name: str
    prompt: str
    history: list[Turn]
    """Oldest first, the customer's latest burst last."""
    burst: list[str]
    """The customer messages this reply answers."""
    values: dict[str, str | None]
    captured_now: dict[str, str] = field(default_factory=dict)
    """Fields found in this burst: the reply confirms them."""
    missing: list[str] = field(default_factory=list)
    faq: list[dict[str, str]] = field(default_factory=list)

    @property
    def first_contact(self) -> bool:
        return not any(t.origin != "customer" for t in self.history)


@dataclass(frozen=True)
class Reply:
    text: str
    engine: str
    usage: Completion | None = None


class ReplyEngine(Protocol):
    name: str

    async def reply(self, conversation: Conversation) -> Reply: ...


def _tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if len(w) > 2}


def faq_answer(faq: list[dict[str, str]], texts: list[str]) -> str | None:
    """The FAQ answer whose question shares most words with the customer's words."""
    said = _tokens(" ".join(texts))
    best, best_score = None, 0.0
    for entry in faq:
        asked = _tokens(entry.get("q", ""))
        if not asked or not entry.get("a"):
            continue
        score = len(asked & said) / len(asked)
        if score > best_score:
            best, best_score = entry["a"], score
    return best if best_score >= 0.5 else None


class LocalReplyEngine:
    name = "local"

    async def reply(self, conversation: Conversation) -> Reply:
        lang = guess_language(conversation.burst)
        labels = FIELD_LABELS[lang]
        parts: list[str] = []
        name = conversation.values.get("name")
        if conversation.first_contact:
            parts.append(
                f"¡Hola! Soy el asistente de {conversation.bot_name}."
                if lang == "es"
                else f"Hi! This is {conversation.bot_name}'s assistant."
            )
        if conversation.captured_now:
            noted = ", ".join(conversation.captured_now.values())
            who = f", {name}" if name else ""
            parts.append(
                f"¡Gracias{who}! He anotado: {noted}."
                if lang == "es"
                else f"Thanks{who}! I've noted: {noted}."
            )
        answer = faq_answer(conversation.faq, conversation.burst)
        if answer:
            parts.append(answer)
        if conversation.missing:
            wanted = labels[conversation.missing[0]]
            parts.append(
                f"Para que un asesor te contacte, ¿me dices {wanted}?"
                if lang == "es"
                else f"So that one of our team can follow up, could you tell me {wanted}?"
            )
        elif not conversation.captured_now and not answer:
            parts.append(
                "Gracias por tu mensaje; un asesor te responderá enseguida."
                if lang == "es"
                else "Thanks for your message; someone from our team will reply shortly."
            )
        elif conversation.captured_now:
            parts.append(
                "Perfecto, un asesor te contactará pronto."
                if lang == "es"
                else "Perfect, someone from our team will contact you soon."
            )
        return Reply(" ".join(parts), self.name)


FALLBACK = {
    "en": "Thanks for your message! We'll get back to you shortly.",
    "es": "¡Gracias por tu mensaje! Te responderemos enseguida.",
}


class ModelReplyEngine:
    """Asks the language model, with the bot's prompt, the conversation and the lead."""

    name = "model"

    def __init__(self, model: ChatModel, max_tokens: int = 400) -> None:
        self.model = model
        self.max_tokens = max_tokens

    def messages(self, conversation: Conversation) -> list[ChatMessage]:
        known = ", ".join(f"{k}: {v}" for k, v in conversation.values.items() if v) or "nothing yet"
        missing = ", ".join(conversation.missing) or "nothing"
        system = (
            f"{conversation.prompt}\n\nYou are {conversation.bot_name}'s WhatsApp assistant. "
            "Answer briefly and naturally in the customer's language. "
            f"Known about the customer: {known}. Still missing: {missing}; "
            "ask for at most one missing detail per message, politely."
        )
        if conversation.faq:
            system += "\nFAQ:\n" + "\n".join(
                f"Q: {e.get('q')}\nA: {e.get('a')}" for e in conversation.faq
            )
        chat = [ChatMessage("system", system)]
        for turn in conversation.history:
            chat.append(
                ChatMessage("user" if turn.origin == "customer" else "assistant", turn.text)
            )
        return chat

    async def reply(self, conversation: Conversation) -> Reply:
        completion = await self.model.complete(
            self.messages(conversation), max_tokens=self.max_tokens
        )
        text = completion.text.strip()
        if not text:
            text = FALLBACK[guess_language(conversation.burst)]
        return Reply(text, self.name, completion)
