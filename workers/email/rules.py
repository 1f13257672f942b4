"""Phase 1 of the email analysis: rules only, no LLM. Fast (the benchmark wants thousands per second)
and deterministic, so its output can be stored and compared across versions."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from workers.email.entities import extract_entities
from workers.email.locales import LocaleTable, load_locales
from workers.email.parts import PartCatalogue, load_parts
from workers.email.segment import is_auto_reply, split_email

RULES_VERSION = "phase1-2026.12"
SENDERS_FILE = Path(__file__).resolve().parent.parent.parent / "config" / "email_senders.toml"


def _words(*words: str) -> re.Pattern[str]:
    # Whole words only: "now" must not match inside "know", nor "order" inside "border".
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """A pattern and the lower-case substrings one of which every match contains: the cheap `in` test on the
    lower-cased text skips most regex scans (each scan costs ~10 us on a typical email, an `in` a few dozen ns)."""

    pattern: re.Pattern[str]
    hints: tuple[str, ...]

    def search(self, text: str, low: str) -> bool:
        return any(h in low for h in self.hints) and self.pattern.search(text) is not None


def _word_rule(*words: str) -> Rule:
    return Rule(_words(*words), tuple(w.replace("\\", "").lower() for w in words))


def _phrases(*phrases: str) -> re.Pattern[str]:
    """Whole words or phrases, lower case (the rules run on the lower-cased text); a phrase ending in "*" is a
    prefix ("escalat*": escalate, escalated, escalation)."""
    parts = [re.escape(p[:-1]) + r"\w*" if p.endswith("*") else re.escape(p) for p in phrases]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts).replace(r"\ ", r"\s+") + r")(?!\w)")


# What the new message is about: each state's words (English first, then the mailbox's other languages). The state
# with the most distinct matches wins; ties go to the earlier state in this order.
WORKFLOW_WORDS: dict[str, tuple[str, ...]] = {
    "RETURNS": (
        "return", "returns", "returned", "returning", "rma", "refund", "refunds", "refunded", "credit note",
        "credit memo", "damaged", "defective", "doa", "dead on arrival", "faulty", "wrong item", "wrong part",
        "wrong model", "warranty", "replacement unit", "advance replacement", "send back", "sent back",
        "retoure", "rücksendung", "zurücksenden", "gutschrift", "defekt", "beschädigt", "garantie", "reklamation",
        "retour", "renvoyer", "remboursement", "avoir", "défectueux", "endommagé", "devolución", "devolver",
        "reembolso", "defectuoso", "dañado", "garantía", "reso", "rimborso", "difettoso", "danneggiato",
        "garanzia", "terugsturen", "terugbetaling", "defect", "beschadigd", "devolução", "defeituoso",
        "danificado", "garantia", "retur", "återbetalning", "trasig", "zwrot", "reklamacja", "uszkodzony",
    ),
    "SHIPPING": (
        "ship", "ships", "shipped", "shipping", "shipment", "shipments", "tracking", "track", "delivery",
        "deliveries", "deliver", "dispatch", "dispatched", "carrier", "freight", "courier", "in transit",
        "out for delivery", "eta", "not arrived", "hasn't arrived", "has not arrived", "not been delivered",
        "not received", "haven't received", "have not received", "lost", "missing parcel", "parcel", "package",
        "late", "delayed", "delay", "pickup", "pick-up", "collection", "lieferung", "liefertermin", "liefern",
        "versand", "versendet", "sendung", "sendungsverfolgung", "zustellung", "spedition", "lieferverzug",
        "livraison", "livrer", "expédition", "expédié", "colis", "transporteur", "envío", "entrega", "enviado",
        "transportista", "paquete", "spedizione", "consegna", "corriere", "spedito", "levering", "verzending",
        "zending", "bezorging", "geleverd", "envio", "transportadora", "leverans", "frakt", "dostawa", "wysyłka",
        "przesyłka",
    ),
    "COMPLETION": (
        "received in full", "all received", "goods received", "arrived safely", "arrived in good condition",
        "arrived today", "received today", "resolved", "issue resolved", "problem solved", "fixed", "works now",
        "working now", "all set", "all good", "close the ticket", "close the case", "please close", "can be closed",
        "closed", "payment sent", "payment made", "payment has been", "paid", "remittance", "done", "completed",
        "erhalten", "erledigt", "gelöst", "geschlossen", "bezahlt", "überwiesen", "reçu", "résolu", "clôturé",
        "payé", "réglé", "recibido", "recibidos", "resuelto", "cerrado", "pagado", "ricevuto", "ricevuti",
        "risolto", "chiuso", "pagato", "ontvangen", "opgelost", "gesloten", "betaald", "recebido", "resolvido",
        "fechado", "pago", "mottagit", "löst", "stängd", "betald", "otrzymaliśmy", "rozwiązany", "zapłacone",
    ),
    "QUOTE_PROCESSING": (
        "quote", "quotes", "quotation", "quoted", "pricing", "price", "prices", "rfq", "best price", "discount",
        "offer", "proposal", "price list", "angebot", "preis", "preise", "rabatt", "devis", "prix", "offre",
        "remise", "cotización", "presupuesto", "precio", "oferta", "descuento", "preventivo", "offerta", "prezzo",
        "sconto", "offerte", "prijs", "prijsopgave", "korting", "orçamento", "cotação", "preço", "desconto",
        "offert", "pris", "wycena", "cena", "rabat",
    ),
    "ORDER_MANAGEMENT": (
        "order", "orders", "purchase order", "po", "p.o", "place an order", "placing", "invoice", "invoices",
        "cancel", "cancel*", "order confirmation", "confirm the order", "reorder", "billing", "payment terms",
        "bestellung", "bestellen", "auftrag", "auftragsbestätigung", "rechnung", "stornieren", "storno",
        "commande", "commander", "facture", "annuler", "pedido", "factura", "cancelar", "ordine", "ordinare",
        "fattura", "annullare", "bestelling", "bestellen", "factuur", "annuleren", "encomenda", "fatura",
        "beställning", "faktura", "zamówienie", "anulować",
    ),
    "IN_PROGRESS": (
        "any update", "any updates", "an update", "update on", "status", "still waiting", "still working",
        "working on", "in progress", "following up", "follow up", "follow-up", "chasing", "chase", "checking in",
        "any news", "when can we expect", "haven't heard", "have not heard", "looking into", "investigating",
        "we are checking", "sachstand", "nachfrage", "zwischenstand", "in bearbeitung", "des nouvelles",
        "relance", "en cours", "novedades", "en curso", "en proceso", "aggiornamento", "in corso",
        "stand van zaken", "in behandeling", "novidades", "andamento", "em andamento", "uppdatering",
    ),
}
_STATE_ORDER = ("RETURNS", "SHIPPING", "COMPLETION", "QUOTE_PROCESSING", "ORDER_MANAGEMENT", "IN_PROGRESS")
WORKFLOW_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (state, _phrases(*WORKFLOW_WORDS[state])) for state in _STATE_ORDER)

# How fast to act: production or business stopped (critical), urgent with a real deadline (high). Lower case.
CRITICAL = _phrases(
    "line down", "lines down", "production down", "production outage", "production stopped", "production halted",
    "production is down", "production has stopped", "production standstill", "plant down", "plant is down",
    "system down", "systems down", "system is down", "site down", "site is down", "network down", "network is down",
    "server down", "server is down", "outage", "all users", "users affected", "users are affected",
    "nobody can work", "no one can work", "cannot operate", "can't operate", "operations halted",
    "operations stopped", "business stopped", "business is stopped", "shut down", "standstill", "safety issue",
    "safety hazard", "fire hazard", "line stopped", "production line", "produktionsstillstand", "stillstand",
    "steht still", "stehen still", "produktion steht", "totalausfall", "arrêt de production", "production arrêtée",
    "ligne arrêtée", "panne générale", "línea parada", "producción parada", "producción detenida",
    "fermo produzione", "produzione ferma", "linea ferma", "productie ligt stil", "productie stil", "stilstand",
    "produção parada", "linha parada", "produktionsstopp", "przestój", "produkcja stoi",
)
URGENT = _phrases(
    "urgent", "urgently", "urgency", "asap", "a.s.a.p", "as soon as possible", "immediately", "immediate",
    "right away", "today", "tomorrow", "by eod", "end of day", "by cob", "by noon", "expedite", "expedited", "rush",
    "escalat*", "penalty", "penalties", "deadline", "emergency", "critical", "top priority", "high priority",
    "time-sensitive", "time sensitive", "dringend", "eilig", "sofort", "heute", "morgen", "eskalation",
    "urgente", "urgence", "en urgence", "immédiatement", "aujourd'hui", "demain", "hoy", "mañana", "inmediato",
    "oggi", "domani", "subito", "spoed", "spoedig", "vandaag", "hoje", "amanhã", "brådskande", "idag", "imorgon",
    "pilne", "pilnie", "dzisiaj", "jutro",
)
# A message that needs no action: FYI, thanks, newsletters, notifications. Lower case.
QUIET = _phrases(
    "fyi", "for your information", "for your records", "no action needed", "no action required", "no rush",
    "no hurry", "not urgent", "newsletter", "unsubscribe", "zur info", "zur kenntnis", "pour info",
    "pour information", "para su información", "per conoscenza", "ter info", "ter informatie",
)
THANKS = _phrases("thanks", "thank you", "thx", "many thanks", "danke", "vielen dank", "merci", "gracias", "grazie",
                  "bedankt", "dank je", "obrigado", "obrigada", "tack", "dziękuję", "great", "perfect", "approved",
                  "+1", "ok", "noted", "received")
URGENCY_CAP = 10

KEY_PHRASES = ("purchase order", "return authorization", "expedite", "overnight", "cancel", "price increase",
               "out of stock", "backorder", "damaged", "invoice", "credit", "refund", "replacement", "lead time",
               "on hold", "quote", "delivery date", "tracking number")
_KEY_PHRASES = [(p, re.compile(r"\b" + re.escape(p) + r"\b", re.IGNORECASE)) for p in KEY_PHRASES]

EXPEDITE = _word_rule("expedite", "expedited", "rush", "overnight", "asap", "same day")
CANCEL = Rule(re.compile(r"\b(?:cancel\w*|competitor|reconsider|switch(?:ing)? suppliers?|another vendor)\b",
                         re.IGNORECASE), ("cancel", "competitor", "reconsider", "switch", "another vendor"))
QUANTITY = re.compile(r"\b(\d[\d,]*)\s*(?:units|pcs|pieces|cases|pallets)\b", re.IGNORECASE)
_QUANTITY_HINTS = ("unit", "pcs", "piece", "case", "pallet")
HIGH_VALUE = 50_000.0
# Currencies worth roughly a dollar or more: 50,000 of them is a high-value email. Others are not converted.
HIGH_VALUE_CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SGD")
_SUBJECT_PREFIX = re.compile(r"^(?:\s*(?:re|aw|fw|fwd|wg|tr|rv|sv|vs|odp|r|antw)\s*(?:\[\d+\])?\s*:)+\s*",
                             re.IGNORECASE)
BULK_QUANTITY = 100


@dataclass(frozen=True)
class SenderLists:
    key_customer: frozenset[str] = frozenset()
    internal: frozenset[str] = frozenset()
    partner: frozenset[str] = frozenset()

    def category(self, sender_email: str) -> str:
        domain = sender_email.rsplit("@", 1)[-1].lower()
        for name in ("key_customer", "internal", "partner"):
            if domain in getattr(self, name):
                return name
        return "standard"


@lru_cache(maxsize=4)
def load_senders(path: str = str(SENDERS_FILE)) -> SenderLists:
    raw = tomllib.loads(Path(path).read_text())
    unknown = set(raw) - {"key_customer", "internal", "partner"}
    if unknown:
        raise ValueError(f"{path}: unknown sender list(s) {sorted(unknown)}")
    return SenderLists(**{k: frozenset(d.lower() for d in v) for k, v in raw.items()})


@dataclass
class Phase1Result:
    entities: dict[str, Any]
    workflow_state: str
    urgency_score: int
    priority: str
    financial_impact: float
    key_phrases: list[str]
    sender_category: str
    detected_patterns: list[str]
    auto_reply: bool = False
    locale: str = "en-US"
    financial_impact_by_currency: dict[str, float] = field(default_factory=dict)
    rules_version: str = RULES_VERSION
    chain_analysis: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def workflow_state(text: str, lower: str | None = None) -> str:
    """The state of a message, from its subject and new text: the state with the most distinct words found."""
    low = text.lower() if lower is None else lower
    best, best_count = "START_POINT", 0
    for state, rule in WORKFLOW_RULES:
        count = len(set(rule.findall(low)))
        if count > best_count:
            best, best_count = state, count
    return best


def urgency_score(text: str, lower: str | None = None) -> int:
    """0..10: 5 per sign that production or a business has stopped (at most two), 2 per distinct urgent word
    (at most 4). Counted in the subject and new text only: a quoted "urgent" is someone else's."""
    low = text.lower() if lower is None else lower
    critical = len(set(CRITICAL.findall(low)))
    urgent = len(set(URGENT.findall(low)))
    return min(URGENCY_CAP, 5 * min(critical, 2) + min(4, 2 * urgent))


