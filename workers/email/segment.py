"""Split an email body into what the sender wrote now, the quoted history, the signature and the footer.

Entities come from the whole email, but the workflow state and the urgency come from the subject and the new
text only: a quoted "urgent", a carrier's "Delivered" in a forwarded notification, a legal footer or an
out-of-office reply must not decide them.

Why not a library: mail-parser-reply 1.36 (the best of the three judged, with quotequail 0.5.4 and
email-reply-parser 0.5.12: multi-language reply headers, signatures, disclaimers) splits real-looking mail well
but its patterns backtrack: 180 us for a short email and 2.3 ms for a 3.7 kB one without any reply header, more
than ten times Phase 1's whole budget (5,000 emails/s). quotequail needs lxml and does not split signatures;
email-reply-parser is fast but knows English only. The boundaries below are the same kinds those libraries
look for (reply and forward headers in the languages of the mailbox, "> " quotes, Outlook's header block,
sign-offs, "Sent from my ...", disclaimers, unsubscribe footers), each a line-anchored pattern, one scan each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from workers.email.scan import GATE, Hits, Probe, find_words, lower, split_foreign


class _Lines:
    """A pattern for the start of a line, written in lower case and searched in "\n" + the lower-cased text.

    Both are for speed: with re.IGNORECASE, or with `^` under re.MULTILINE, Python's engine tries the pattern at
    every character (18 us for `^>` in a 3.7 kB email); a leading literal "\n" lets it skip ahead. Offsets are
    those of the text itself. When lower-casing changes the length (a few Unicode letters), the case-insensitive
    pattern runs on the text instead.
    """

    def __init__(self, pattern: str) -> None:
        assert not re.search(r"\\[A-Z]", pattern), "upper-case escapes change meaning when lower-cased"
        self.low = re.compile(r"\n" + pattern.lower())
        self.any_case = re.compile(r"\n" + pattern, re.IGNORECASE)

    def start(self, text: str, low: str, begin: int = 0, end: int | None = None,
              lines: Sequence[int] | None = None) -> int | None:
        """Where the first match at or after `begin` (and before `end`) starts, or None. `lines`: the line starts
        (ascending) where a match can start (workers.email.scan's probes); None: search them all."""
        stop = len(text) if end is None else end
        rx, subject = (self.low, "\n" + low) if len(low) == len(text) else (self.any_case, "\n" + text)
        if lines is None:
            m = rx.search(subject, begin, stop + 1)
            return m.start() if m else None  # the "\n" is at offset -1 of the text: its match starts at the line
        for at in lines:
            if at > stop:
                break
            if at >= begin and (m := rx.match(subject, at, stop + 1)) is not None:
                return m.start()
        return None


def _lines(pattern: str) -> _Lines:
    return _Lines(pattern)


# Where the history starts: the first line that opens a quote, a reply header or a forwarded message.
_WROTE = (r"wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|escreveu|skrev|napisał\(a\)|napisał|kirjoitti"
          r"|написал")
_HEADER_FROM = r"From|Von|De|Da|Van|Från|Od|Fra|Lähettäjä"
_HEADER_NEXT = (r"Sent|Date|To|Subject|Cc|Gesendet|Datum|An|Betreff|Envoyé|Date|À|Objet|Enviado|Fecha|Para"
                r"|Asunto|Inviato|Data|A|Oggetto|Verzonden|Aan|Onderwerp|Skickat|Till|Ämne|Wysłano|Do|Temat"
                r"|Enviada|Assunto")
QUOTE_START = _lines(
    r"[ \t]*(?:"
    r">"                                                              # "> " quoted lines
    r"|-{2,}[ \t]*(?:Original(?:[ \t]+Message)?|Forwarded[ \t]+message|Ursprüngliche[ \t]+Nachricht"
    r"|Weitergeleitete[ \t]+Nachricht|Message[ \t]+d'origine|Message[ \t]+transféré|Mensaje[ \t]+original"
    r"|Mensaje[ \t]+reenviado|Messaggio[ \t]+originale|Messaggio[ \t]+inoltrato|Oorspronkelijk[ \t]+bericht"
    r"|Doorgestuurd[ \t]+bericht|Mensagem[ \t]+original|Mensagem[ \t]+encaminhada|Originalmeddelande"
    r"|Vidarebefordrat[ \t]+meddelande|Wiadomość[ \t]+oryginalna|Przekazana[ \t]+wiadomość)"  # ---- Original ...
    r"|Begin[ \t]+forwarded[ \t]+message:"                          # Apple Mail
    r"|_{8,}[ \t]*(?![^\n])"                                         # Outlook's rule above its header block
    r"|(?:On|Am|Le|El|Il|Op|Em|Den|Dnia|W[ \t]+dniu)\b[^\n]{0,160}?(?:\n[^\n]{0,100}?)?"
    r"(?:" + _WROTE + r")\b[^\n]{0,100}:[ \t]*(?![^\n])"
    r"|\*?(?:" + _HEADER_FROM + r")\*?[ \t]*:[^\n]*\n(?:[^\n]*\n){0,2}?[ \t]*\*?(?:" + _HEADER_NEXT + r")\*?[ \t]*:"
    r")"
)
# Ticketing tools mark where a reply should go ("##- Please type your reply above this line -##"). Searched only
# when the phrase is there: a pattern that may start anywhere in a line costs a scan of every line.
TICKET_MARK = _lines(r"[^\n]*above\s+this\s+line")

# Where the signature starts: "-- ", a sign-off alone on its line, or "Sent from my ...". Not at the very start:
# a message that is only "Thanks!" is a message, not a signature.
_SIGN_OFFS = (
    r"(?:best|kind|warm|many|with\s+best)?\s*(?:regards|wishes)|best|cheers|thanks(?:\s+again)?|thank\s+you"
    r"|many\s+thanks|thx|br|rgds|regards|sincerely|yours\s+(?:sincerely|truly)|respectfully"
    r"|mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen|freundliche\s+grüße|viele\s+grüße|beste\s+grüße"
    r"|liebe\s+grüße|grüße|gruß|mfg|vg|lg"
    r"|cordialement|bien\s+cordialement|bien\s+à\s+vous|salutations|merci(?:\s+d'avance)?"
    r"|saludos(?:\s+cordiales)?|un\s+saludo|atentamente|gracias|cordiales\s+saludos"
    r"|cordiali\s+saluti|distinti\s+saluti|saluti|grazie"
    r"|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groeten|mvg"
    r"|atenciosamente|cumprimentos|abraços|obrigad[oa]"
    r"|med\s+vänliga\s+hälsningar|vänliga\s+hälsningar|mvh|hälsningar"
    r"|pozdrawiam|z\s+poważaniem"
)
SIGNATURE_START = _lines(
    r"[ \t]*(?:--[ \t]*(?![^\n])|__[ \t]*(?![^\n])|(?:" + _SIGN_OFFS + r")[ \t]*[,.!]?[ \t]*(?![^\n])"
    r"|(?:sent|gesendet|envoyé|enviado|inviato|verzonden|skickat|wysłane)\s+(?:from|von|de|da|vanaf|från|z)\s)"
)

# Where the footer starts: legal disclaimers, confidentiality notices, unsubscribe and mailing-list lines.
FOOTER_START = _lines(
    r"[ \t*]*(?:"
    r"(?:confidentiality|legal|privacy|important)?[ \t]*(?:notice|disclaimer)[ \t]*:?"
    r"|confidential(?:ity)?\b|disclaimer\b|caution:|external\s+email"
    r"|this\s+(?:e-?mail|message|communication)\s+(?:and\s+any|is\s+intended|contains|may\s+contain|is\s+confidential)"
    r"|the\s+information\s+(?:contained\s+)?in\s+this|if\s+you\s+(?:are\s+not|have\s+received)\s+th"
    r"|(?:to\s+)?unsubscribe\b|you\s+(?:are\s+)?receiv(?:ed|ing)\s+this|manage\s+(?:your\s+)?(?:preferences|subscription)"
    r"|diese\s+(?:e-?mail|nachricht)\s+(?:enthält|ist|kann)|vertraulichkeitshinweis|haftungsausschluss|abmelden"
    r"|ce\s+(?:message|courriel|mail)\s+(?:et|est|peut)|avertissement|se\s+désinscrire|désinscription"
    r"|este\s+(?:mensaje|correo)\s+(?:y|es|contiene|puede)|aviso\s+(?:legal|de\s+confidencialidad)|darse\s+de\s+baja"
    r"|questo\s+messaggio|questa\s+e-?mail|informativa\s+privacy"
    r"|dit\s+(?:e-?mail)?\s*bericht\s+(?:is|kan|bevat)|uitschrijven|afmelden"
    r"|esta\s+mensagem|este\s+e-?mail\s+(?:e|é|pode|contém)"
    r")"
)


# Where each boundary can start (workers.email.scan): the line's "\n", then the boundary's first words.
_LINE = r"\n[ \t]*"
_REPLY_OPENERS = r"(?:on|am|le|el|il|op|em|den|dnia|w[ \t]+dniu)"
_WROTE_PROBE, _WROTE_FOREIGN = split_foreign(_WROTE)
SEGMENT_PROBES = (
    Probe("quote_start", _LINE + r">"),
    Probe("quote_start", _LINE + r"-{2,}"),
    Probe("quote_start", _LINE + r"begin[ \t]+forwarded[ \t]+message:"),
    Probe("quote_start", _LINE + r"_{8,}[ \t]*(?![^\n])"),
    # "On ... wrote:" starts on the line of "wrote" or the one before (hyperscan cannot report the start of the
    # whole pattern: too large with its bounded repeats)
    Probe("quote_wrote", r"(?:" + _WROTE_PROBE + r")"),  # "написал": split_email
    Probe("quote_start", _LINE + r"\*?(?:" + _HEADER_FROM.lower() + r")\*?[ \t]*:"),
    Probe("signature_start", SIGNATURE_START.low.pattern),
    Probe("footer_start", FOOTER_START.low.pattern),
)


@dataclass(frozen=True)
class Segments:
    new: str        # what the sender wrote now
    signature: str  # sign-off, name, title, phone numbers, "Sent from my iPhone"
    footer: str     # disclaimers, confidentiality notices, unsubscribe lines (of the new message)
    quoted: str     # replies and forwards below it, with their headers, signatures and footers


# Local parts that name a role, not a person: no signature line to look for.
_ROLE_WORDS = frozenset({"info", "sales", "support", "service", "services", "noreply", "reply", "orders", "order",
                         "accounts", "admin", "office", "team", "mail", "contact", "hello", "billing", "purchasing",
                         "einkauf", "verkauf", "vertrieb", "compras", "achats", "acquisti", "inkoop", "helpdesk",
                         "servicedesk", "customer", "customerservice", "logistics", "finance", "not", "notifications"})


def _name_line(low: str, sender_email: str, start: int, end: int) -> int | None:
    """Where a short line holding the sender's name (from the address: "l.murphy" -> "murphy") starts: a signature
    without a sign-off ("Can you send a quote? Cheers,\nLachlan Murphy\nIT Coordinator")."""
    names, rx = _sender_names(lower(sender_email.split("@", 1)[0]))
    if rx is None or all(low.find(name, start, end) < 0 for name in names):  # no name in these lines: no scan needed
        return None
    m = rx.search("\n" + low, start, end + 1)
    return m.start() if m else None


def forget_sender_names() -> None:
    _sender_names.cache_clear()


@lru_cache(maxsize=1024)
def _sender_names(local: str) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """The names in an address's local part ("l.murphy" -> "murphy") and a short line holding one of them."""
    names = tuple(t for t in re.split(r"[._+-]+", local) if len(t) >= 3 and t.isalpha() and t not in _ROLE_WORDS)
    if not names:
        return names, None
    return names, re.compile(r"\n[ \t]*(?:[^\n]{0,30}[^\w\n])?(?:" + "|".join(map(re.escape, names))
                             + r")(?![\w@.])[^\n@]{0,30}(?![^\n])")


def _reply_header_lines(body: str, wrote: list[int]) -> list[int]:
    """The lines (offsets of "\n" + body) where an "On ... wrote:" header with its verb at `wrote` can start."""
    out = []
    for at in wrote:
        line = body.rfind("\n", 0, at) + 1  # offset in "\n" + body of the "\n" before the line
        out.append(line)
        if line > 0:
            out.append(body.rfind("\n", 0, line - 1) + 1)
    return out


def split_email(body: str, low: str | None = None, sender_email: str = "", *, hits: Hits | None = None,
                offset: int = 0) -> Segments:
    """`low`: body.lower() if the caller has it; `sender_email`: to find a signature that has no sign-off; `hits`:
    the scan of a text holding the body at `offset` (after a newline) by workers.email.entities.probe_set."""
    low = lower(body) if low is None else low

    def lines(probe: str) -> list[int] | None:  # the probe's line starts, as offsets of "\n" + body
        if hits is None:
            return None
        return [at - offset + 1 for at in hits.of(probe) if at >= offset - 1]

    quote_lines = lines("quote_start")
    if hits is not None and quote_lines is not None:
        wrote = [at - offset for at in hits.of("quote_wrote") if at >= offset]
        if len(low) != len(body):  # the words outside cp1252 are looked up in `low`: offsets must be the body's
            quote_lines = None
        else:
            quote_lines = sorted({*quote_lines, *_reply_header_lines(body, [*wrote, *find_words(low, _WROTE_FOREIGN)])})
    end = QUOTE_START.start(body, low, lines=quote_lines)
    end = len(body) if end is None else end
    if "above this line" in low:
        end = TICKET_MARK.start(body, low, 0, end) or end
    footer_at = FOOTER_START.start(body, low, 0, end, lines("footer_start"))
    head_end = end if footer_at is None else footer_at
    signature_lines = lines("signature_start")
    sig = SIGNATURE_START.start(body, low, 0, head_end, signature_lines)
    if sig is not None and not body[:sig].strip():  # the sign-off is all there is: it is the message
        line_end = body.find("\n", sig + 1)
        sig = SIGNATURE_START.start(body, low, line_end, head_end, signature_lines) if line_end > 0 else None
    if sender_email and len(low) == len(body):
        first_line = body.find("\n")
        named = _name_line(low, sender_email, max(first_line, 0) + 1, head_end if sig is None else sig)
        if named is not None and body[:named].strip():
            sig = named
    new_end = head_end if sig is None else sig
    return Segments(body[:new_end].strip(), body[new_end:head_end].strip(), body[head_end:end].strip(),
                    body[end:])


# RFC 3834 and the headers of Exchange, Postfix vacation and mailing-list software.
_AUTO_HEADERS = {
    "auto-submitted": lambda v: lower(v.strip()) not in ("", "no"),
    "x-autoreply": lambda v: lower(v.strip()) not in ("", "no", "false"),
    "x-autorespond": lambda v: bool(v.strip()),
    "x-auto-response-suppress": lambda v: bool(set(lower(v).replace(",", " ").split())
                                               & {"all", "oof", "autoreply"}),
    "precedence": lambda v: lower(v.strip()) in ("auto_reply", "junk"),  # ("bulk", "list": is_mass_mail)
    "x-autogenerated": lambda v: lower(v.strip()) in ("reply", "forward", "mirror", "redirect"),
}
AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic\s+reply|auto(?:matic)?[\s-]*(?:reply|response)|out\s+of\s+(?:the\s+)?office|ooo\b"
    r"|abwesenheit|automatische\s+antwort|réponse\s+automatique|absence|respuesta\s+automática|fuera\s+de\s+la\s+oficina"
    r"|risposta\s+automatica|fuori\s+ufficio|automatisch\s+antwoord|afwezig|resposta\s+automática|ausente"
    r"|autosvar|frånvaro|odpowiedź\s+automatyczna|nieobecność|fraværs(?:meddelelse|melding)|automatisk\s+svar"
    r"|poissaolo|lomavastaaja|automaattinen\s+vastaus|automatická\s+odpověď|nepřítomnost|otomatik\s+yan\u0131t"
    r"|ofis\s+d\u0131ş\u0131|自動応答|自動返信|不在|自动回复|自動回覆"
    r"|balasan\s+otomatis|jawapan\s+automatik|(?:ال)?رد\s+(?:ال)?تلقائي|خارج\s+المكتب|trả\s+lời\s+tự\s+động"
    r"|automatikus\s+válasz|răspuns\s+automat)",
    re.IGNORECASE,
)
AUTO_BODY = re.compile(
    r"\b(?:(?:i\s+am|i'm|i\s+will\s+be|currently)\s+(?:currently\s+)?(?:out\s+of\s+(?:the\s+)?office|away|on\s+"
    r"(?:annual\s+|parental\s+|sick\s+)?(?:leave|holiday|vacation|pto))"
    r"|out\s+of\s+(?:the\s+)?office\s+(?:until|from|through|till)|limited\s+access\s+to\s+(?:my\s+)?e-?mail"
    r"|ich\s+bin\s+(?:bis|vom|ab|derzeit|zurzeit)\b[^.\n]{0,60}(?:nicht\s+im\s+büro|abwesend|urlaub|nicht\s+erreichbar)"
    r"|(?:bin|befinde\s+mich)\s+(?:derzeit\s+|zurzeit\s+)?(?:nicht\s+im\s+büro|im\s+urlaub|abwesend)"
    r"|je\s+suis\s+(?:actuellement\s+)?(?:absent|en\s+congé)|estoy\s+(?:fuera\s+de\s+la\s+oficina|de\s+vacaciones)"
    r"|sono\s+(?:fuori\s+ufficio|in\s+ferie|assente)|ik\s+ben\s+(?:afwezig|niet\s+op\s+kantoor|met\s+vakantie)"
    r"|estou\s+(?:fora\s+do\s+escritório|de\s+férias|ausente)|jag\s+är\s+(?:på\s+semester|ledig|borta)"
    r"|jestem\s+(?:na\s+urlopie|poza\s+biurem)|jeg\s+(?:holder\s+\w*ferie|er\s+(?:på\s+ferie|ikke\s+på\s+kontoret))"
    r"|(?:jag|jeg)\s+har\s+(?:semester|ferie)|szabadságon\s+vagyok"
    r"|olen\s+(?:lomalla|poissa)|jsem\s+(?:na\s+dovolené|mimo\s+kancelář)|izindeyim|izinde\s+olacağ\u0131m"
    r"|不在にしております|休暇を?いただいて)",
    re.IGNORECASE,
)

