"""Phone numbers in one customer message: candidates, validation and context judgement."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumber, PhoneNumberFormat

MIN_DIGITS = 7
MAX_DIGITS = 17  # 15 for E.164 plus a "00" international prefix
_MAX_SPLIT_GROUPS = 12
CONTEXT_CHARS = 48


@dataclass(frozen=True, slots=True)
class PhoneHit:
    """A number accepted as a phone, with the clause around it (for deciding whose it is)."""

    e164: str
    before: str
    after: str
    confident: bool
    """Valid for its country; False when only possible and kept because the context says phone."""


# ---------------------------------------------------------------- text preparation

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\t"), " ")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f"), None)


def normalize(text: str) -> str:
    """NFKC (full-width digits), one kind of dash and space, no invisible marks."""
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_INVISIBLE).translate(_DASHES).translate(_SPACES)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    base = unicodedata.normalize("NFD", char)[0]
    return base if len(base) == 1 else char


def fold(text: str) -> str:
    """Lower case without accents, same length (offsets stay valid)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters grow when lower-cased (İ)
        lowered = "".join(c.lower()[:1] or c for c in text)
    if lowered.isascii():
        return lowered
    return "".join(c if c < "\x80" else _fold_char(c) for c in lowered)


_DIGIT_WORDS: dict[str, str] = {}
for _digit, _names in enumerate(
    (
        "zero cero zéro null zer",
        "one uno una um uma un une eins",
        "two dos dois duas deux due zwei zwo",
        "three tres três trois tre drei",
        "four cuatro quatro quatre quattro vier",
        "five cinco cinq cinque fünf funf",
        "six seis sei sechs",
        "seven siete sete sept sette sieben",
        "eight ocho oito huit otto acht",
        "nine nueve nove neuf neun",
    )
):
    for _name in _names.split():
        _DIGIT_WORDS[_name] = str(_digit)
_DIGIT_WORDS["six"] = "6"
_DIGIT_WORDS["oh"] = "0"
_REPEAT_WORDS = {"double": 2, "doble": 2, "dupla": 2, "duplo": 2, "triple": 3, "tripla": 3}
_PLUS_WORDS = {"plus", "mas", "más", "mais"}
_NUMBER_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
_MIN_SPELLED = 6


def spell_out_digits(text: str) -> str:
    """Turns "six one two three ..." (six or more digit words in a row) into digits."""
    lowered = text.lower()
    if not any(word in _DIGIT_WORDS for word in re.findall(r"[^\W\d_]+", lowered)):
        return text
    tokens = list(_NUMBER_WORD.finditer(lowered))
    pieces: list[tuple[int, int, str]] = []
    index = 0
    while index < len(tokens):
        end, digits, count = _digit_word_run(lowered, tokens, index)
        if count >= _MIN_SPELLED or (count >= 2 and len(digits) >= MIN_DIGITS + 2):
            start = tokens[index].start()
            if index > 0 and tokens[index - 1].group() in _PLUS_WORDS:
                start, digits = tokens[index - 1].start(), "+" + digits
            pieces.append((start, tokens[end - 1].end(), digits))
            index = end
        else:
            index += 1
    for start, stop, digits in reversed(pieces):
        text = f"{text[:start]}{digits}{text[stop:]}"
    return text


def _digit_word_run(lowered: str, tokens: list[re.Match[str]], index: int) -> tuple[int, str, int]:
    """From tokens[index]: (end index, digits, how many digit words) of the run of digit words."""
    digits: list[str] = []
    words = 0
    repeat = 1
    position = index
    while position < len(tokens):
        token = tokens[position].group()
        if position > index and not _joinable(
            lowered[tokens[position - 1].end() : tokens[position].start()]
        ):
            break
        if token in _REPEAT_WORDS:
            repeat = _REPEAT_WORDS[token]
        elif token in _DIGIT_WORDS:
            digits.append(_DIGIT_WORDS[token] * repeat)
            words += 1
            repeat = 1
        elif token.isdigit() and words:
            digits.append(token)
        else:
            break
        position += 1
    return position, "".join(digits), words