def is_quiet(new_text: str, lower: str | None = None) -> bool:
    """A message that asks for nothing: FYI, a newsletter, or a short thanks/ok without a question."""
    low = new_text.lower() if lower is None else lower
    if QUIET.search(low):
        return True
    return len(low) < 160 and "?" not in low and THANKS.search(low) is not None


def priority_for(score: int, quiet: bool = False) -> str:
    if score >= 5:
        return "critical"
    if score >= 2:
        return "high"
    return "low" if quiet else "medium"


def analyse(subject: str, body: str, sender_email: str, senders: SenderLists | None = None, *,
            received_at: datetime | None = None, headers: Mapping[str, str] | None = None,
            locales: LocaleTable | None = None, parts: PartCatalogue | None = None) -> Phase1Result:
    """Entities from the whole email (quoted history and signature included), read in the sender's locale;
    workflow state, urgency and patterns from the subject and the new text only; auto-replies are never urgent."""
    text = f"{subject}\n{body}"
    low = text.lower()
    locale = (locales or load_locales()).for_sender(sender_email, received_at.utcoffset() if received_at else None)
    received = received_at.date() if received_at is not None else None
    entities = extract_entities(text, low, locale=locale, parts=parts or load_parts(), received=received)
    segments = split_email(body, low[len(subject) + 1:])
    auto = is_auto_reply(subject, segments.new, headers)
    now = f"{_SUBJECT_PREFIX.sub('', subject)}\n{segments.new}"
    now_low = now.lower()
    score = 0 if auto else urgency_score(now, now_low)
    by_currency: dict[str, float] = {}
    for a in entities.amounts:
        by_currency[a["currency"]] = round(by_currency.get(a["currency"], 0.0) + a["value"], 2)
    patterns = []
    quantities = ([int(q.replace(",", "")) for q in QUANTITY.findall(now)]
                  if any(h in now_low for h in _QUANTITY_HINTS) else [])
    if any(q >= BULK_QUANTITY for q in quantities) or len(entities.part_numbers) >= 3:
        patterns.append("bulk_order")
    if score >= 5:
        patterns.append("high_urgency")
    if any(by_currency.get(c, 0.0) > HIGH_VALUE for c in HIGH_VALUE_CURRENCIES):
        patterns.append("high_value")
    if not auto and EXPEDITE.search(now, now_low):
        patterns.append("expedited_processing")
    if not auto and CANCEL.search(now, now_low):
        patterns.append("cancellation_risk")
    return Phase1Result(
        entities=entities.as_dict(),
        workflow_state="START_POINT" if auto else workflow_state(now, now_low),
        urgency_score=score,
        priority="low" if auto else priority_for(score, is_quiet(segments.new)),
        financial_impact=by_currency.get("USD", 0.0),
        key_phrases=[p for p, rx in _KEY_PHRASES if p in now_low and rx.search(now)],
        sender_category=(senders or load_senders()).category(sender_email),
        detected_patterns=patterns,
        auto_reply=auto,
        locale=locale.tag,
        financial_impact_by_currency=by_currency,
    )


def chain_analysis(received: Sequence[datetime], *, email_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Over a whole conversation: complete with >= 3 emails spanning more than half a day;
    completeness = min(100, 20 x emails + 20 when the span exceeds a day)."""
    count = len(received)
    span_hours = (max(received) - min(received)).total_seconds() / 3600 if count > 1 else 0.0
    completeness = min(100, 20 * count + (20 if span_hours > 24 else 0))
    return {
        "email_count": count,
        "span_hours": round(span_hours, 2),
        "is_complete_chain": count >= 3 and span_hours > 12,
        "completeness_score": completeness,
        "email_ids": list(email_ids),
    }