# A substring in every match of AUTO_BODY (lower case): the regex itself is tried at every word.
_AUTO_BODY_HINTS = ("office", "away", "leave", "holiday", "vacation", "automat", "received your", "not re", "ferie",
                    "szabads",
                    "limited access", "büro", "abwesend", "urlaub", "erreichbar", "absent", "congé", "oficina",
                    "vacaciones", "ufficio", "ferie", "assente", "afwezig", "kantoor", "vakantie", "escritório",
                    "férias", "ausente", "semester", "ledig", "borta", "urlopie", "biurem", " pto", "kontoret",
                    "lomalla", "poissa", "dovolen", "kancelář", "izin", "不在", "休暇")


_ACK_HINTS = ("received", "automat", "erhalten", "reçu", "recib", "ricevut", "ontvangen", "recebemos")
# Automatic acknowledgements: "we have received your request", "this is an automated response".
ACK_BODY = re.compile(
    r"\b(?:this\s+is\s+an\s+automat(?:ed|ic)\s+(?:reply|response|acknowledge?ment)"
    r"|(?:we\s+have|we've)\s+received\s+your\s+(?:request|e-?mail|message|inquiry|enquiry)"
    r"|your\s+(?:request|ticket|case)\s+(?:has\s+been|was)\s+(?:received|logged|created|opened)"
    r"|wir\s+haben\s+ihre\s+(?:anfrage|nachricht|e-?mail)\s+erhalten|nous\s+avons\s+bien\s+reçu\s+votre"
    r"|hemos\s+recibido\s+su|abbiamo\s+ricevuto\s+la\s+sua|wij\s+hebben\s+uw\s+\w+\s+ontvangen"
    r"|recebemos\s+a\s+sua"
    r"|(?:case|ticket|incident|request)\s+(?:\w+\s+)?(?:has\s+been|was)\s+(?:created|opened|logged|received)"
    r"|opened\s+on\s+your\s+behalf|unter\s+der\s+ticketnummer|eingangsbestätigung|accusé\s+de\s+réception)",
    re.IGNORECASE,
)