def _joinable(gap: str) -> bool:
    return len(gap) <= 3 and all(c in " ,-." for c in gap)


# ---------------------------------------------------------------- masking

_MASK = "\u00a6"  # not a letter, digit or separator: breaks runs and matches no cue
_WHATSAPP_LINK = re.compile(
    r"(?:wa\.me/|whatsapp\.com/send/?\?phone=|whatsapp://send\?phone=)\+?(\d{7,15})", re.I
)
_TOKEN = re.compile(r"\S+")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?\b")
_DATE = re.compile(
    r"(?<![\d./-])(?:"
    r"(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])[./-](?:19|20)?\d\d"
    r"|(?:0?[1-9]|1[0-2])[./-](?:0?[1-9]|[12]\d|3[01])[./-](?:19|20)?\d\d"
    r"|(?:19|20)\d\d[./-](?:0?[1-9]|1[0-2])[./-](?:0?[1-9]|[12]\d|3[01])"
    r")(?![./-]?\d)"
)
_TIME = re.compile(r"(?<![\d.:])\d{1,2}(?::\d{2}){1,2}(?![\d:])|\b\d{1,2}h\d{2}\b", re.I)


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda match: _MASK * len(match.group()), text)


def masked(text: str) -> str:
    """The text with links, e-mail addresses, IBANs, dates and times blanked out."""
    if "@" in text or "/" in text or "www." in text.lower():
        text = _TOKEN.sub(_mask_link_or_email, text)
    for pattern in (_IBAN, _DATE, _TIME):
        text = _mask(text, pattern)
    return text


def _mask_link_or_email(token: re.Match[str]) -> str:
    """The token from where a link or an address starts: "(https://x.com/612345678)"."""
    piece = token.group()
    if "@" in piece:
        return _MASK * len(piece)
    start = _link_start(piece)
    return piece if start is None else piece[:start] + _MASK * (len(piece) - start)


def _link_start(piece: str) -> int | None:
    """Where a link starts in a token (scheme://, www., or example.com/...); plain scans only,
    so a huge token costs linear time."""
    lowered = piece.lower()
    starts: list[int] = []
    scheme = lowered.find("://")
    if scheme > 0:
        start = scheme
        while start > 0 and (lowered[start - 1].isalnum() or lowered[start - 1] in "+.-"):
            start -= 1
        starts.append(start)
    if (www := lowered.find("www.")) >= 0:
        starts.append(www)
    for mark in ("/", "?"):
        end = piece.find(mark)
        start = end
        while start > 0 and (piece[start - 1].isalnum() or piece[start - 1] in "-_."):
            start -= 1
        if end > 0 and _DOMAIN.fullmatch(piece, start, end):
            starts.append(start)
    return min(starts) if starts else None


# ---------------------------------------------------------------- context cues


def _words(*groups: str) -> str:
    words = (word.strip() for group in groups for word in group.split(","))
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in words if word)


