"""Best-effort name and place hints from self-introductions ("me llamo X", "I live in Y")."""

from __future__ import annotations

import re

MAX_WORDS = 3


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STRONG_NAME = (
    r"my name is|my name's|name is|me llamo|mi nombre es|meu nome [eé]|me chamo|chamo-me|"
    r"je m'appelle|je m\u2019appelle|mon nom est|mi chiamo|il mio nome [eè]|ich hei(?:ss|ß)e|"
    r"mein name ist"
)
_WEAK_NAME = (
    r"i am|i'm|i\u2019m|im|this is|soy|habla|aqu[ií] (?:te escribe )?|sou o|sou a|sou|je suis|"
    r"c'est|sono|ich bin"
)
_NAME_INTRO = re.compile(
    rf"(?:^|[\s,.!¡¿(])(?:(?P<strong>{_STRONG_NAME})|(?P<weak>{_WEAK_NAME}))\s+", re.I
)
_PLACE_INTRO = re.compile(
    r"(?:^|[\s,.!¡¿(])(?:i live in|i'm from|i\u2019m from|i am from|im from|from|based in|"
    r"vivo en|soy de|estoy en|desde|moro em|moro no|moro na|sou de|sou do|sou da|"
    r"j'habite [àa]|j'habite en|je vis [àa]|je suis de|je viens de|abito a|abito in|vivo a|"
    r"vivo in|sono di|ich wohne in|ich komme aus|wohne in|aus)\s+"
    # "soy Ana, de Sevilla", "I'm Tom from Boston"
    r"|(?:soy|sou|sono|je suis|i'm|i am|ich bin)\s+[^\W\d_]+(?:\s+[^\W\d_]+)?,?\s+"
    r"(?:de|from|da|do|di|aus)\s+",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*", re.UNICODE)
_CONNECTORS = frozenset(
    {"de", "del", "la", "las", "los", "do", "da", "dos", "das", "di", "van", "von", "le", "am"}
)
_NOT_A_NAME = _word_set(
    """a an the and or but so from de del en in at on with interested interesada interesado
    looking buscando here aqui aquí very muy just only also not no yes si sí ok okay fine good
    bien well sorry hello hi hola ola olá bonjour ciao hallo gracias thanks obrigado obrigada
    merci grazie danke available disponible going trying calling writing escribiendo
    llamando el la lo un una uno o e y et und oder con sin para por per pour für fur
    cliente customer client agent interessado interessada interessé interessata interessato
    from going new nuevo nueva novo nova buying selling comprando vendiendo owner dueño
    propietario married casado casada retired jubilado student estudiante de un una mi my
    your tu su ne pas ja nicht sehr auch hier"""
)


def find_name(texts: list[str]) -> str | None:
    """The latest self-introduced name, or None."""
    found: str | None = None
    for text in texts:
        for match in _NAME_INTRO.finditer(text):
            weak = match.group("weak") is not None
            name = _words_after(text, match.end(), strict=weak, place=False)
            if name is not None:
                found = name
    return found


def find_location(texts: list[str]) -> str | None:
    """The latest place the customer says they live in or come from, or None."""
    found: str | None = None
    for text in texts:
        for match in _PLACE_INTRO.finditer(text):
            place = _words_after(text, match.end(), strict=True, place=True)
            if place is not None:
                found = place
    return found


def _words_after(text: str, start: int, *, strict: bool, place: bool) -> str | None:
    """A few name-like words; strict: capitalized; place: "Las Palmas de Gran Canaria"."""
    limit = MAX_WORDS + 1 if place else MAX_WORDS
    words: list[str] = []
    position = start
    for match in _WORD.finditer(text, start):
        gap = text[position : match.start()]
        if words and (gap.strip() or len(gap) > 2):
            break  # punctuation ends the name
        if not words and gap.strip():
            return None
        word = match.group()
        lowered = word.lower()
        if words and lowered in _CONNECTORS and place:
            words.append(lowered)
        elif lowered in _NOT_A_NAME or (strict and not word[0].isupper()):
            break
        else:
            words.append(word)
        position = match.end()
        if len([w for w in words if w not in _CONNECTORS]) >= limit:
            break
    while words and words[-1] in _CONNECTORS:
        words.pop()
    if not words or not any(len(w) > 1 for w in words):
        return None
    return " ".join(w if w in _CONNECTORS else w[0].upper() + w[1:] for w in words)