# Gates of the decision scan (workers.email.rules.scan_now, over the subject and new text): a text where they do not
# match cannot match these patterns.
AUTO_REPLY_PROBES = [Probe("auto_body", AUTO_BODY.pattern, re.IGNORECASE, GATE),
                     Probe("ack_body", ACK_BODY.pattern, re.IGNORECASE, GATE)]


def _may(gate: str, hits: Hits | None, low: str, hints: tuple[str, ...]) -> bool:
    """Whether the pattern behind `gate` can match: by the decision scan's gate, else by its substrings."""
    return gate in hits.gates if hits is not None else any(h in low for h in hints)


def is_acknowledgement(subject: str, new_text: str, headers: Mapping[str, str] | None = None,
                       hits: Hits | None = None) -> bool:
    """An automatic reply that only says a message arrived or a ticket was opened (RFC 3834 "auto-replied",
    or the words of one). `hits`: the decision scan of the subject and new text."""
    for name, value in (headers or {}).items():
        if lower(name) == "auto-submitted" and lower(value.strip()) == "auto-replied":
            return True
    if hits is not None and "ack_body" not in hits.gates:
        return False
    return ACK_BODY.search(subject) is not None or ACK_BODY.search(new_text) is not None


def is_out_of_office(subject: str, new_text: str, hits: Hits | None = None) -> bool:
    """An out-of-office reply, by its subject or what its new text says."""
    if AUTO_SUBJECT.search(subject):
        return True
    return _may("auto_body", hits, lower(new_text), _AUTO_BODY_HINTS) and AUTO_BODY.search(new_text) is not None


def is_mass_mail(headers: Mapping[str, str] | None) -> bool:
    """A newsletter or a mailing list's message (`Precedence: bulk` or `list`): sent to many, no reply to anyone, so
    not an auto-reply (the evaluation sets' authors label 66 of 87 such emails not auto-replies), but never urgent."""
    return any(lower(name) == "precedence" and lower(value.strip()) in ("bulk", "list")
               for name, value in (headers or {}).items())


def is_auto_reply(subject: str, new_text: str, headers: Mapping[str, str] | None = None,
                  hits: Hits | None = None) -> bool:
    """An out-of-office reply or an automatic acknowledgement: by its headers (RFC 3834 `Auto-Submitted` and the
    others mail systems set), else by its subject, else by what its new text says."""
    for name, value in (headers or {}).items():
        test = _AUTO_HEADERS.get(lower(name))
        if test is not None and test(value):
            return True
    if is_out_of_office(subject, new_text, hits):
        return True
    return (_may("ack_body", hits, lower(new_text), _ACK_HINTS)
            and ACK_BODY.search(new_text) is not None)