_PHONE_CUES = re.compile(
    r"\b(?:"
    + _words(
        "phone,telephone,tel,tele,tlf,tlfn,tfno,telf,tfn,mobile,mob,cell,cellphone,cel,celu,"
        "celular,cellular,call me,call,calls,ring me,ring,text me,texts,sms,whatsapp,whats app,"
        "whatsap,whats,wasap,guasap,wa,wpp,zap,zapzap,zap zap,contact,contacto,contato,contatto,"
        "kontakt,reach me,reach,dial,landline",
        "telefono,movil,fijo,llamame,llamarme,llamar,llamadme,llamen,llama,llamanos,marcame,"
        "marcar,marca,escribeme al,numero de telefono,numero de celular,numero de movil",
        "telefone,telemovel,ligar,liga,ligue,me liga,liga-me,contacto,fixo",
        "portable,appelle,appelez,appeler,m'appeler,joindre,joignable,fixe",
        "cellulare,chiamami,chiamatemi,chiamare,recapito,fisso",
        "telefon,telefonnummer,handy,handynummer,mobil,mobilnummer,ruf,rufen,anrufen,"
        "erreichbar,festnetz",
        "my number,mi numero,meu numero,mon numero,il mio numero,mio numero,meine nummer,"
        "your number,tu numero,su numero,seu numero,votre numero,ton numero,numero personal,"
        "el mio,la mia,o meu,le mien,il mio,mine,meiner,meine",
    )
    + r")\b"
)
_WEAK_PHONE_CUES = re.compile(
    r"\b(?:"
    + _words(
        "number,numbers,numero,numeros,num,nummer,nr,nro",
        "sorry,i mean,actually,correction,perdon,perdona,me equivoque,quise decir,corrijo,"
        "desculpa,desculpe,na verdade,corrigindo,pardon,en fait,scusa,scusate,anzi,"
        "entschuldigung,korrektur,eigentlich,ich meine,oops,ops",
    )
    + r")\b"
)
_NOT_PHONE_CUES = re.compile(
    # German compounds: Kundennummer, Vertrags-Nr. (but not Telefonnummer, Handy-Nr.)
    r"(?:\b(?!(?:telefon|tel|handy|mobil|mobilfunk|ruf|whatsapp)-?n)\w+(?:nummer|-?nr)\b"
    r"|#|\b(?:"
    + _words(
        "order,orders,pedido,pedidos,encomenda,commande,ordine,bestellung,bestellnummer,"
        "bestell-nr,auftrag,auftragsnummer,purchase,compra,achat,acquisto",
        "ref,refs,reference,referencia,referencias,referenz,riferimento,rif,ref catastral,"
        "catastral,finca,parcela,lote,lot,lotto,anuncio,listing,annonce,annuncio,anzeige,inserat,"
        "inmueble,imovel,property id",
        "ticket,tickets,tiquete,incidencia,incidente,case,caso,dossier,expediente,processo,"
        "protocolo,protocol,pratica,vorgang,aktenzeichen",
        "invoice,factura,fatura,facture,fattura,rechnung,rechnungsnummer,receipt,recibo,"
        "ricevuta,quittung,bill,albaran,boleto,boleta,nota fiscal",
        "tracking,seguimiento,rastreio,rastreamento,suivi,sendungsnummer,sendung,guia,envio,"
        "shipment,parcel,paquete,colis,pacco,paket",
        "iban,bic,swift,account,acct,cuenta,conta,compte,conto,konto,kontonummer,sort code,"
        "routing,clabe,cbu,cvu,nib,agencia,transfer,transferencia,bizum,pix",
        "card,tarjeta,cartao,carte,carta,karte,kreditkarte,visa,mastercard,amex,cvv,cvc",
        "dni,nie,nif,cif,cpf,cnpj,rg,rfc,curp,ssn,social security,passport,pasaporte,"
        "passaporte,passeport,passaporto,reisepass,ausweis,cedula,rut,cuit,cuil,"
        "codice fiscale,partita iva,p iva,p.iva,piva,p. iva,siret,siren,nit,steuernummer,"
        "steuer-id,vat,tva,ust-id,nss,seguridad social",
        "postcode,post code,postal,zip,zipcode,zip code,cp,c p,codigo postal,cep,plz,"
        "postleitzahl,cap,code postal",
        "code,codigo,codice,pin,otp,password,contrasena,senha,clave,id,identificador,"
        "identifiant,localizador,confirmation,confirmacion,confirmacao,voucher,cupon,coupon",
        "policy,poliza,apolice,polizza,contract,contrato,contrat,contratto,vertrag,booking,"
        "reserva,reservation,reservacion,prenotazione,buchung,buchungsnummer",
        "serial,serie,model,modelo,modele,modello,modell,item,articulo,artigo,article,articolo,"
        "artikel,sku,ean,isbn,imei,product,producto,produto,produit,prodotto,produkt",
        "customer,cliente,client,kunde,kundennummer,socio,member,membership,abonado,matricula,"
        "placa,plate,license,licencia,licenca,kennzeichen,patente,chassis,bastidor,vin",
        "price,precio,preco,prix,prezzo,preis,cost,costs,cuesta,cuestan,custa,coute,costa,"
        "kostet,total,importe,amount,monto,montant,importo,betrag,budget,presupuesto,"
        "orcamento,paid,pague,pago,pagar,pay,deposit,deposito,fianza,senal,"
        "salary,salario,sueldo",
        "year,years,ano,anos,ans,anni,jahr,jahre,age,edad,idade,eta,alter,born,nacido,"
        "km,kms,kilometros,miles,metros,m2,sqft",
        "afiliacion,vuelo,flight,voo,vol,volo,flug,transaction,transaccion,transacao,operacion,"
        "operation,claim,siniestro,sinistro,reclamacion,student,alumno,legajo,nhs,medicare,"
        "insurance,seguro,versicherung,assicurazione,assurance",
        "folio,radicado,entidade,rib,mls,apn,nuss,niss,registro,idealista,fotocasa,zillow,"
        "rightmove,leboncoin,immobiliare,immowelt,immoscout,habitaclia,vivareal",
    )
    + r")\b)"
)
_CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹]|r\$|us\$|\b(?:usd|eur|gbp|mxn|ars|cop|clp|brl|chf))\s*$")
_UNIT_AFTER = re.compile(
    r"^\s*(?:[$€£¥₹%]|(?:"
    + _words(
        "eur,euro,euros,usd,dollar,dollars,dolar,dolares,dolares,pesos,peso,mxn,ars,cop,clp,"
        "brl,reais,real,gbp,pounds,pound,libras,chf,francs,franken,k,mil,miles,millon,millones,"
        "million,millions,milhoes,mrd,bucks,grand",
        "m2,m²,mts,metros,metres,meters,meter,km,kms,kg,kgs,g,gr,cm,mm,ml,l,lt,sqft,ft,"
        "units,unidades,uds,unid,pcs,pecas,piezas,pieces,stuck,stk",
        "years,year,anos,ans,anni,jahre,jahren,meses,months,dias,days,horas,hours,veces,times",
        "puntos,points,pontos,punti,punkte,views,visitas,likes,seguidores,followers",
    )
    + r")\b)"
)
_PHONE_AFTER = re.compile(
    r"^\W{0,4}(?:"
    + _words(
        "is my,es mi,e o meu,e meu,c'est mon,est mon,e il mio,ist meine,that's my,thats my,"
        "whatsapp,wa,movil,mobile,cel,celular,telemovel,portable,cellulare,handy,tel,phone,"
        "telefono,telefone,telephone,telefon"
    )
    + r")\b"
)
_NOT_PHONE_AFTER = re.compile(
    r"^\W{0,4}(?:"
    + _words("is my order,es mi pedido,es el pedido,is the order,es la referencia,is the ref")
    + r")\b"
)
_SENTENCE_END = re.compile(r"[!?;\n]|\.\s+(?=[A-ZÁÉÍÓÚÀÈÌÒÙÂÊÎÔÛÄÖÜÑÇ¿¡])")


def _window_before(text: str, start: int, floor: int) -> str:
    window = text[max(floor, start - CONTEXT_CHARS) : start]
    stops = list(_SENTENCE_END.finditer(window))
    return window[stops[-1].end() :] if stops else window


def _window_after(text: str, end: int, ceiling: int) -> str:
    window = text[end : min(ceiling, end + CONTEXT_CHARS)]
    stop = _SENTENCE_END.search(window)
    return window[: stop.start()] if stop else window


def _last_match_end(pattern: re.Pattern[str], text: str) -> int:
    last = -1
    for match in pattern.finditer(text):
        last = match.end()
    return last


def _context(before: str, after: str) -> int:
    """+1 when the nearest cue says phone, -1 when it says something else, 0 without cues."""
    folded = fold(before)
    if _CURRENCY_BEFORE.search(folded):
        return -1
    after_folded = fold(after)
    if _UNIT_AFTER.match(after_folded):
        return -1
    phone_at = _last_match_end(_PHONE_CUES, folded)
    other_at = _last_match_end(_NOT_PHONE_CUES, folded)
    if phone_at > other_at:
        return 1
    if other_at > phone_at:
        return -1
    if _NOT_PHONE_AFTER.match(after_folded):
        return -1
    if _PHONE_AFTER.match(after_folded) or _WEAK_PHONE_CUES.search(folded):
        return 1
    return 0


# ---------------------------------------------------------------- candidates

_RUN = re.compile(r"(?:\(\s?\+|\+\s?)?\(?\d(?:/\d|(?:[ ]{1,2}|[ ]?[.\-()]{1,2}[ ]?)\(?\d|\d)*\)?")
_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_ID_SHAPES = re.compile(
    r"^(?:\d{5}-\d{3,4}"  # ZIP+4, Brazilian CEP
    r"|\d{1,2}\.\d{3}\.\d{3}-\d"  # Chilean RUT
    r"|\d{3}\.\d{3}\.\d{3}-\d{2}"  # CPF
    r"|\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}"  # CNPJ
    r"|\d{2}-\d{7,8}-\d"  # CUIT / CUIL
    r"|\d{3}-\d{2}-\d{4}"  # SSN
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}"  # card numbers
    r")$"
)
_COMPACT_DATE = re.compile(r"^(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")
_TRUNK_OPTIONAL = frozenset({"AR", "BR", "CO", "PE", "MX", "CL", "UY", "PY", "BO", "EC", "VE"})


_GLUED_PHONE_WORD = re.compile(
    r"(?:^|[^\w])(?:tel|tlf|telf|tfno|cel|cell|celular|movil|móvil|mob|mobile|ph|phone|fono|"
    r"fone|whatsapp|wa|wpp|handy)$",
    re.IGNORECASE,
)


def _glued(text: str, start: int, end: int) -> bool:
    """Digits stuck to letters (12345678Z, ES91..., A1234) or a minus sign are not phones."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isalpha() and _GLUED_PHONE_WORD.search(text, max(0, start - 12), start):
        before = " "  # "Tel612345678", "cel3001234567"
    if before.isalnum() or before in "-_/\\" or after.isalpha() or after in "_/\\":
        return True
    if after in ".," and end + 1 < len(text) and text[end + 1].isdigit():
        return True  # decimals: 1.250.000,00
    return before in ".," and start > 1 and text[start - 2].isdigit()


def _looks_like_ip(run: str) -> bool:
    """192.168.1.100 (but not a landline written 91.234.56.78)."""
    groups = run.split(".")
    if len(groups) != 4 or not all(g.isdigit() and len(g) <= 3 and int(g) <= 255 for g in groups):
        return False
    return len(groups[0]) == 3 or len(groups[-1]) != 2


def _shape_is_not_phone(run: str) -> bool:
    if _ID_SHAPES.match(run) or _looks_like_ip(run):
        return True
    if _THOUSANDS.match(run):
        groups = run.split(".")
        if len(groups[0]) < 3 or groups[-1] == "000":
            return True
    # one dot and nothing else: a decimal (0.0012345678, 40.416775)
    return (
        run.count(".") == 1 and not re.search(r"[\s\-()/]", run) and (len(run.split(".")[1]) != 3)
    )


def _run_text(run: str) -> str:
    """Drops a trunk "(0)" after a country code: +44 (0) 7911 ... -> +44 7911 ..."""
    return re.sub(r"\(\s?0\s?\)", " ", run)


def _parse(number: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except NumberParseException:
        return None


def _mexican_legacy(number: PhoneNumber) -> PhoneNumber:
    """+52 1 55 ... (mobile prefix dropped in 2019) -> +52 55 ..."""
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        fixed = _parse("+52" + national[1:], None)
        if fixed is not None and phonenumbers.is_valid_number(fixed):
            return fixed
    return number


@dataclass(frozen=True, slots=True)
class _Parsed:
    number: PhoneNumber
    valid: bool
    international: bool
    """Written with its country code (+, 00 or the bare code), so no trunk prefix is expected."""
    guessed_code: bool = False
    """Read as "+" + digits although written without + and without the code set apart."""


def _interpret(run: str, digits: str, region: str | None) -> _Parsed | None:
    """The best reading of one candidate: valid beats possible; None when neither."""
    readings: list[tuple[str, str | None]] = []
    if run.lstrip("( ").startswith("+"):
        readings.append((run, None))
    elif digits.startswith("00") and not digits.startswith("000"):
        readings.append(("+" + digits[2:], None))
    else:
        if region is not None:
            if region == "MX" and re.match(r"^0(?:44|45|1)\d{10}$", digits):
                digits = digits[3:] if digits[1] == "4" else digits[2:]
            readings.append((digits if region == "MX" else run, region))
        if len(digits) >= (10 if region else 11):
            readings.append(("+" + digits, ""))  # the country code without its +
    first_group = re.sub(r"\D.*", "", run.lstrip("(+ 0"))
    best: _Parsed | None = None
    for text, parse_region in readings:
        number = _parse(text, parse_region or None)
        if number is None:
            continue
        number = _mexican_legacy(number)
        international = parse_region is None or parse_region == ""
        if parse_region:
            international = _has_own_country_code(number, digits)
        guessed = parse_region == "" and first_group != str(number.country_code)
        if phonenumbers.is_valid_number(number):
            return _Parsed(number, True, international, guessed)
        if best is None and _fully_possible(number):
            best = _Parsed(number, False, international, guessed)
    return best


def _fully_possible(number: PhoneNumber) -> bool:
    """Possible with the area code: "555-0199" (local only) is not enough."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


def _has_own_country_code(number: PhoneNumber, digits: str) -> bool:
    code, national = str(number.country_code), str(number.national_number)
    return digits.startswith(code) and len(digits) >= len(code) + len(national)


def _missing_trunk_prefix(parsed: _Parsed, digits: str, region: str | None) -> bool:
    """ "7911 123456" in GB or "612345678" in FR: people there write the leading 0."""
    if parsed.international or region is None or region in _TRUNK_OPTIONAL:
        return False
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix != "0":
        return False
    national = phonenumbers.format_number(parsed.number, PhoneNumberFormat.NATIONAL)
    return national.startswith(("0", "(0")) and not digits.startswith("0")


def _accept(parsed: _Parsed, digits: str, region: str | None, context: int) -> bool:
    if context < 0:
        return False
    if context > 0:
        return True
    if not parsed.valid or parsed.guessed_code:
        return False
    if _COMPACT_DATE.match(digits) and not parsed.international:
        return False
    return not _missing_trunk_prefix(parsed, digits, region)


def _digits(run: str) -> str:
    return re.sub(r"\D", "", run)


def _split_run(run: str, region: str | None) -> list[tuple[str, int, int]]:
    """Two numbers written one after the other: every piece must be a valid phone."""
    groups = [(m.start(), m.end()) for m in re.finditer(r"\+?\d+", run)]
    if len(groups) > _MAX_SPLIT_GROUPS:
        return []  # a wall of digits, not a few phones in a row
    pieces: list[tuple[str, int, int]] = []
    index = 0
    while index < len(groups):
        for stop in range(len(groups), index, -1):
            start, end = groups[index][0], groups[stop - 1][1]
            piece = run[start:end]
            if 9 <= len(_digits(piece)) <= 15 and _valid_reading(piece, region):
                pieces.append((piece, start, end))
                index = stop
                break
        else:
            return []
    return pieces


def _valid_reading(run: str, region: str | None) -> bool:
    parsed = _interpret(_run_text(run), _digits(_run_text(run)), region)
    return parsed is not None and parsed.valid


def _candidates(text: str, region: str | None) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for match in _RUN.finditer(text):
        run = match.group().rstrip("( ")
        start, end = match.start(), match.start() + len(run)
        digit_count = sum(c.isdigit() for c in run)
        if digit_count < MIN_DIGITS or _glued(text, start, end):
            continue
        if digit_count > MAX_DIGITS or (
            digit_count > 15 and not run.lstrip("(").startswith(("+", "00"))
        ):
            found.extend((p, start + s, start + e) for p, s, e in _split_run(run, region))
        else:
            found.append((run, start, end))
    return found


def _variants(run: str, region: str | None) -> list[tuple[str, int, int]]:
    """The run itself, or without a short stray group stuck to it ("5 612345678")."""
    whole = [(run, 0, len(run))]
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    if len(groups) < 2 or _valid_reading(run, region):
        return whole
    trimmed: list[tuple[str, int, int]] = []
    if groups[0][1] - groups[0][0] <= 2 and not run.lstrip("( ").startswith("+"):
        trimmed.append((run[groups[1][0] :], groups[1][0], len(run)))
    if groups[-1][1] - groups[-1][0] <= 2:
        trimmed.append((run[: groups[-2][1]], 0, groups[-2][1]))
    for piece, start, end in trimmed:
        if len(_digits(piece)) >= MIN_DIGITS and _valid_reading(piece, region):
            return [(piece, start, end)]
    return whole


def find_phones(text: str, region: str | None) -> list[PhoneHit]:
    """Phones in one message, in the order written."""
    text = spell_out_digits(normalize(text))
    hits: list[tuple[int, PhoneHit]] = [
        (link.start(), PhoneHit(e164, text[: link.start()][-CONTEXT_CHARS:], "", True))
        for link in _WHATSAPP_LINK.finditer(text)
        if (e164 := _whatsapp_link_number(link.group(1))) is not None
    ]
    text = masked(text)
    if any(c.isdigit() for c in text):
        for run, start, _ in _candidates(text, region):
            for piece, offset, stop in _variants(run, region):
                hit = _judge(text, piece, start + offset, start + stop, region)
                if hit is not None:
                    hits.append((start + offset, hit))
        if not hits:
            hits.extend(_matcher_hits(text, region))
    return [hit for _, hit in sorted(hits, key=lambda pair: pair[0])]


def _matcher_hits(text: str, region: str | None) -> list[tuple[int, PhoneHit]]:
    """libphonenumber's own finder, for numbers split by separators the runs above do not
    join (612~345~678); only where no run of ours was long enough to be judged already."""
    short_runs = [m.span() for m in _RUN.finditer(text) if _digit_count(m.group()) < MIN_DIGITS]
    if sum(_digit_count(text[a:b]) for a, b in short_runs) < MIN_DIGITS:
        return []
    long_runs = [m.span() for m in _RUN.finditer(text) if _digit_count(m.group()) >= MIN_DIGITS]
    found: list[tuple[int, PhoneHit]] = []
    matcher = phonenumbers.PhoneNumberMatcher(text, region or "ZZ", Leniency.VALID)
    for match in matcher:
        start, end = match.start, match.end
        if any(a < end and start < b for a, b in long_runs) or _glued(text, start, end):
            continue
        hit = _judge(text, match.raw_string, start, end, region)
        if hit is not None:
            found.append((start, hit))
    return found


def _digit_count(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _judge(text: str, run: str, start: int, end: int, region: str | None) -> PhoneHit | None:
    clean = _run_text(run)
    digits = _digits(clean)
    if _shape_is_not_phone(run):
        return None
    parsed = _interpret(clean, digits, region)
    if parsed is None:
        return None
    before = _window_before(text, start, _previous_digit_end(text, start))
    after = _window_after(text, end, _next_digit_start(text, end))
    if not _accept(parsed, digits, region, _context(before, after)):
        return None
    e164 = phonenumbers.format_number(parsed.number, PhoneNumberFormat.E164)
    return PhoneHit(e164, before, after, parsed.valid)


def _previous_digit_end(text: str, start: int) -> int:
    for index in range(start - 1, max(-1, start - CONTEXT_CHARS - 1), -1):
        if text[index].isdigit():
            return index + 1
    return 0


def _next_digit_start(text: str, end: int) -> int:
    for index in range(end, min(len(text), end + CONTEXT_CHARS)):
        if text[index].isdigit():
            return index
    return len(text)


def _whatsapp_link_number(digits: str) -> str | None:
    number = _parse("+" + digits, None)
    if number is None:
        return None
    number = _mexican_legacy(number)
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
