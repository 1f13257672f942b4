"""Phase 1 entity extraction: precise rules, normalised values, read with the sender's conventions.

Each rule wants a cue word or a shape no ordinary word has, and returns the value an operator would search
for: the id without its label ("PO#: 771203" -> "771203"), amounts as {"value", "currency"}, dates as ISO
(day-first or month-first as the sender's locale writes them, a date without a year in the year nearest the
email's own date), phones as 10 digits in North America and E.164 elsewhere (extension as "x214"), part
numbers by the catalogue in workers/email/catalogues/parts.toml.

Two labelled sets measure them (scripts/eval_email.py): data/email_corpus.jsonl (generated) and
data/email_eval/ (business emails written outside the project). Look-alikes they must refuse: upper-case
words, years, "order" inside "border", ids of other kinds (RMA-, BOL-, CM-, CVE-, tickets, tracking and serial
numbers), meeting ids and passcodes, numbers inside URLs, percentages and quantities.

Speed: every rule runs only when the lower-cased text holds a substring each of its matches contains (an `in`
test costs nanoseconds, a regex scan microseconds), and claimed spans keep one string one entity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import phonenumbers

from workers.email.locales import Locale
from workers.email.parts import CUED_TOKEN, TOKEN, PartCatalogue, load_parts
from workers.email.scan import (
    ASIAN_LETTERS,
    END,
    GATE,
    Hits,
    Probe,
    ProbeSet,
    aligned_lower,
    find_words,
    matches,
    matches_at,
    search,
    split_foreign,
    taken,
)
from workers.email.scan import (
    lower as lower_text,
)
from workers.email.segment import SEGMENT_PROBES

US = Locale("en-US", "US", day_first=False, decimal_comma=False)

# ---------------------------------------------------------------------------------------------------- ids
_FILLER = (r"(?:\s*(?:(?:numbers?|nos?\.?|num\.?|nr\.?|nummer|n\.?[°º.]\.?|ref\.?|reference|id|numero|número|numéro"
           r"|numer|číslo|numaras\u0131|numarasi|br\.?|αρ\.?|αριθμός)(?![a-z])"
           r"|(?:is|was|are|ist|war|wird|est|es|era|è|foi|är|er|var|sera|será|sarà|č\.?|ma|(?:will|should|would)\s+be"
           r"|stays|remains|still|noastr[ăa]|kami|anda"  # (Indonesian: "No. tiket kami: TT-250614-0087")
           r"|nostru)(?:\s+(?:le|la|el|the))?(?![\w-])"  # "notre bon de commande est le BC-2025-114"
           # "el presupuesto revisado P-25-0712-B", "our updated PO 4500..."
           r"|(?:revised|revisado|revisada|révisée?|rivist[oa]|updated|actualizad[oa]|aktualisierte[sn]?|new|nuev[oa]"
           r"|original|marco|blanket|cadre"  # "OC original: 4300061877", "OC marco 4600009912" (a framework order)
           r"|neue[sn]?|nouveau|nouvelle|nuov[oa]|final|signed|firmad[oa]|signée?"
           r"|intern[oa]|internal)(?![\w-])"  # "Numero ticket interno: TT-GE-2025-06-1457"
           # "reklamaci jsme zaevidovali pod číslem RK-25-0193", "zarejestrowaliśmy pod numerem REK/2025/0417"
           r"|(?:\w+\s+){0,3}?pod\s+(?:číslem|numerem)(?![\w-])"
           # "complaint registered as CMP-25-0163", "ticket logged under 48812"
           r"|(?:registered|logged|opened|raised|filed|created)\s+(?:as|under)(?![\w-])"
           r"|[#:\uff1a\u2116/-]|は|\n>+))*\s*")
_ID = r"(?:\(\s*#?|#)?\s*([a-z0-9](?:[a-z0-9]|[-/](?=[a-z0-9]))*)"
# "and" and "or" in the mailbox's languages: what joins the items of a list (ids, dates)
_CONJUNCTIONS = r"and|und|et|y|e|or|oder|ou|o|a|og|och|en|i"
# More ids after the first: "POs 4500207714, 4500207715 and 4500207716".
_MORE = re.compile(r"\s*(?:,|;|/|&|\+|\b(?:" + _CONJUNCTIONS + r"|és)\b)\s*#?\s*"
                   r"([a-z0-9](?:[a-z0-9]|[-/](?=[a-z0-9]))*)")


def _cue_rule(cues: str, cjk: bool = False) -> re.Pattern[str]:
    """A cue, then its id (group 1). `cjk`: cues in Japanese or Chinese, which stand right after other words."""
    start = r"(?:" + cues + r")" if cjk else r"(?<![\w/])(?:" + cues + r")"
    return re.compile(start + r"(?![a-z])" + _FILLER + _ID)


# Cues in Japanese and Chinese: they stand right after other words (no spaces between words).
_QUOTE_CJK = (r"見積番号|見積書番号|見積no\.?|お見積り|報價單號|报价单号|報價單|报价单|報價|报价|견적번호|견적서|견적"
              r"|ใบเสนอราคา(?:เลขที่)?")
_PO_CJK = (r"発注番号|注文番号|注文書番号|採購單號|采购单号|採購單|采购单|po号|po\s号"
           r"|발주\s?번호|발주서|주문\s?번호|주문(?=\s+[a-z0-9]+-)")  # Korean: order (number), "(주문 DH-25-0702)"
_CASE_CJK = r"ケース番号|チケット番号|問い合わせ番号|問合せ番号|受付番号|案件番号|工單號|工单号|케이스|티켓"
# (not "24 po": inches in Québec French; LPO: East Africa's and the Gulf's local purchase order)
_PO_WORDS = (r"(?:p\.\s?o\.?|(?<!\d )po|pos|p/o|(?:local\s+)?purchase[\s-]*orders?|lpo"
             r"|external\s+document)"  # Business Central's field for the customer's PO ("External Document No.")
             r"|encomenda|objedn[aá]vka|objedn[aá]vky|sipariş|tilau(?:s(?:numero)?|ksemme|kseen|ksen|ksenne)|bestilling(?:snummer)?"
             r"|bestell(?:nummer|-?nr\.?|ung)|bestellnr\.?|bon\s+de\s+commande|n°\s*de\s+commande"
             r"|orden\s+de\s+compra|pedido\s+de\s+compra|ordem\s+de\s+compra|ordine\s+d['i]\s*acquisto"
             r"|inkooporder(?:nummer)?|inkoopnummer|ordernummer|inköpsorder(?:nummer)?|beställningsreferens|zamówienie(?:\s+zakupu)?"
             r"|nr\s+zamówienia|oc(?![0-9])|commande(?:\s+bc(?=\s))?|bestelnummer|bestelling|beställning(?:snummer)?|best\.\s?-?\s?nr\.?"
             r"|ordine\s+(?:n[°º.]?|nr\.?)|numero\s+d['\u2019]ordine|nuestro\s+pedido|megrendelés(?:\s+száma)?"
             r"|indkøbsordre(?:nummer|n)?|innkjøpsordre(?:nummer|n)?|narudžbenic[aeiu]|naročilnic[aeio]"
             r"|tellimus(?:e|t)?|pasūtījum[sau]|užsakym(?:as|o|ą)|đơn\s+đặt\s+hàng(?:\s+số)?|obj\.|leveransavrop"
             # a Nordic buyer's own order number ("vores ordrenr. var 55102", "vårt ordernr 2290", "bestillingsnr.")
             r"|(?:vores|vårt?|vort)\s+(?:ordre|order)(?:nr\.?|nummer)|bestillingsnr\.?"
             r"|zam\.(?:\s+nr\.?)?|porudžbenic[aeiu]|comanda\s+noastr[ăa]|παραγγελία\s+μας"
             # a framework order and its call-offs: "blanket order 7700-46001", "pedido abierto 4700001235"
             r"|blanket\s+(?:purchase\s+)?orders?|pedido\s+abierto|rahmen(?:auftrag|bestellung)"
             r"|أمر\s+الشراء(?:\s+رقم)?|lieferabruf|inkoopnr\.?|παραγγελ(?:ία|ίας)|bestelbon|uw\s+ref(?:\.|erentie)")
# Whose PO ("our PO is 4500207714") is part of the cue; the probe (below) looks for the PO words alone.
PO_CUES = r"(?:customer|your|our|my|the|client|cust\.?)?\s*" + _PO_WORDS
PO = _cue_rule(PO_CUES)
PO_CJK = _cue_rule(_PO_CJK, cjk=True)
# A customer's order number after an order word ("pedido 2025/INF/0087", "our order CMD-ER-55120", "ordine ODA
# 2025/318", "zamówienia ZAM/2025/0619"): a PO. Only ids written with a "-" or "/" (_structured): a bare number after
# "order" is as often the distributor's own order number as the customer's. The English "order" only as a noun
# (after "our", "your", "the" ...: "please order C9300-24P-A" names a part to order).
_ORDER_NOUNS = (r"pedido|commandes?|ordine(?:\s+oda)?|oda|ordinativo(?:\s+di\s+fornitura)?|ordem|ordre"
                r"|zamówieni(?:e|a|u|em)|objednáv(?:k[ayue]|ce)"
                r"|bestelling|narudžb[aeiu]|porudžbin[aeiu]|naročil[aou]|comand(?:a|ă|ei)|zakázk[ayu]"
                r"|rendelés(?:ünk|ét|e|szám)?|поръчк(?:а|ата|и)|заявк(?:а|ата)")
ORDER_CUES = (r"(?:(?:customer|your|our|my|the|client|vår|vårt|er|ert|vores|jeres|onze|uw)\s+orders?(?:\s+number)?"
              r"|orders?\s+number|order(?=\s*(?:no\b|nr\b|#|n°))"
              r"|(?:notre|votre)\s+bc|bc(?=\s*(?:n[°º]|\d{4}))"  # bon de commande
              # "order" right before an id of three parts or more: "order BRU-IT-44810", "order KAA/ICT/2025/044"
              r"|orders?(?=\s+[a-z0-9]+[-/][a-z0-9]+[-/])"
              r"|(?:nuestro|nosso|notre|votre|nos|vos|nostro|vostro|unsere?|ihre?|onze|uw)?\s*(?:" + _ORDER_NOUNS
              + r"))")
ORDER = _cue_rule(ORDER_CUES)
_BON_DE_COMMANDE = re.compile(r"(?<![\w/])bc(?![\w])")  # Québec's "BC 771203": a bon de commande, the buyer's
_ORDER_NOUN = re.compile(r"(?<![\w/])(?:" + _ORDER_NOUNS + r")")
# A cue that, joined to its id by a dash, is the id's own prefix ("OC-2025-118", "ODA-25-0712"); "PO-4500123456" is
# PO 4500123456 (the PO convention of the generated corpus and of every author since).
_SHORT_CUE = re.compile(r"[a-z]{2,4}")
_DAY_MONTH = re.compile(r"\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?")
_NANP_SHAPE = re.compile(r"\d{3}-\d{3}-\d{4}")  # a North American phone number's groups
_MARKETPLACE_ORDER = re.compile(r"\d{3}-\d{7}-\d{7}")


def _order_id(value: str, cue: str) -> bool:
    """A customer's order number after an order word: written with a "-" or "/" (_structured), or a number of five
    digits or more after an order word of another language than English ("pedido 4700013390", "ordine 771203") or
    after Québec's "BC" (bon de commande: "BC 771203"; not "votre BC-77120" cut to its digits): the English "order"
    is as often the distributor's own, and so is a ten-digit number outside SAP's purchasing ranges (4...: "pedido
    3000123456" is a sales order)."""
    if _structured(value):
        return True
    sap_range = 5 <= len(value) <= 9 or (len(value) == 10 and value[0] == "4")
    return value.isdigit() and sap_range and "order" not in cue and (
        _ORDER_NOUN.search(cue) is not None or (_BON_DE_COMMANDE.search(cue) is not None and not cue.endswith("-")))


def _structured(value: str) -> bool:
    """A customer's order number as written after an order word: with a "-" or "/", not a date, not a marketplace's
    order ("Order 302-4471829-1182": Amazon's)."""
    return (("-" in value or "/" in value) and _DAY_MONTH.fullmatch(value) is None
            and not _MARKETPLACE_ORDER.fullmatch(value))


# A PO id that carries "PO" itself: "PO-ACM-22817", "PO/2025/06/118", "KDG-PO-558210", "HDC/PO/2025/0457" (as
# written, whole).
PO_ALNUM = re.compile(r"(?<![\w/-])(?:[a-z]{2,5}[-/])?po[-/](?=[a-z0-9/-]*(?:[a-z]{2}|/))[a-z0-9]+(?:[-/][a-z0-9]+)+"
                      r"(?![\w/-])|(?<![\w/-])(?:[a-z]{2,5}|20\d{2})-po-\d+(?:-[a-z0-9]+)*(?![\w/-])")  # 2025-PO-0719
# SAP's default number range for purchase orders: ten digits from 4500000000. A customer's PO wherever it stands
# (the distributor's own order numbers are in other ranges).
PO_SAP = re.compile(r"(?<![\w/.,-])45\d{8}(?![\w/-]|[.,]\d)")
# "quote" as a verb names no quote: "please quote RR-88123 in all correspondence".
# (a commercial offer first: else "comercial" would be the id of "proposta comercial PC-BR-25-0311")
QUOTE_CUES = (r"(?:proposta|propuesta|offre|offerta|oferta)\s+comerci(?:al|ale)"
              r"|(?<!please )(?<!kindly )quotes?|quotation(?:\s+number)?|quote\s+ref|offer"
              r"|(?<!appel d')(?<!appels d')offres?|angebot(?:snummer|s-?nr\.?)?|devis|offerta"
              r"|cotizaci[oó]n|presupuesto|offerte|orçamento|cotação|oferta|rfq|offert|proposta|propuesta|proposal"
              r"|tilbud|tarjous|teklif|nab[ií]d(?:ka|ky|ku|ce|ek)|(?:ár)?ajánlat\w*|bid|ofert(?:y|ę|e|ie|ă|ei|ą)"
              r"|ponud(?:a|i|e|u|ba|bo|be|bi)|ponuk(?:a|u|y|e)|pasiūlym(?:as|o|ą)|piedāvājum[sau]"
              r"|pakkumi(?:ne|se|st)|оферт(?:а|и|ата)|soumission|penawaran"
              # Ukrainian and Russian commercial offers, Vietnamese "báo giá" (a price quote)
              r"|(?:комерційн\w+\s+|коммерческ\w+\s+)?(?:пропозиці[яюї]|предложени[ея])|báo\s+giá"
              # a repair's cost estimate: "Kostenvoranschlag KV-2025-0388"
              r"|kostenvoranschlag\w*")
QUOTE = _cue_rule(QUOTE_CUES)
QUOTE_CJK = _cue_rule(_QUOTE_CJK, cjk=True)
# Q-2025-0917, Q-JP-2025-0098, Q-DXB-25-0561; a quote's "/Q/" after a company's (and a site's) letters, then its number:
# "NDI/Q/25-26/0412", "NX/MAA/Q/25-26/0187", "CVI/Q/2025/06/0217"
QUOTE_BARE = re.compile(r"(?<![\w-])(q-(?:[a-z]{2,3}-)?(?:\d{4}|\d{2}(?=-\d{4}))-\d{3,6}(?:-r(?:ev)?\d{1,2})?"
                        r"|(?:[a-z]{2,5}/){1,3}(?:q|qt|quo)(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*/\d{3,6}"
                        r"|qt-?(?:[a-z]{2,4}-)?(?:\d{2}-){0,2}\d{4,8}(?:-r(?:ev)?\d{1,2}|-\d|-[a-z](?![\w-]))?|quo-?\d{4,8}"
                        r"|quo-[a-z]{2,4}-(?:\d{2,4}-)?\d{3,8}"  # QUO-MA-2025-0087
                        # cotización / cotação, soumission (Québec), presupuesto
                        r"|cot-(?:[a-z]{2,4}-)?(?:\d{2}-|20\d{2}-)?\d{4,8}|soum-\d{4,8}|pres-\d{4}-\d{3,6}"
                        r"|кп-20\d{2}-\d{3,6})"  # комерційна пропозиція (Ukrainian: a commercial offer)
                        r"(?![\w-])")

# "request" alone only before "#", "(" or "no.": "Request #48812", "your request (48812)".
_CASE_WORDS = (r"(?:case|cases|ticket|tickets|incident|service\s+request|sr|escalation"  # no "Störung": "Störung C6000"
               r"|request(?=\s*(?:#|\(|no\b|nr\b|number\b))|demande(?=\s*n[°º])"
               r"|ticketnummer|(?:service|support)?fall(?:nummer)?|vorgang(?:snummer)?|caso|incidencia|chamado|protocolo"
               r"|orden\s+de\s+servicio|ordem\s+de\s+serviço|dossier(?:\s+sav(?![\w-]))?|billet|ärende(?:nummer)?"
               r"|zgłoszeni(?:e|em|a|u)|reclamo(?:\s+de\s+garantía)?|réclamation|sag(?:snummer|snr)?|saksnummer|sak"
               r"|tiketti(?:numero[na]?)?|tiketin|tukipyyntö|talep|taleb(?:iniz|in|i)|folio\s+de\s+(?:investigación|reclamo|incidencia)"
               r"|warranty\s+claim|claim(?=\s*(?:#|no\b|nr\b|number\b|[a-z]{2,4}-\d))"  # "warranty claim WC-AU-0912"
               r"|klaim"  # Indonesian and Malay: a warranty claim ("No. Klaim GRS-0625-017")
               # an Italian file, a warranty claim, a complaint ("pratica QA-25-0219", "reclamo de garantía GAR-MX-...")
               r"|pratica|complaint|störungsticket"
               r"|požadavek|případ(?:u|em)?|tiket|tichet|hibajegy|ügyszám|vaka(?:s\u0131)?"
               r"|melding(?:snummer)?"
               # complaints and quality deviations: "Reklamation RK-25-0877", "avvikelsen AVV-2025-0614", "le cas
               # NetApp 2009876543", "no conformidad interna NC-2025-061"
               r"|cas|reklamation(?:en|snummer)?|reklamasjon(?:en)?|reklamac[ei]|reklamacj[aię]|reclamação|reclamación"
               r"|avvikelse(?:n|nummer)?|afvigelse(?:n)?|avvik(?:et)?|no\s+conformidad(?:\s+interna)?"
               r"|non[\s-]conformit[éà]|non-?conformance|ncr"
               # Slavic complaints and service requests: "рекламация № REK-BG-2025-0193", "servisni zahtev broj
               # 198765432"
               r"|рекламаци(?:я|ята|и)|reklamacij[aieou]|servisn[iío]\s+zaht[j]?ev(?:\s+broj)?)")
# Not after a code's dash ("SFP-10G-SR": a part's suffix; "Lenovo-Case" is a case); the vendor whose case it is may
# follow ("caso HPE 5372019845").
CASE_CUES = (r"(?<![0-9]-)(?<![0-9][a-z]-)(?<!\d )(?:support\s+|service\s+)?" + _CASE_WORDS  # not "150 cases 0W-20"
             + r"(?:\s+(?:(?:w|u|bei|chez|at|with|en|na|z)\s+)?"  # "Zgłoszenie w Lenovo": the case at Lenovo
             r"(?:hpe|hp|dell|cisco|lenovo|fortinet|vmware|microsoft|apc|ubiquiti|logitech|samsung|tac|meraki"
             r"|aruba|juniper|synology|axis|hanwha|genetec|milestone|poly|shure|crestron|brother|canon|epson|kyocera"
             r"|ricoh|xerox|lexmark|netapp|eaton|vertiv|arista|supermicro|thermo\s+fisher|roche|eppendorf|sartorius"
             r"|siemens|olympus|dpd|dhl|gls|ups|fedex|tnt|sma|fronius|goodwe|huawei|sungrow|solaredge|enphase|victron"
             r"|danfoss|daikin|carrier|trane|york|copeland|bitzer|belimo|honeywell|grundfos|agco|john\s+deere|deere"
             r"|claas|cnh|kubota|krones|khs|sidel|tetra\s+pak|videojet|markem-imaje|domino|zebra)(?![\w-]))?")
CASE = _cue_rule(CASE_CUES)
CASE_CJK = _cue_rule(_CASE_CJK, cjk=True)
CASE_BARE = re.compile(r"(?<![\w-])((?:inc|ritm|cs|tkt|cas)-?\d{4,10}|req\d{7}"
                       # with a country's or a site's letters: "CS-IE-7713", "JHB-SR-44190"
                       # (a day's count after a date: "KL-SR-20250610-07")
                       r"|cs-[a-z]{2}-\d{4,10}|[a-z]{2,4}-(?:sr|cs|inc|tkt)-(?:\d{6,10}-\d{1,4}|\d{4,10})"
                       # a complaint's, a warranty claim's, a reclamación's and a repair job's number with its year:
                       # "CMP-25-0147", "WC-25-0092", "REC-2025-0117", "RJ-2025-044"
                       r"|(?:cmp|wc|rec|rj)-(?:\d{2}|20\d{2})-\d{3,6})(?![\w-])"
                       # a Jira issue key in a notification's subject, a helpdesk's "[#48213]" tag
                       r"|\[jira\]\s*\(([a-z][a-z0-9]{1,9}-\d{1,7})\)|\[#(\d{4,10})\]"
                       # a ticketing tool's tag in a subject: "[REQ-2025-118822] Received", "[CMP-2025-0117]"
                       # (maybe after a country's letters: "[UA-SR-20250408-017]")
                       r"|\[((?:[a-z]{2}-)?(?:req|cmp|case|sr|tkt|inc|cs|hd|sd)-(?:\d{2,8}-)?\d{3,10})\]"
                       # a call or job logged by a service desk: "[Job OOH-25-1142]", "[Case #CS-4471]"
                       r"|\[(?:job|case|ticket|call)\s+#?([a-z]{2,5}-(?:\d{2,4}-)?\d{3,8})\]")


# Right before a number: it is some other id (an invoice, a tracking number, a phone ...), not a PO.
_OTHER_ID_BEFORE = re.compile(r"(?:invoice|inv|rechnung|facture|factura|fattura|tracking|awb|waybill|s/n|serial|tel"
                              r"|phone|fax"
                              r"|mobile|iban|account|konto|utr|ref|sales\s+order|so|order\s+confirmation|our\s+order"
                              r"|auftrag|auftragsbestätigung|ordernummer|delivery|lieferschein"
                              # a courier's waybill and shipment ("Número de guía: 4512938821", "Envío entregado")
                              r"|gu[ií]a|env[ií]o(?:\s+entregado)?|shipment|consignment|sendung)\b[^\n\d]{0,8}$")


# Ids after an order cue that are the distributor's or something else: sales and webshop orders, invoices, returns.
_NOT_PO_PREFIXES = frozenset({"SO", "WS", "W", "SHOP", "INV", "RE", "RMA", "BOL", "CM", "DN", "ASN", "AWB", "CS", "INC",
                              "TKT", "Q", "QT", "AB", "ZS"})  # (ZS: a Polish sales order, zamówienie sprzedaży)
# An RMA is a return authorisation, not a support case.
_NOT_CASE_PREFIXES = frozenset({"RMA", "SO", "PO", "INV", "BOL", "CM", "Q", "QT", "RE"})
# "For questions quote SO-0099420": the distributor's order, invoice, return ... named after the verb "quote".
_NOT_QUOTE_PREFIXES = frozenset({"SO", "PO", "INV", "RMA", "RR", "BOL", "AWB", "ASN", "DN", "CM", "INC", "TKT", "CS"})


def _valid_id(value: str) -> bool:
    """An id has a digit and at least four characters, and is not a year, a date or an amount."""
    if len(value) < 4 or not any(c.isdigit() for c in value):
        return False
    if value.isdigit() and len(value) == 4 and value[:2] in ("19", "20"):
        return False
    return DATE_ISO.fullmatch(value) is None


# ------------------------------------------------------------------------------------------------ amounts
# ISO codes that are not also words once lower-cased ("try", "rub", "cop" are left out).
_CODES = ("usd|eur|gbp|chf|cad|aud|nzd|mxn|brl|clp|ars|cop|pen|uyu|sek|nok|dkk|isk|pln|czk|huf|ron|bgn|uah|inr|jpy"
          "|cny|rmb|hkd|sgd|twd|krw|thb|myr|idr|vnd|zar|aed|sar|qar|kwd|ils|egp|ngn|kes|tnd|rsd|mkd|bam|kzt|mdl|byn"
          "|pkr|bdt|lkr|npr|dzd|bhd|jod|omr|lbp|iqd|lyd|mur"
          # Africa's, the Americas' and Asia's other codes, except those that are words or other abbreviations
          # ("mga" in Tagalog, "kgs" kilograms, "crc", "bsd", "cve", "scr", "mnt", "try", "rub", "all", "top")
          "|ghs|ghc|xof|xaf|tzs|ugx|rwf|etb|zmw|bwp|mzn|aoa|mwk|gmd|sll|sle|lrd|cdf|bif|djf|kmf|szl|lsl|sdg|ssp|gnf"
          "|dop|gtq|hnl|nio|pyg|ves|ttd|jmd|bbd|xcd|fjd|pgk|mvr|mmk|khr|lak|kzt|tjs|uzs|azn|irr|syp|yer|afn")
_SYMBOL_CURRENCY = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "zł": "PLN", "r$": "BRL", "us$": "USD",
                    "usd$": "USD", "u$s": "USD", "u$d": "USD", "c$": "CAD", "ca$": "CAD", "cad$": "CAD", "a$": "AUD",
                    "au$": "AUD",
                    "aud$": "AUD", "nz$": "NZD", "mx$": "MXN", "s$": "SGD", "hk$": "HKD", "fr.": "CHF",
                    "sfr.": "CHF", "rs.": "INR", "rs": "INR", "euro": "EUR", "euros": "EUR", "dollars": "$",
                    "dollar": "$", "pounds": "GBP", "pound": "GBP", "€uro": "EUR", "kč": "CZK", "tl": "TRY",
                    "₺": "TRY", "円": "JPY", "元": "CNY", "₩": "KRW", "₱": "PHP", "฿": "THB", "₫": "VND",
                    "₪": "ILS", "₽": "RUB", "ft": "HUF", "lei": "RON", "r": "ZAR", "₦": "NGN", "ksh": "KES",
                    "kshs": "KES", "ksh.": "KES", "kshs.": "KES", "rm": "MYR", "php": "PHP",
                    "nt$": "TWD", "ntd": "TWD", "đ": "VND", "rp": "IDR", "rp.": "IDR", "mad": "MAD", "лв": "BGN",
                    "лв.": "BGN", "дин": "RSD",
                    "дин.": "RSD", "din.": "RSD", "грн": "UAH", "грн.": "UAH", "₴": "UAH", "₸": "KZT", "₾": "GEL",
                    "тенге": "KZT", "tenge": "KZT",
                    "₼": "AZN", "n": "NGN", "vnđ": "VND", "৳": "BDT", "tk": "BDT", "tk.": "BDT", "da": "DZD",
                    "dh": "MAD", "dhs": "MAD", "dt": "TND", "jd": "JOD", "bd": "BHD", "kd": "KWD", "ro": "OMR",
                    "rupee": "INR", "rupees": "INR", "pesos": "$", "de pesos": "$", "s/": "PEN",
                    "원": "KRW", "บาท": "THB", "\uffe5": "JPY", "gh¢": "GHS", "gh₵": "GHS", "₵": "GHS", "ghc": "GHS",
                    "cedi": "GHS", "cedis": "GHS", 'ש"ח': "ILS", "ש״ח": "ILS", "شيكل": "ILS",
                    "دولار أمريكي": "USD", "دولار": "$", "ريال سعودي": "SAR", "ريال قطري": "QAR",
                    "ريال عماني": "OMR", "درهم إماراتي": "AED", "جنيه مصري": "EGP", "جنيه": "EGP"}
# Currencies named alike in several countries: the sender's country says which (else the first).
_REGIONAL_CURRENCY = {"fcfa": ("XOF", {"CM": "XAF", "GA": "XAF", "CG": "XAF", "TD": "XAF", "CF": "XAF", "GQ": "XAF"}),
                      "ريال": ("SAR", {"QA": "QAR", "OM": "OMR", "YE": "YER", "IR": "IRR"}),
                      "درهم": ("AED", {"MA": "MAD"}),
                      "دينار": ("KWD", {"BH": "BHD", "JO": "JOD", "TN": "TND", "DZ": "DZD", "LY": "LYD", "IQ": "IQD",
                                        "RS": "RSD", "MK": "MKD"})}
# A lone "R" is the South African rand, "RM" the ringgit, "PHP" the peso, "N" the naira: only for a sender in that
# country or a text that names the currency or holds a phone number of the country (_LOCAL_CURRENCY).
_CUR_BEFORE = (r"(?:(?:usd|cad|aud|nzd|mxn|hkd|sgd|twd)\s\$"  # "USD $18,450.00"
               r"|u\$[sd]|nt\$|ntd(?![a-z])|us\$|usd\$|cad?\$|aud?\$|nz\$|mx\$|r\$|s\$|hk\$|c\$|a\$|\$|€|£|¥|\uffe5|₹|₺|₩|₱|฿|₪|₽|₦"
               r"|₴|₸|₾|₼|৳|₵|gh[¢₵]|tk\.?(?=[^\S\n]{0,2}\d)"
               # "S/ 1,850.00", "S/95.50": the Peruvian sol (not "SAP S/4")
               r"|s?fr\.|rs\.?|s/(?=[^\S\n]{1,2}\d|\d{1,3}(?:[,.]\d{3})*[.,]\d{2}(?!\d))"
               r"|kshs?\.?"
               # "R", "RM", "PHP", "Rp", "N" before a number (not the N of "S/N 5CD4271BXW"): only where at home;
               # spaces may align a table's column ("R    395,00")
               # (not a code's "-R14": "rack K2-R14")
               r"|(?:" + _CODES + r")(?![a-z])|(?<!-)(?:r|rm|php|rp\.?|(?<!/)n)(?=[^\S\n]{0,6}\d))")
# A "$" after a number is its currency unless a number follows it ("30 $3,412.00": the next cell's price).
_CUR_AFTER = (r"(?:\$(?![^\S\n]{0,6}\d)|€|£|zł|kč|₺|円|元|₩|원|บาท|₴|₸|₾|₼|kr(?![a-zà-ž])\.?|:-"
              r"|(?:лв|дин|грн|тенге)(?![^\W\d_])\.?|din\.|vnđ|[đ₫](?![^\W\d_])|ntd(?![a-z])|₪|₦|₵|gh[¢₵]|cedis?(?![a-z])|(?:f\.?[^\S\n]?)?cfa(?![a-z])"
              # Arabic and Hebrew names after the number ("1,245,000 ريال سعودي", "14,900 ש״ח")
              r"|دولار(?: أمريكي)?|ريال(?: (?:سعودي|قطري|عماني))?|درهم(?: إماراتي)?|دينار|جنيه(?: مصري)?|شيكل"
              r"|ש[\"״]ח"
              # (no letter after it, in any script: not the "aud" of "20 audífonos")
              r"|(?:" + _CODES
              + r"|euros?|dollars?|pounds?|rupees?|(?:de\s+)?pesos|tenge|tl|ft|lei|mad|da|dhs?|dt|jd|bd|kd|ro)"
              r"(?![^\W\d_]))")
_NUM = (r"(?:\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?(?![\d])"  # Indian grouping: 4,85,600.00
        r"|\d{1,3}(?:[,.'\u2019\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?(?![\d])"
        r"|\d{1,3}(?: \d{3})+[.,]\d{2,3}(?!\d)"
        r"|\d{1,3}(?: \d{3})+(?![\d]|[.,]\d)"  # "6 500 €", "NOK 180 000.": thousands grouped by spaces
        r"|\d{1,3}(?:[ .\u00a0]\d{3})*(?=[.,]-)"  # "NOK 186 400,-", "kr 1.250,-": whole kroner, no decimals
        r"|0[.,]\d{3,5}(?![\d])"  # "0.5980", "$0.0042": a component's price per piece
        r"|\d+(?:[.,]\d{1,2})?(?![\d]))")
_MULT = (r"(?:\s?(?:k|m|mn|mm|bn|b|million|millions|mio\.?|mrd\.?|billion|thousand|tsd\.?|lakhs?|lacs?|crores?"
         r"|cr|mil|millones|millón|milhões|milhão|millió|milliárd|mln|mld|tys\.?|万|億|milyon|milyar|مليون|مليار"
         r"|מיליון)"
         # not the k of "können"; a Nordic "MSEK", "kNOK" (millions, thousands of the currency)
         r"(?:(?![^\W\d_])|(?<=[km])(?=(?:sek|nok|dkk|isk|eur)(?![^\W\d_]))))?")
# Not inside a word, but right after Japanese or Chinese ("約¥2,000,000の損失"): they write no spaces.
_AMOUNT_BEFORE = r"(?:(?<![\w$€£])|(?<=[\u3040-\u30ff\u4e00-\u9fff]))"
AMOUNT = re.compile(
    _AMOUNT_BEFORE + r"(?P<c1>" + _CUR_BEFORE + r")[^\S\n]{0,6}(?P<n1>" + _NUM + r")(?P<m1>" + _MULT + r")"
    # same line, not across a tab (a table's next cell)
    r"|(?<![\w.,])(?P<n2>" + _NUM + r")(?P<m2>" + _MULT + r")[^\S\n\t]?(?P<c2>" + _CUR_AFTER + r")"
    # a label naming the currency, then the number: "Order total (USD): 49,917.50"
    r"|\((?P<c3>" + _CUR_BEFORE + r")\)[ \t]*:?[ \t]{0,40}(?P<n3>" + _NUM + r")(?P<m3>" + _MULT + r")"
)
# A price right after a currency code or sign: three digits or more, or decimals.
_PRICE_AFTER = re.compile(r"[^\S\n]{0,2}(\d{3,}(?:[.,]\d+)*|\d{1,3}(?:[.,']\d{3})+(?:[.,]\d{1,2})?|\d+[.,]\d{2})(?!\d)")
# The first half of a British postcode, right before a number ("BN2 1TL", "EC4Y 0HQ").
_POSTCODE_BEFORE = re.compile(r"(?<![\w])[a-z]{1,2}\d[a-z\d]?[ \t]$")
# The rest of a range after its first amount: "$55-60k", "$8-10K", "€40 to 45 million" (the multiplier, written once,
# is both ends').
_RANGE_TAIL = re.compile(r"[^\S\n]?(?:[-\u2013\u2014]|to)[^\S\n]?(" + _NUM + r")(" + _MULT + r")(?![\w$€£])")
# Currencies written with three decimals (the Tunisian, Kuwaiti, Bahraini, Omani, Jordanian, Libyan, Iraqi dinars).
_THREE_DECIMALS = frozenset({"TND", "KWD", "BHD", "OMR", "JOD", "LYD", "IQD"})
# Currencies without decimals (ISO 4217's exponent 0, and the rupiah, written whole): "395.000 VND" is 395,000.
_NO_DECIMALS = frozenset({"VND", "IDR", "JPY", "KRW", "CLP", "ISK", "PYG", "UGX", "RWF", "BIF", "DJF", "GNF", "KMF",
                          "VUV", "XAF", "XOF", "XPF"})


def _decimals(currency: str) -> int:
    """How many decimals the currency is written with: 3, 0 or (most) 2."""
    return 3 if currency in _THREE_DECIMALS else 0 if currency in _NO_DECIMALS else 2
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "tsd": 1e3, "m": 1e6, "mn": 1e6, "mm": 1e6, "million": 1e6,
                "millions": 1e6, "mio": 1e6, "bn": 1e9, "b": 1e9, "billion": 1e9, "mrd": 1e9, "lakh": 1e5,
                "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "crore": 1e7, "crores": 1e7, "cr": 1e7, "mil": 1e3,
                "millones": 1e6, "millón": 1e6, "milhões": 1e6, "milhão": 1e6, "万": 1e4, "億": 1e8,
                "millió": 1e6, "milliárd": 1e9, "mln": 1e6, "mld": 1e9, "tys": 1e3, "milyon": 1e6, "milyar": 1e9,
                "مليون": 1e6, "مليار": 1e9, "מיליון": 1e6}


def parse_number(text: str, decimal_comma: bool, decimals: int = 2) -> float | None:
    """A number as its writer meant it: "1.215,50" and "1,215.50" are both 1215.5; a single separator before
    exactly three digits groups thousands ("1,215"), unless it is a "." from a decimal-point writer, or the writer's
    decimal separator in a currency of three decimals (`decimals` 3: "389,000 TND" from Tunis is 389); in a currency
    without decimals (0) it groups thousands whoever writes it ("395.000" dong in a Singaporean's table). Thousands
    grouped by spaces leave one "," or "." for the decimal mark ("6 950,000 TND" is 6950, "5 680 000,00 DA")."""
    s = text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace("'", "").replace("\u2019", "")
    if any(c in text for c in " \u00a0\u202f") and s.count(",") + s.count(".") == 1:
        head, tail = re.split(r"[.,]", s)
        return float(f"{head}.{tail}") if head.isdigit() and tail.isdigit() else None
    if decimals == 3 and s[-4:-3] == ("," if decimal_comma else ".") and s[-3:].isdigit():
        head = s[:-4].replace("." if decimal_comma else ",", "")
        return float(head + "." + s[-3:]) if head.isdigit() else None
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        head, _, tail = s.rpartition(sep)
        # (never after a lone zero: "0.598", "0,045" are a component's price per piece)
        thousands = s.count(sep) > 1 or (len(tail) == 3 and (sep == "," or decimal_comma or decimals == 0)
                                         and head != "0")
        s = s.replace(sep, "") if thousands else head.replace(sep, "") + "." + tail
    try:
        return float(s)
    except ValueError:
        return None


def _factor(mult: str) -> float:
    """What a multiplier word multiplies by ("k" 1,000, "lakh" 100,000); 1 for none."""
    return _MULTIPLIERS.get(lower_text(mult.strip()).rstrip("."), 1.0)


def _currency(token: str, locale: Locale, dollar: str) -> str:
    """The ISO code of a currency token; `dollar`: what a bare "$" is for this email."""
    t = lower_text(token.strip())
    if len(t) == 5 and t.endswith(" $"):  # "USD $18,450.00": the code says which dollar
        return t[:3].upper()
    if t in ("$", "dollars", "dollar"):
        return dollar
    if t in ("kr", "kr.", ":-"):
        return locale.krona
    regional = _REGIONAL_CURRENCY.get("fcfa" if t.replace(".", "").replace(" ", "") in ("cfa", "fcfa") else t)
    if regional is not None:
        return regional[1].get(locale.region, regional[0])
    mapped = _SYMBOL_CURRENCY.get(t)
    if mapped == "$":
        return dollar
    return mapped or ("CNY" if t == "rmb" else t.upper())


def _amount(value: float, currency: str) -> dict[str, Any]:
    return {"value": round(value, 2), "currency": currency}


# -------------------------------------------------------------------------------------------------- dates
_MONTH_NAMES = {  # English, German, French, Spanish, Italian, Dutch, Nordic, Polish, Portuguese, Hungarian, Finnish,
    # Turkish, Czech
    1: "january jan januar jänner janvier janv enero ene gennaio gen januari styczeń stycznia janeiro január "
       "tammikuu tammikuuta ocak ledna leden",
    2: "february feb februar février févr fevrier febrero febbraio februari luty lutego fevereiro fev "
       "február febr helmikuu helmikuuta şubat února únor",
    3: "march mar märz mär mrz mrt mars marzo maart marts mars marca março március márc maaliskuu maaliskuuta mart "
       "března březen",
    4: "april apr avril avr abril abr aprile kwiecień kwietnia április ápr huhtikuu huhtikuuta nisan dubna duben",
    5: "may mai mayo maggio mag mei maj maja maio május máj toukokuu toukokuuta may\u0131s května květen",
    6: "june jun juni juin junio giugno giu czerwiec czerwca junho június jún kesäkuu kesäkuuta haziran června "
       "červen",
    7: "july jul juli juillet juil julio luglio lug lipiec lipca julho július júl heinäkuu heinäkuuta temmuz "
       "července červenec",
    8: "august aug août aout agosto ago augustus augusti sierpień sierpnia augusztus elokuu elokuuta ağustos "
       "srpna srpen",
    9: "september sep sept septembre septiembre settembre set setembro wrzesień września szeptember szept syyskuu "
       "syyskuuta eylül září",
    10: "october oct oktober okt octobre octubre ottobre ott outubro out październik października október "
        "lokakuu lokakuuta ekim října říjen",
    11: "november nov novembre noviembre listopad listopada novembro marraskuu marraskuuta kas\u0131m listopadu",
    12: "december dec dezember dez décembre déc decembre diciembre dic dicembre grudzień grudnia dezembro "
        "desember joulukuu joulukuuta aral\u0131k prosince prosinec",
}
# Thai month names, whole and abbreviated ("2 มิ.ย. 2568"; the year of the Buddhist era: _year)
_THAI_MONTHS = ("มกราคม ม.ค", "กุมภาพันธ์ ก.พ", "มีนาคม มี.ค", "เมษายน เม.ย", "พฤษภาคม พ.ค", "มิถุนายน มิ.ย",
                "กรกฎาคม ก.ค", "สิงหาคม ส.ค", "กันยายน ก.ย", "ตุลาคม ต.ค", "พฤศจิกายน พ.ย", "ธันวาคม ธ.ค")
# Arabic month names: Egypt's and the Gulf's, then the Levant's and Iraq's (one word each: "8 يونيو", also with
# Arabic-Indic figures)
_ARABIC_MONTHS = ("يناير", "فبراير شباط", "مارس آذار", "أبريل ابريل إبريل نيسان", "مايو أيار", "يونيو يونيه حزيران",
                  "يوليو يوليه تموز", "أغسطس اغسطس آب", "سبتمبر أيلول", "أكتوبر اكتوبر", "نوفمبر", "ديسمبر")
# Slovak, Croatian, Slovene and Serbian (not Croatian "listopada", October: Polish "listopada" is November), Latvian,
# Lithuanian (before the day: "birželio 23 d."), Estonian, Bulgarian, Ukrainian and Russian, as dates write them
_MONTH_NAMES_EAST = ("januára siječnja januarja janvāris janvārī sausio jaanuar jaanuaril януари січня января",
                     "februára veljače februarja februāris februārī vasario veebruar veebruaril февруари лютого "
                     "февраля",
                     "ožujka marec marca martā kovo märts märtsil март березня марта",
                     "apríla travnja aprila aprīlis aprīlī balandžio aprill aprillil април квітня апреля",
                     "mája svibnja maijs maijā gegužės май травня мая",
                     "júna lipnja junij junija jūnijs jūnijā birželio juuni juunil юни червня июня",
                     "júla srpnja julij julija jūlijs jūlijā liepos juuli juulil юли липня июля juill",
                     "kolovoza avgust avgusta augustā rugpjūčio augustil август серпня августа",
                     "septembra rujna septembar septembris septembrī rugsėjo septembril септември вересня сентября",
                     "októbra oktobar oktobra oktobris oktobrī spalio oktoober oktoobril октомври жовтня октября",
                     "novembra studenoga studenog novembar novembris novembrī lapkričio novembril ноември листопада "
                     "ноября",
                     "decembra decembar decembris decembrī gruodžio detsember detsembril декември грудня декабря")
# Tagalog (the months Spanish does not share) and Greek, whole in the genitive as dates write them and abbreviated
_MONTH_NAMES_MORE = ("ιανουαρίου ιαν", "pebrero φεβρουαρίου φεβ", "marso μαρτίου", "απριλίου απρ", "μαΐου μαΐ μαϊ",
                     "hunyo ιουνίου ιουν", "hulyo ιουλίου ιουλ", "αυγούστου αυγ", "setyembre σεπτεμβρίου σεπ",
                     "oktubre οκτωβρίου οκτ", "nobyembre νοεμβρίου νοε", "disyembre δεκεμβρίου δεκ")
MONTHS = {name: num
          for num, names in (*_MONTH_NAMES.items(), *enumerate(_MONTH_NAMES_EAST, 1), *enumerate(_MONTH_NAMES_MORE, 1),
                             *enumerate(_THAI_MONTHS, 1),
                             *enumerate(_ARABIC_MONTHS, 1))
          for name in names.split()}
# Abbreviations that are also words ("out", "set", French "mar." for mardi): a month only with a year after it.
_AMBIGUOUS_MONTHS = frozenset({"out", "set", "mar", "gen", "ago", "dic", "lug", "ott", "dez", "fev", "giu"})
_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
DATE_ISO = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
DATE_MDY = re.compile(r"(?<![\w])(" + _MONTH_RE + r")\.?[^\S\n]+(\d{1,2})(?:st|nd|rd|th)?(?![\d:.]\d|\d)"
                      r"(?:,?\s+(\d{4})(?!\d))?")
# (after a dash only as a range's end: "28-29 Jul", not "SKU-12 Jan")
DATE_DMY = re.compile(r"(?<![\w.,/])(?:(?<![-\u2013])|(?<=(?<![\w-])\d[-\u2013])|(?<=(?<![\w-])\d\d[-\u2013]))"
                      r"(\d{1,2})(?:st|nd|rd|th|er|\.|º)?(?:\s+|-|/|\s*\.\s*)"
                      r"(?:de\s+|of\s+)?"
                      # (a year of two digits not after a comma: "2 June, 10 June" are two days)
                      r"(" + _MONTH_RE + r")(?![a-z])\.?(?:,?(?:\s+|-|/)(?:de\s+)?(\d{4}|(?<!, )\d{2})(?![\w:]))?")
# Every numeric date in one scan: year-month-day, day.month.year, month/day/year, day and month alone.
DATE_DIGITS = re.compile(r"(?<![\w/.:,$€£#-])(\d{1,4})([./-])(\d{1,2})(?:\2(\d{1,4}))?")  # "#10-01": a unit
_NOT_AFTER_DATE = re.compile(r"[\w/-]|[.,:]\d")  # "17.06.2025:" ends a clause; "12/06:30" is no date
_NOT_AFTER_SHORT = re.compile(r"[\w/%-]|[.,:]?\d")
_SHORT_RANGE_TAIL = re.compile(r"[-\u2013](\d{1,2})/(\d{1,2})(?![\w/]|[.,]\d)")  # the second day of "7/16-7/17"
_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 8, 10, 12, 16, 32, 64, 100})
# "14. 5. 2025" (Czech, Slovak, Hungarian day-first with spaces); "2025年6月26日", "6月27日" (Japanese, Chinese),
# "2025년 6월 9일" (Korean).
# "30. 5. 2025." (a sentence's dot may follow), "do pátku 20. 6." (without a year: after a cue, _DATE_CUE_BEFORE);
# year first (groups 4 to 6), as Hungarian and Korean write it: "2025. 06. 18-án", "2025. 6. 9."
DATE_SPACED = re.compile(r"(?<![\w.,/-])(?:(\d{1,2})\.\s(\d{1,2})\.(?:\s(\d{4})(?!\d|\.\d)|(?![\d\w]|\s\d))"
                         r"|(20\d\d)\.\s(\d{1,2})\.\s(\d{1,2})(?=\.(?!\d)|-[^\W\d_]|[\s,;:)]|$))")
DATE_CJK = re.compile(r"(?<!\d)(?:(\d{4})\s?[年년]\s?)?(\d{1,2})\s?[月월]\s?(\d{1,2})\s?[日일]")
# A day and month without a year ("6/27", "15/09", "25.06.", "23-06") that is not zero-padded and has no trailing dot
# needs a date word before it: "1/2 of the pallets" is no date.
_DATE_CUE_BEFORE = re.compile(
    r"(?:\b(?:by|on|until|till|til|before|after|from|to|due|eta|etd|date|dated|deadline|expires?|expired\s+on|"
    r"through|thru|since|for|than|around|circa|approx|approximately|ship|ships|shipping|arrive|arrives|arriving"
    r"|starting|starts|start|week\s+of|w/c|week\s+commencing|yesterday|today|tomorrow|"
    r"mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday"
    r"|sunday|am|bis|vom|zum|ab|seit|le|au|du|jusqu'au|avant|el|del|al|hasta|desde|entro|il|dal|tot|op|vóór|em"
    r"|até|de|do|od|na|per|termin|liefertermin|lieferdatum|zustellung|livraison|entrega|consegna|levering"
    r"|senast|senest|innan|före|inden|viimeistään|innen|sent|paid"
    r"|ordered|ve|v|semalam|pada|date\s+of|go-?live(?:\s+of)?"
    r"|promised|arrived|returned|submitted|received|shipped|dispatch|dispatched|invoiced|thurs|tues|weds"
    r"|followed\s+up|chased|expects?|expected|zítra|morgen|mañana|domani|demain|amanhã|jutro"
    r"|live|(?:showed|turned|shows|turns)\s+up"  # "goes live 7/7", "it showed up 6/11"
    r"|förfallodag|forfallsdato|forfaldsdato|vencimiento|fällig"
    r"|poslali|zaslali|odeslali|odoslali|wysłali\w*|wysłano"  # Czech, Slovak, Polish "sent" ("poslali 2. 6.")
    # shipping, delivery and arrival, and "from", in Czech, Slovak, Polish, Croatian and Slovene ("expedujeme 14. 5.",
    # "doručení 21. 5.", "zásilka ze 14. 5.")
    r"|ze|zo|expedujeme|expedice|expedícia|odešleme|odošleme|doručení|doručenie|dodání|dodanie|dorazí|príde"
    r"|dostawa|dostawy|wysyłka|isporuka|dostava|dobava)"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|lundi|mardi|mercredi|jeudi|vendredi|lunes|martes|miércoles"
    r"|jueves|viernes|lunedì|martedì|mercoledì|giovedì|venerdì|maandag|dinsdag|woensdag|donderdag|vrijdag"
    r"|segunda|terça|quarta|quinta|sexta|måndag|tisdag|onsdag|torsdag|fredag|mandag|tirsdag|poniedziałek|wtorek"
    r"|środa|czwartek|piątek|pondělí|úterý|středa|středu|středy|čtvrtek|čtvrtka|pátek|pátku|sobota|sobotu|soboty"
    r"|neděle|neděli|hétfő|kedd|szerda|csütörtök|péntek|szombat|vasárnap|luni|marți|miercuri|joi|vineri|sâmbătă"
    r"|duminică|ponedjeljak|utorak|srijeda|srijedu|četvrtak|petak|subota|subotu|nedjelja|ponedeljek|torek|sreda"
    r"|sredo|četrtek|petek|soboto|nedelja|isnin|selasa|rabu|khamis|jumaat|sabtu|ahad|maanantai|tiistai"
    r"|keskiviikko|torstai|perjantai|lauantai|sunnuntai|pazartesi|salı|çarşamba|perşembe|cuma|cumartesi|pazar"
    r"|วันที่|ngày)"  # Thai and Vietnamese "date", "day" ("เมื่อวันที่ 12/6")
    r"[\s,.:(]*$")


# Between two dates of a list: a comma or "and" (or "or") in the mailbox's languages.
_DATE_LIST_JOIN = re.compile(r"\s*(?:,|&|" + _CONJUNCTIONS + r"|of|eller|oraz|lub|ja|tai|un|ir|и|і)?\s*",
                             re.IGNORECASE)


def _after_date_cue(text: str, start: int) -> bool:
    """Whether a cue of a date ("by", "due", a weekday) ends right before `start`: a day and month without a year
    are a date there ("do pátku 20. 6.", "sent 27/5"), not a fraction or a count."""
    return _DATE_CUE_BEFORE.search(text, max(0, start - 24), start) is not None


# "del 23 al 27 de junio", "23-27 June", "June 23-27": the first day of a range before a month-name date.
_DASHES = "-\u2013\u2014"  # hyphen, en dash, em dash
_RANGE_START = re.compile(r"(\d{1,2})(?:st|nd|rd|th|\.)?\s*(?:[" + _DASHES + r"]|to|al|au|bis|till|until|through|a|t/m"
                          r"|tot|do|and|&|et|und|y|e|og|och|en|i|un|ir|ja|и|і)\s*$")  # "27 and 28 May": two days
_RANGE_END = re.compile(r"\s*(?:[" + _DASHES + r"]|to|through|until|till)\s*(\d{1,2})(?:st|nd|rd|th)?(?![\d/.:])")
_DURATION_AFTER = re.compile(r"[ \t]*(?:(?:working|business|calendar|work|werk|arbeits)[ \t]*)?"
                             r"(?:days?|weeks?|months?|hours?|hrs|días|dias|semanas|meses|giorni|settimane|mesi|jours"
                             r"|semaines|mois|tage|wochen|werktage|monate|dagen|weken|dni|tygodni|dagar|veckor|uger|dage|uker|dager"
                             r"|arbejdsdage|arbetsdagar|arbeidsdager|werkdagen|päivää|työpäivää|viikkoa|napot|munkanap"
                             r"|pracovních|dní|týdnů)(?!\w)",
                             re.IGNORECASE)
# A fraction of something ("1/2 of the pallets"); not the Dutch "of" (or): "14/7 of dinsdag 15/7".
_OF_AFTER = re.compile(r"\s+(?:of|de|di|van|von)\s+(?:the|our|all|them|your|this|that|these|those|it|les?|la|los|las"
                       r"|del?|het|den|die|der)\b", re.IGNORECASE)
_VERSION_BEFORE = re.compile(r"(?:version|rev\.?|v|ver\.?|release|firmware|fw|build)\s*$")
# A time of day, not a date: "klo 14.02" (Finnish), "kl. 13.05" (Nordic), "kello 11.20", "pukul 08.15" and "jam
# 20.45" (Indonesian and Malay).
_TIME_BEFORE = re.compile(r"(?<![^\W\d_])(?:klo|kl\.?|kello|ore|hrs?\.?|pukul|jam)\s*$")


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def _year(two_or_four: str) -> int | None:
    y = int(two_or_four)
    if len(two_or_four) == 2:
        return 2000 + y if y < 70 else None
    if 2533 <= y <= 2643:
        return y - 543  # a year of the Buddhist era (Thailand): 2568 is 2025
    return y if 1990 <= y <= 2100 else None


_WEEKDAYS = {"mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2, "thu": 3,
             "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5, "saturday": 5, "sun": 6,
             "sunday": 6}
_WEEKDAY_BEFORE = re.compile(r"(?<![^\W\d_])([a-z]{3,9})\.?,?[ \t]+$")


# A date written as eight digits in an EDI or ERP field ("PO Date       : 20250617", "DTM*002*20250620"), after a
# date's label on its line: not an order's, an invoice's or a phone's digits
_DATE_COMPACT = re.compile(r"(?<![\w/.-])(20[2-3]\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?![\w/.-])")
_COMPACT_DATE_CUE = re.compile(r"(?:date|datum|fecha|data|ship|delivery|dtm\*\d{3})[^\n\d]{0,30}$")
# What before a day and month written "29.6" makes them a date, not a number: "until", "by", a weekday, Hebrew "עד"
# (until).
_DOT_DATE_CUE = re.compile(r"(?<![^\W\d_])(?:until|till|by|before|due|since|sunday|monday|tuesday|wednesday"
                           r"|thursday|friday|saturday|עד)[ \t]+$")


def _weekday_before(text: str, start: int) -> int | None:
    """The English day of the week written right before `start` ("Fri 7/04/2025"), 0 for Monday; else None."""
    m = _WEEKDAY_BEFORE.search(text, max(0, start - 12), start)
    return _WEEKDAYS.get(m.group(1)) if m else None


def _weekday_is(year: int, month: int, day: int, weekday: int) -> bool:
    try:
        return date(year, month, day).weekday() == weekday
    except ValueError:
        return False


def _nearest(m: int, d: int, ref: date | None) -> str | None:
    """A date without a year, in the year that puts it nearest the email's own date."""
    if ref is None:
        return None
    best: tuple[int, date] | None = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        try:
            candidate = date(y, m, d)
        except ValueError:
            continue
        gap = abs((candidate - ref).days)
        if best is None or gap < best[0]:
            best = (gap, candidate)
    return best[1].isoformat() if best else None


# ------------------------------------------------------------------------------------------------- phones
PHONE = re.compile(
    r"(?<![\w/=&?#%.,+-])((?:\+|00)\s?)?(\(?\d[\d \t().\-/\u00a0]{5,24}\d)"
    # an extension, perhaps in parentheses, perhaps after a label of the number or a dash or slash: "(ext. 233)",
    # "(代表) 内線 215", "400 \u2013 ext. 2214" (en dash), "45 00 / ext. 1180", "960415 | Ext 4415", "3456 转 802",
    # "(내선 213)", "5678 تحويلة 140", "9900 שלוחה 204", "4455 ต่อ 212", "3366 #205", "4400, εσωτ. 214"
    r"(?:(?:\s*[(\uff08][^()\uff08\uff09\n\d]{1,12}[)\uff09])?\s*(?:[,/|\u2013\u2014-]\s*)?[(\uff08]?\s*"
    r"(?:ext\.?|extn\.?|extension|x\.?|durchwahl|dw\.?"
    r"|poste|interno|int\.?|anexo|ramal|r\.|wewn?\.?|dahili|lokal|local|loc\.?|ankn\.?|anknytning|εσωτ\.?|εσωτερικό"
    r"|内線|內線|分機|分机|转|轉|내선|تحويلة|داخلي|שלוחה|ต่อ|#)\s*[:\uff1a.]?\s*"
    r"(\d{1,6})[)\uff09]?)?(?![\w/=&%]|[.,]\d|-\d)",
)
_PHONE_CUE = re.compile(  # each a word of its own ("T:", not the "t" that ends "sent")
    r"(?<![^\W\d_])(?:tel|tél|phone|ph|mobile|mob|cell|cellphone|fax|call|ring|reach|dial|hotline|telefon|telefono|teléfono"
    r"|telefone|handy|móvil|movil|cel|celular|tlf|t|m|f|p|o|d|l|direct|office|main|switchboard|whatsapp|mobil"
    r"|portable|numéro|number|nummer|numero|número|at|on|or|au|unter|al|allo|op|pod|no|numer|telefonisch|kom"
    r"|tlf|puhelin|tel\.|contact|ddi|did|gsm|pbx|telem|tlm|landline|携帯|電話|直通|代表|フリーダイヤル|手機|手机|电话"
    r"|傳真|传真|τηλ|τηλέφωνο|τηλέφωνα|κινητό|φαξ|тел|телефон|моб|факс|puh|tfn|telefoon|mobiel|đt|sđt|h/p"
    r"|arayın|arayınız|cep"
    r")\b(?:\s*\([^()\n]{0,10}\))?[^\n\d]{0,12}$|/\s*$"  # "Hotline (24/7): ", "a@b.fr / "
    r"|(?:โทรศัพท์|โทร|มือถือ|แฟกซ์|전화|휴대폰|핸드폰|팩스|هاتف|جوال|للتواصل)[^\n\d]{0,12}$",  # Thai, Korean, Arabic
)
# Right before a number: it is something else (a meeting id, a passcode, an order, a tax or company id ...). Each
# word stands after a non-letter ("DID:" is a phone's label, not an "id").
_NOT_PHONE_CUE = re.compile(
    r"(?<![^\W\d_])(?:meeting|conference|webinar|access|participant|attendee|host|dial-in\s+pin|event|besprechungs"
    r"|konferenz|sitzungs)[\s-]*(?:id|code|number|no\.?|nummer|kennung)[^\n\d]{0,6}$"
    r"|(?<![^\W\d_])(?:id|code|numéro|número|numero|codice)\s+(?:de\s+(?:la\s+)?|della\s+|da\s+)?(?:réunion|reunión"
    r"|riunione|reunião|conférence|conferencia|conferenza|spotkania|vergadering)[^\n\d]{0,6}$"
    r"|(?<![^\W\d_])(?:passcode|password|pin|code|id|kennwort|kenncode|code\s+secret|contraseña|pw)\s*[:#]?\s*$"
    r"|(?<![^\W\d_])(?:po|p\.o\.|order\w*|invoice|case|ticket|tracking|s/n|serial|account|acct|iban|vat|ust|quote"
    r"|rma|sr|bol|incident|ref|reference|auftrag\w*|bestell\w*|rechnung\w*|commande|pedido|ordine|kunden\w*"
    r"|konto\w*|cep|plz|zip|postcode|postal\s+code|nip|regon|krs|hrb|siret|siren|cnpj|cpf|gst|gstin|pan|abn|utr|neft"
    r"|sold-to|ship-to|customer|cust|vendor|supplier|p\.\s?iva|iva|c\.f\.|codice\s+fiscale|nit|cuit|rut|rfc|nif|cif"
    r"|ičo|dič|ico|dic|cvr(?:-nr)?|trn|tin|ein|vkn|vergi\s+no|con\s+note|consignment|guía|guia|remito|factura"
    r"|fatura|faktura"
    r"|sipariş|objednávka|伝票番号|問い合わせ番号|お問い合わせ番号|注文番号|受付番号|job|shipment|waybill|awb"
    r"|delivery\s+note|lieferschein|asn|pro|bill\s+of\s+lading|b/l|container)"  # (a freight bill's "PRO 0487712231")
    r"(?:\s+(?:confirmation|number|no\.?|nr\.?|id|ref|code))*\s*(?:no\.?|number|nr\.?|#|:|\uff1a)*\s*[:#(]?\s*$",
)
_COUNTRY_CODE = re.compile(r"\+([1-9]\d{0,2})[\s(]")
_NANP = re.compile(r"(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}")
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+")


@lru_cache(maxsize=4096)
def _phone(raw: str, ext: str | None, regions: tuple[str, ...], cue: bool, guess: bool = False) -> str | None:
    """A phone number in its normal form, or None (remembered: signatures repeat, and phonenumbers takes about
    20 us a number). A national number ("030 1234 5678", "04 72 33 18 90") is read in
    the first of `regions` (the sender's, then the countries of addresses and numbers in the text) where it is a
    valid number (written in groups: see below); North American numbers only need to be possible (the 555 numbers of
    examples are not valid).
    A national number without a cue ("Tel:", "call") must be written in groups that start as that country writes
    its numbers ("07 3221 8450" in Australia, "0120-01-9625" in Japan): other digit runs are ids, not phones."""
    digits = sum(map(str.isdigit, raw))
    if not 7 <= digits <= 15:
        return None
    intl = raw.startswith("+") or raw.startswith("00")
    labelled = intl or cue or _nanp_written(raw)
    groups = len(_DIGIT_GROUPS.findall(raw))
    if not labelled and groups < 2:
        return None  # (an unlabelled run of digits is read only when grouped as a country writes its numbers)
    nanp = _north_american(raw, intl, regions[0]) if labelled else None
    if nanp is not None:  # what phonenumbers would make of it, without its cost (20 us a number)
        return nanp + (f"x{ext}" if ext else "")
    number = fallback = None
    # A labelled national number written in groups is read in the first region where it is valid and grouped as that
    # country writes it ("011 392 4410": Johannesburg's, not Ireland's "(01) 1392 4410"), else in the first where it
    # is valid (not then as North American: "98250 77441" is Indian); the sender's own country, when its domain says
    # it (not `guess`ed from the UTC offset), needs only the number to be valid there.
    grouped = not intl and groups >= 2
    for i, region in enumerate(regions[:1] if intl else regions):
        try:
            candidate = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if candidate.country_code == 1:
            if (labelled and fallback is None and _nanp_shape(candidate.national_number or 0)
                    and not candidate.italian_leading_zero):
                number = candidate
                break
        elif not _valid(candidate):
            continue
        elif not labelled:
            if _grouped_as_national(raw, candidate):
                number = candidate
                break
        elif not grouped or (i == 0 and not guess) or _grouped_as_national(raw, candidate):
            number = candidate
            break
        elif fallback is None:
            fallback = candidate
    number = number or fallback
    if number is None:
        return None
    national = str(number.national_number)
    if number.italian_leading_zero and number.country_code != 234:  # (Nigeria's "01 277 4410": a trunk prefix)
        national = "0" * (number.number_of_leading_zeros or 1) + national
    value = national if number.country_code == 1 else f"+{number.country_code}{national}"
    return value + (f"x{ext}" if ext else "")


# The numbers Ofcom keeps for drama and examples (UK: 07700 900xxx, 01632 960xxx, 020 7946 0xxx ...), the UK's "555"
# numbers: not valid for phonenumbers, yet written in signatures and examples as phones.
_FICTIONAL = re.compile(r"(?:11[3-8]4960|1[2-6]14960|1914980|2079460|2896496|2920180|1632960|7700900|8081570|9098790"
                        r"|3069990)\d{3}")


# Nigeria's landlines as still written in signatures: an area code and a seven-digit (Lagos "+234 1 277 4410", Abuja
# "+234 9 461 2345") or six-digit number ("+234 84 123456"), which phonenumbers' metadata now finds too short.
_NG_LANDLINE = re.compile(r"[1-9]\d{7}")


def _valid(number: phonenumbers.PhoneNumber) -> bool:
    if phonenumbers.is_valid_number(number):
        return True
    national = str(number.national_number)
    return ((number.country_code == 44 and _FICTIONAL.fullmatch(national) is not None)
            or (number.country_code == 234 and _NG_LANDLINE.fullmatch(national) is not None))


def _grouped_as_national(raw: str, number: phonenumbers.PhoneNumber) -> bool:
    """Whether `raw` is written in groups (two at least) whose first is the first of the number's national format:
    its trunk and area or service code as the country writes them ("07", "0120")."""
    written = _DIGIT_GROUPS.findall(raw)
    national = _DIGIT_GROUPS.findall(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    if len(written) < 2 or len(national) < 2:
        return False
    if written[0] == national[0]:
        return True
    # A Spanish number grouped as the provinces' codes were: "93 220 41 80", "91 577 42 10" (national format "932 20
    # 41 80"); not other countries' (a Singapore or Guatemala id in pairs is no phone)
    return (number.country_code == 34 and [len(g) for g in written] == [2, 3, 2, 2]
            and national[0].startswith(written[0]))


_DIGIT_GROUPS = re.compile(r"\d+")
_CAPITALS_BEFORE = re.compile(r"(?<![\w-])[A-Z]{2,5} $")  # "LGHP " before "2/18"
_SIGNATURE_BARS = frozenset("|·•")  # what separates a signature line's cells
# A table's amount, not a phone in its cell: "1.250.000" (and any number with a comma: "31,500,000", "12,880.50")
_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3}){2,}")


def forget_phones() -> None:
    _phone.cache_clear()


# The regions of country code 1: a national number there is read as North American.
_NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))


# "1-800-463-3339", "1.800.463.3339": written with North America's country code, wherever the sender is.
_NANP_WITH_ONE = re.compile(r"1[\s.-]\(?[2-9]\d{2}\)?[\s.-][2-9]\d{2}[\s.-]\d{4}")


def _north_american(raw: str, intl: bool, region: str) -> str | None:
    """The ten digits of a North American number written "+1 ..." or, by a sender in a country of code 1, without
    a country code (a leading national "1" dropped); None when it is not one (phonenumbers decides then)."""
    if intl:
        if not raw.startswith("+1"):
            return None
    elif region not in _NANP_REGIONS and _NANP_WITH_ONE.fullmatch(raw.strip()) is None:
        return None
    digits = "".join(c for c in raw if "0" <= c <= "9")
    if intl or (len(digits) == 11 and digits[0] == "1"):
        digits = digits[1:]
    return digits if len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01" else None


def _nanp_written(raw: str) -> bool:
    """Whether `raw` is written as North American numbers are, maybe after a parenthesis that closes after it
    ("bridge (1-888-555-0143)")."""
    shape = raw.strip()
    if shape[:1] == "(" and ")" not in shape:
        shape = shape[1:]
    return _NANP.fullmatch(shape) is not None


def _nanp_shape(national: int) -> bool:
    """Ten digits, area code and exchange each starting 2-9: what every North American number looks like."""
    digits = str(national)
    return len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01"


EMAIL = re.compile(r"(?<![\w.+-])[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}(?![\w])")

# ------------------------------------------------------------------------------------------------- tables
# A line of a plain-text table: cells split by "|", tabs, or runs of two or more spaces (not between a currency sign
# and its number: "$   58.90" is one cell; "685,00 €  10 740,00 €" two).
# The signs' lookarounds cost (6.0 us a split against 1.9 over the 322 table-like lines of dev.jsonl): only for lines
# that hold a sign.
_CELL_SPLIT = re.compile(r"\s*\|\s*|\t+\s*|\s{2,}")
_CELL_SPLIT_SIGNS = re.compile(r"\s*\|\s*|\t+\s*"
                               r"|(?<!\s)(?:(?<![$€£¥₹])|(?<=\d[$€£¥₹])|(?<=\d\s[$€£¥₹])|(?!\s*\d))\s{2,}")
_SIGNS = frozenset("$€£¥₹")
# Header cells, matched lower-cased (without re.IGNORECASE: several times faster).
_PO_COLUMN = re.compile(r"(?:(?:customer|cust\.?|your|client|notre|nuestro|nosso|unsere)\s+)?"
                        r"(?:po|p\.o\.|purchase\s+order|bestellnummer|commande|pedido|nr\s+zamówienia|zamówienie|objednávka|order\s+(?:no\.?|#)"
                        r"|bestell-nr\.?|po\s*(?:no\.?|number|#))\s*(?:no\.?|#|number|nr\.?)?"
                        r"|[a-z .]{0,20}\(po\)")  # "Your Ref (PO)"
# A column of support cases, tickets or complaints ("Complaint No.", "Ticket #"): not of returns (an RMA is none).
_CASE_COLUMN = re.compile(r"(?:case|ticket|complaint|claim|incident|caso|réclamation|reklamation)\s*"
                          r"(?:no\.?|#|number|nr\.?|id)?")
# A price column's own words; a column that names no currency takes the email's one currency (resolve_unpriced).
_PRICE_WORDS = (r"price|preis|prix|precio|prezzo|prijs|preço|pris|cena|amount|betrag|montant|importe|importo|bedrag"
                r"|total|totaal|summen?(?![a-z])|subtotal|gesamt|valor|wert|brutto|netto|skonto|zahlbetrag|kwota"
                r"|(?<![a-z])(?:[eg]p|pu|p\.\s?u\.)(?![a-z])"
                r"|celkem|fiyat|tutar|toplam|hinta|summa|beløb|belopp|wartość|egységár|összeg|preț|valoare|τιμή|αξία|単価|金額|価格|合計|小計|单价|金额|价格|總價"
                r"|cijena|ukupno|iznos|znesek|vrednost|kaina|(?<![a-z])(?:suma|hind)(?![a-z])|цена|ціна|сума|сумма|вартість|стойност"
                r"|стоимость"
                r"|总价|合计|단가|금액|합계|공급가액|ราคา|จำนวนเงิน|đơn\s+giá|thành\s+tiền|harga|jumlah"
                r"|cost|msrp|rrp|uvp|extended|(?<![a-z])ext\.?(?![a-z])|(?<![a-z])extension(?![a-z])|net\s+value"
                # (a remittance's "Gross Amt | Discount | Net Paid")
                r"|line\s+total|(?<![a-z])amt(?![a-z])|net\s+paid|discount")
_PRICE_WORD = re.compile(_PRICE_WORDS)
# A priced column when its header also names a currency: "unit", "net", "value", "rate", "gross", "paid", "due",
# "balance" and "target" too ("Unit (EUR)", "Rate (Rs.)", "Gross (INR)", "Target (USD)"); and any header
# with a currency's code or sign in parentheses ("Current (EUR) | New (EUR)", "Annual (£)").
_PRICE_COLUMN = re.compile(_PRICE_WORDS + r"|unit|net|value|rate|gross|paid|due|balance|target"
                           r"|\(\s*(?:" + _CODES + r"|[$€£¥₹])\s*\)")
# (not "Bhd", Malaysia's "Berhad" after a company's name: a Bahraini dinar only where an amount is written with it)
_NAMED_CODE = re.compile(r"(?<![a-z])(?!bhd(?![a-z]))(" + _CODES + r")(?![a-z])")
# A label with letters, then one number at the end of the line (a currency sign may follow it).
# Empty cells may stand between the label and the number ("Subtotal |   |  36,390.00").
# The separators before the number are matched atomically ((?>...)): the pattern's runs of spaces could be split
# between its parts in many ways, and a line that fails ("Subtotal      $5,807.35") took milliseconds (the same
# results on the 16,403 non-empty lines of every labelled set, 25 x faster over them).
# A quoted line's ">" may come first, and a rate before the label ("21% VAT   766,19").
_TOTAL_LINE = re.compile(r"^[ \t]*(?:>[ \t]*)*(?:\|[ \t]*)*(?:\d{1,2}(?:[.,]\d{1,2})?[ \t]?%[ \t]*)?"
                         r"[^\W\d_][^\n\d|]*?(?:\d+(?:[.,]\d+)?\s*%[^\n\d|]*?)?"
                         r"(?>[ \t:|]+)"
                         r"(\d[\d.,' \u00a0]*\d)"
                         r"\s*(?:[^\W\d_]{0,3}|[$€£¥₹₺₩₱฿₪₽])"
                         r"\s*\|?\s*$")
_COLUMN_CURRENCY = re.compile(r"(?<![a-z])(" + _CODES + r")(?![a-z])|((?:us|usd|hk|s|a|au|aud|nz|c|ca|cad|mx|r)\$"
                              r"|[$€£¥₹₺₩₱฿₪₽₦円元৳원₫]|บาท|vnđ|kč|zł|(?<![a-z])(?:tl|ft|kr|ksh|rs\.?|tk|s/|ntd|php|rm|rp)(?![a-z]))")


@dataclass
class Entities:
    po_numbers: list[str] = field(default_factory=list)
    quote_numbers: list[str] = field(default_factory=list)
    case_numbers: list[str] = field(default_factory=list)
    part_numbers: list[str] = field(default_factory=list)
    amounts: list[dict[str, Any]] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[Any]]:
        # Written out: dataclasses.fields() and getattr() by name cost 3 us an email (interpreted, every call).
        return {"po_numbers": list(self.po_numbers), "quote_numbers": list(self.quote_numbers),
                "case_numbers": list(self.case_numbers), "part_numbers": list(self.part_numbers),
                "amounts": list(self.amounts), "dates": list(self.dates), "phones": list(self.phones),
                "emails": list(self.emails)}


def _listed_code(token: str) -> bool:
    """A code in an order line or a list of parts: five characters or more, in capitals, a letter and a digit; or a
    catalogue number of digits alone ("1 x roof panel 47700128"), six digits or more, maybe with one or two dashes
    ("90245-1120", "000-186-371"; not a phone's groups, "617-555-0193", "1-800-555-0199")."""
    capitals = _DIMENSION_X.sub("X", token)  # "KB-BSD-640x110": a size's "x" inside a code
    if len(token) >= 5 and capitals.upper() == capitals and any(c.isdigit() for c in token) and any(
            c.isalpha() for c in token):
        return True
    digits = token.replace("-", "", 2)
    return len(digits) >= 6 and digits.isdigit() and _NANP_SHAPE.fullmatch(token) is None


def _on_party_line(text: str, at: int) -> bool:
    """Whether the line holding `at` names a party of an order or a payment (_PARTY_LINE: "Sold-to:", "Payer")."""
    return _PARTY_LINE.match(text, text.rfind("\n", 0, at) + 1) is not None


def _dated_document(token: str, cat: PartCatalogue) -> bool:
    """A document's number with its year ("réf. CTR-MA-2024-118", "TKL-2025-0612"), unless a manufacturer's own
    format says it is a part."""
    return _YEAR_SEGMENT.search(token) is not None and not cat.is_vendor_part(token)


def _id_prefix(value: str) -> str:
    """An id's letters before its first "-" or "/" ("SO-0099420", "ZS/2025/07/1184"), or the whole id."""
    return value.split("-", 1)[0].split("/", 1)[0]


def _domain_region(tld: str) -> str | None:
    """The country whose national numbers an address at this top-level domain writes (".no": NO, ".uk": GB), or
    None for a generic or unknown domain."""
    tld = tld.upper()
    region = "GB" if tld == "UK" else tld
    return region if len(tld) == 2 and phonenumbers.country_code_for_region(region) else None


def _add(seq: list[Any], value: Any) -> None:
    if value not in seq:
        seq.append(value)


class _Extractor:
    """One email's extraction: the text, its lower-cased copy, the spans already claimed by an entity.

    The patterns are written in lower case and run on the lower-cased copy (`scan`): with re.IGNORECASE Python's
    engine is several times slower. Values are read back from the text at the same offsets."""

    def __init__(self, text: str, low: str, locale: Locale, parts: PartCatalogue | None, received: date | None,
                 hits: Hits | None):
        self.text, self.locale, self.parts, self.received = text, locale, parts, received
        self.scan = aligned_lower(text, low)
        # Where each rule can match (workers.email.scan); None: every rule scans the whole text (the reference).
        self.hits = hits
        self._regions: tuple[str, ...] | None = None
        self._dialled: list[tuple[int, str]] = []  # where each "+CC" number stands, and its region
        self._quoted: list[tuple[int, str]] | None = None  # where a quoted header names its sender's country
        self._day_first: bool | None = None
        self._numeric_dates: list[re.Match[str]] = []  # DATE_DIGITS' matches (dates), read by day_first too
        self._last_short_date = -1  # where the last day and month without a year read as a date ended
        self._dollar: str | None = None
        self._not_phone_ends: frozenset[int] | None = None
        self._not_part_ends: frozenset[int] | None = None
        self._unpriced: list[float] = []  # amounts of price columns that name no currency (resolve_unpriced)
        self._priced: set[int] = set()  # where each line that holds an amount starts (priced_lines)
        self.e = Entities()
        self.taken = bytearray(len(text) + 1)  # 1 where an entity already claimed the character

    def iter(self, probe: str, rule: re.Pattern[str], text: str) -> Iterable[re.Match[str]]:
        """rule.finditer(text), tried only where `probe` found the rule can start."""
        if self.hits is not None and probe not in self.hits.offsets:
            return ()  # most probes found nothing: no generator to make and run
        return matches(rule, text, self.hits, probe)

    def search(self, probe: str, rule: re.Pattern[str], text: str, pos: int) -> re.Match[str] | None:
        if self.hits is not None and probe not in self.hits.offsets:
            return None
        return search(rule, text, self.hits, probe, pos)

    def free(self, s: int, t: int) -> bool:
        return self.taken.find(1, s, t) < 0

    def claim(self, s: int, t: int) -> None:
        self.taken[s:t] = b"\x01" * (t - s)

    def run(self) -> Entities:
        for m in self.iter("url", URL, self.scan):  # numbers inside URLs are no phones, parts or ids
            self.claim(*m.span())
        emails = EMAIL.finditer(self.scan) if self.hits is None else matches_at(EMAIL, self.scan, self.email_starts())
        for m in emails:
            _add(self.e.emails, m.group(0))
            self.claim(*m.span())
        self.dates()
        self.ids()
        self.tables()
        if self.parts is not None:
            self.part_numbers(self.parts)
        self.amounts()
        self.resolve_unpriced()
        if self.parts is not None:
            self.priced_lines(self.parts)
        self.phones()
        # An id found as a PO, quote or case where a cue names it is that, wherever else it stands ("livraison
        # CMD-88120" in the subject of a mail whose text says "bon de commande CMD-88120"): not also a part.
        named = {*self.e.po_numbers, *self.e.quote_numbers, *self.e.case_numbers}
        if named and self.e.part_numbers:
            self.e.part_numbers[:] = [p for p in self.e.part_numbers if p not in named]
        return self.e

    def email_starts(self) -> list[int]:
        """Where an address can start, from its "@": the start of the run of local-part characters before it, and
        after each "%" in that run (the only one of them an address may follow)."""
        scan, out = self.scan, []
        assert self.hits is not None
        for at in self.hits.of("email"):
            s = at
            while s > 0 and scan[s - 1] in _LOCAL_PART:
                s -= 1
            out.append(s)
            out.extend(i + 1 for i in range(s, at) if scan[i] == "%")
        return sorted(set(out))

    # -- ids
    def ids(self) -> None:
        text = self.scan
        for m in self.iter("po_alnum", PO_ALNUM, text):
            value = m.group(0).upper()
            if not (value.startswith("PO-") and value[3:].isdigit()):
                _add(self.e.po_numbers, value)
                self.claim(*m.span())
        for m in self.iter("po_sap", PO_SAP, text):
            if self.free(*m.span()) and not _OTHER_ID_BEFORE.search(text, max(0, m.start() - 25), m.start()):
                _add(self.e.po_numbers, m.group(0))
                self.claim(*m.span())
        for m in self.iter("quote_bare", QUOTE_BARE, text):
            if self.free(*m.span()):
                _add(self.e.quote_numbers, m.group(1).upper())
                self.claim(*m.span())
        for m in self.iter("case_bare", CASE_BARE, text):
            if self.free(*m.span()):
                _add(self.e.case_numbers, next(g for g in m.groups() if g).upper())
                self.claim(*m.span())
        self.cued("po", PO, self.e.po_numbers, po=True, not_prefixes=_NOT_PO_PREFIXES)
        self.cued("order", ORDER, self.e.po_numbers, po=True, not_prefixes=_NOT_PO_PREFIXES, accept=_order_id)
        self.cued("quote", QUOTE, self.e.quote_numbers, not_prefixes=_NOT_QUOTE_PREFIXES, not_parts=True)
        self.cued("case", CASE, self.e.case_numbers, not_prefixes=_NOT_CASE_PREFIXES)
        if self.hits is None or "cjk" in self.hits.gates:
            self.cued("", PO_CJK, self.e.po_numbers, po=True, not_prefixes=_NOT_PO_PREFIXES)
            self.cued("", QUOTE_CJK, self.e.quote_numbers)
            self.cued("", CASE_CJK, self.e.case_numbers, not_prefixes=_NOT_CASE_PREFIXES)

    @staticmethod
    def _cue_before_id(rule: re.Pattern[str], m: re.Match[str]) -> re.Match[str]:
        """Where what follows a cue is another cue ("case (SR 697845123)", "Service Request SR 3-4418276"), the match
        of the rule at that cue: its id is the one meant."""
        while not any(c.isdigit() for c in m.group(1)) and (inner := rule.match(m.string, m.start(1))) is not None:
            m = inner
        return m

    def cued(self, probe: str, rule: re.Pattern[str], into: list[str], *, po: bool = False,
             not_prefixes: frozenset[str] = frozenset(), accept: Callable[[str, str], bool] | None = None,
             not_parts: bool = False) -> None:
        """`not_parts`: a manufacturer's part number after the cue is what the cue asks about, not its id ("RFQ:
        TPS54331DR, GRM21BR61E106KA73L"): left to the part rules."""
        text = self.scan
        for found in self.iter(probe, rule, text) if probe else rule.finditer(text):
            m = self._cue_before_id(rule, found)
            if not self.free(*m.span(1)):
                continue
            first = m.group(1).upper()
            if not _valid_id(first) or _id_prefix(first) in not_prefixes:
                continue
            cue = text[m.start():m.start(1)]
            if accept is not None and not accept(first, cue):
                continue
            if (not_parts and self.parts is not None and self.parts.is_vendor_part(first)
                    and not _DOCUMENT_OF_YEAR.match(first)):
                continue
            if _WORD_IN_ID.search(self.text, *m.span(1)):
                continue  # "quote 3-year support": ids are not written with lower-case words
            if text[m.start(1) - 1] == "/" and not _structured(first):
                continue  # "RFQ/TWL/0625/117" is an id of its own, "$48.90/case/10RM" a unit
            if " - " in text[m.start():m.start(1)] and sum(map(str.isdigit, first)) < 4:
                continue  # "RFQ - DL380 Gen11 refresh": a subject's dash, then what it is about (a model)
            if po and first.startswith("PO-") and first[3:].isdigit():
                first = first[3:]  # "PO-4500123456": the label, then the digits
            elif (text[m.start(1) - 1] in "-/" and _SHORT_CUE.fullmatch(text, m.start(), m.start(1) - 1)
                  and text[m.start():m.start(1) - 1] != "po"):
                first = f"{text[m.start():m.start(1)]}{first}".upper()  # "OC-2025-118": the label is its prefix
            _add(into, first)
            self.claim(*m.span(1))
            digits_only = first.isdigit()
            pos = m.end()
            while (more := _MORE.match(text, pos)) is not None:  # "POs 4500207714, 4500207715 and 4500207716"
                value = more.group(1).upper()
                if (not _valid_id(value) or value.isdigit() != digits_only or not self.free(*more.span(1))
                        or _id_prefix(value) in not_prefixes or (accept is not None and not accept(value, cue))):
                    break
                _add(into, value)
                self.claim(*more.span(1))
                pos = more.end()

    # -- tables
    def tables(self) -> None:
        """Columns of plain-text tables: a header row names a PO, part-number or priced column; each row below it
        with as many cells holds one value per column. Only lines where a header's words stand can start one."""
        text = self.text
        if self.hits is None:
            starts: Iterable[int] = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        else:
            found = self.hits.of("table")
            if "cjk" in self.hits.gates:
                found = [*found, *find_words(self.scan, _PRICE_HEADER_CJK)]
            starts = sorted({text.rfind("\n", 0, s) + 1 for s in found})
        done = 0
        for start in starts:
            if start >= done and (start == 0 or text[start - 1] == "\n"):
                done = self.table_from(start)

    def table_from(self, offset: int) -> int:
        """The table whose header may be the line at `offset`: rows, then totals, until a line ends it. Returns
        where the lines it read end."""
        text = self.text
        header: list[str] | None = None
        kinds: dict[int, tuple[str, str | None]] = {}
        currency: str | None = None  # of the table's priced columns: its totals lines below are in it too
        gap = False  # a blank line since the table: only a line that names a total may follow it
        while offset <= len(text):
            end = _line_end(text, offset)
            line = text[offset:end]
            stripped = line.strip()
            if stripped[:1] == ">":  # a quoted table: its lines' ">" are no cell
                stripped = stripped.lstrip("> \t")
            if "|" in stripped or "\t" in stripped or "  " in stripped:  # else one cell: no regex split needed
                if stripped.count("|") >= 3:  # a table ruled with "|": an empty cell keeps its place ("| 0.38 |")
                    bordered = stripped[0] == "|" and stripped[-1] == "|"
                    cells = [c.strip() for c in (stripped[1:-1] if bordered else stripped).split("|")]
                else:
                    split = _CELL_SPLIT_SIGNS if not _SIGNS.isdisjoint(stripped) else _CELL_SPLIT
                    cells = [c for c in split.split(stripped.strip("|")) if c != ""]
            else:
                cells = [stripped] if stripped else []
            if len(cells) >= 2:
                found = self._column_kinds(cells)
                if pos := _POSITION_CELL.fullmatch(cells[0]):  # "Pos. Artikel-Nr.  Menge": two headers in one cell
                    apart = [pos.group(1), pos.group(2), *cells[1:]]
                    if len(kinds_apart := self._column_kinds(apart)) > len(found):
                        found, cells = kinds_apart, apart
                if found:
                    header, kinds = cells, found
                    currency = next((c for k, c in found.values() if k == "amount"), None)
                elif header is not None and abs(len(cells) - len(header)) <= 1:
                    self._row(cells, kinds, len(header), line, offset)
                elif header is not None and _totals_row(cells, len(header)):  # "Total | 5,082,500.00 | 254,125.00"
                    self._row(cells, {i: k for i, k in kinds.items() if k[0] == "amount"}, len(header), line, offset)
                elif currency is not None and _may_be_total(line):
                    self._total(line, currency)
                else:
                    header, currency = None, None
            elif currency is not None and _may_be_total(line) and (not gap or _TOTAL_WORD.search(line)):
                self._total(line, currency)
            elif not stripped:
                currency = currency if not gap and header is not None else None
                gap = True
            elif not _RULE_CHARS.issuperset(stripped):
                header = None
            offset = end + 1
            if header is None and currency is None:
                break
        return offset

    def _total(self, line: str, currency: str) -> None:
        """A totals line below a priced table ("Total net:   17 335,00"): its last number is in the table's currency."""
        m = _TOTAL_LINE.match(line)
        if m is None or _not_money(m.group(1)):
            return
        value = parse_number(m.group(1), self.locale.decimal_comma, _decimals(currency))
        if value is not None and not currency:
            self._unpriced.append(value)
        elif value is not None:
            _add(self.e.amounts, _amount(value, self.dollar() if currency == "$" else currency))

    def resolve_unpriced(self) -> None:
        """The amounts of price columns that name no currency ("Unit Price | Total" under "Currency: EUR", above
        "Order Total (USD)"), in the one currency the email names (its amounts, its ISO codes); none if it names
        none or several."""
        if not self._unpriced:
            return
        named = {a["currency"] for a in self.e.amounts}
        named.update(_currency(m.group(1), self.locale, self.dollar())
                     for m in self.iter("named_code", _NAMED_CODE, self.scan))
        if len(named) == 1:
            currency = named.pop()
            for value in self._unpriced:
                _add(self.e.amounts, _amount(value, currency))

    def _column_kinds(self, cells: list[str]) -> dict[int, tuple[str, str | None]]:
        kinds: dict[int, tuple[str, str | None]] = {}
        column = self.parts.column if self.parts is not None else None
        for i, cell in enumerate(cells):
            c = lower_text(cell.strip())
            if len(c) > 40 or _NUMBER_CELL.fullmatch(c) or _PRICED_CELL.search(c):
                return {}  # a header names its columns: a number ends a table ("Subtotal   USD 25,470.00" is a total)
            if _PO_COLUMN.fullmatch(c):
                kinds[i] = ("po", None)
            elif _CASE_COLUMN.fullmatch(c):
                kinds[i] = ("case", None)
            elif column is not None and column.match(c):
                kinds[i] = ("part", None)
            elif _PRICE_COLUMN.search(c):
                cur = self._named_currency(c)
                if cur:
                    kinds[i] = ("amount", cur)
                elif _PRICE_WORD.search(c):
                    kinds[i] = ("amount", "")  # the email's one currency, if it names one (resolve_unpriced)
        return kinds if len(kinds) >= 1 and len(cells) >= 2 else {}

    def _named_currency(self, low: str) -> str | None:
        """The currency a header or a cell (lower case) names: its ISO code, or "$" as written (the table's dollar is
        the email's: Extractor.dollar)."""
        cur = _COLUMN_CURRENCY.search(low)
        if cur is None:
            return None
        return cur.group(1).upper() if cur.group(1) else _currency(cur.group(2), self.locale, "$")

    def _row(self, cells: list[str], kinds: dict[int, tuple[str, str | None]], width: int, line: str,
             offset: int) -> None:
        shift = len(cells) - width  # a row with one cell fewer or more: align from the right for prices
        for i, (kind, currency) in kinds.items():
            j = i + shift if kind == "amount" and shift else i
            if not 0 <= j < len(cells):
                continue
            value = cells[j].strip()
            at = line.find(value)
            span = (offset + at, offset + at + len(value))
            if kind in ("po", "case") and _valid_id(value.upper()) and " " not in value:
                _add(self.e.po_numbers if kind == "po" else self.e.case_numbers, value.upper())
                self.claim(*span)
            elif (kind == "part" and " " not in value and len(value) >= 4 and _PART_CELL.match(value)
                  and not (value.isdigit() and value[0] == "0" and len(value) <= 6)):  # "00010": an ERP's line
                # number, under "Item" (not Eppendorf's "0030000889")
                token = value.upper()
                if self.parts is not None and not self.parts.excluded(token, None, cued=True):
                    _add(self.e.part_numbers, token)
                    self.claim(*span)
            elif kind == "amount":
                if "%" in value:
                    continue  # "IVA 19%" in a price column: the label of a totals row, not its money
                number = re.sub(r"[^\d.,' ]", "", value).strip()
                if _not_money(number):
                    continue
                if not currency:  # a column that names no currency, its cells do ("kr 1 090,00" under "Stykkpris")
                    currency = self._named_currency(lower_text(value))
                number = number.rstrip(",.")  # "kr 38 900,-": whole kroner
                parsed = (parse_number(number, self.locale.decimal_comma, _decimals(currency or "")) if number
                          else None)
                if parsed is None:
                    continue
                if not currency:
                    self._unpriced.append(parsed)
                else:
                    _add(self.e.amounts, _amount(parsed, self.dollar() if currency == "$" else currency))

    # -- parts
    def part_numbers(self, cat: PartCatalogue) -> None:
        if cat.spaced is not None:  # "0 986 494 113", "HU 7020 Z": as written, its spaces one each
            for m in self.iter("part_spaced", cat.spaced, self.text):
                token = " ".join(m.group(0).split()).upper()
                if self.free(*m.span()) and not cat.after_non_part_cue(self.before_part(m.start())):
                    _add(self.e.part_numbers, token)  # (not after a non-part cue: "Promag W 400" is no MANN filter)
                    self.claim(*m.span())
        if cat.cue is not None:
            for m in self.iter("part_cue", cat.cue, self.scan):
                self.cued_part(m, cat)
        for m in self.iter("part_ref", _PART_REF, self.scan):  # "(sapatas de freio, ref. WB-FS-2208-B)"
            line = self.scan.rfind("\n", 0, m.start()) + 1
            opened = self.scan.rfind("(", line, m.start())
            if opened > self.scan.rfind(")", line, m.start()) and not _PAYMENT.search(self.scan, line, m.start()):
                self.cued_part(m, cat)  # (not a payment's: "paid by bank transfer on 06/06 (ref. GCB-TT-558120)")
        excluded_end = -1  # where the last token excluded by a cue or prefix ends (none yet)
        for m in self.format_tokens():  # a manufacturer's format, anywhere (any case: "UDM-Pro")
            token = m.group(0)
            s, t = m.span()
            if token == self.scan[s:t] and _HAS_LETTER.search(token):
                continue  # all lower case: a word, a unit ("3yr", "24x7"), not a part number
            if _CAPITALISED_WORD.match(token) or _LETTERS_THEN_WORD.fullmatch(token):
                continue  # "Sur-100", "Line-300": a word and a number; "UF-installatie": a Dutch compound
            if token[-1:] == "s" and token[-2:-1].isupper() and token[:-1].isupper() and cat.is_part_shape(token[:-1]):
                token, t = token[:-1], t - 1  # a plural: "send the correct U6-PROs"
            token = token.upper()
            if not cat.is_part_shape(token) or not self.free(s, t) or token.endswith(("-NR", "-NO")):
                continue  # (a label: "CVR-nr.", "Art-Nr.")
            if _MODEL_SHAPE.fullmatch(token) and _NAME_BEFORE.search(self.text, max(0, s - 20), s) and (
                    not cat.is_vendor_part(token)):
                continue  # a machine's model after its maker or line: "Komori Lithrone GL-640", "Horizon BQ-480"
            if _POSTCODE.fullmatch(token) and _TOWN_AFTER.match(self.text, t) and not cat.is_vendor_part(token):
                continue  # "Ukmergės g. 280, LT-06115 Vilnius": a country's postcode before its town
            if token.isdigit() and self.text[s - 1:s] == "(" and _on_party_line(self.text, s):
                continue  # "Sold-to: KESTREL DISTRIBUTION (0001234567)": the party's account number
            if cat.excluded(token, self.before_part(s)) or (
                    excluded_end >= 0 and _ID_RANGE.fullmatch(self.scan, excluded_end, s)):
                excluded_end = t  # "asset tags ALW-1001 to ALW-1057": a range's end is what its start is
                continue
            _add(self.e.part_numbers, token)
            self.claim(s, t)
        if cat.maker is not None:  # "Makita GA5030R", "Klein 11055", "Siemens Cerberus PRO FC2020-AA"
            for m in self.iter("part_maker", cat.maker, self.text):
                i = next(k for k in (1, 2, 3, 4) if m.group(k))
                token, (s, t) = m.group(i), m.span(i)
                alnum = token.rstrip("+").isalnum()  # ("Fujikura 90S+": a model's series and its "+")
                if len(token) < (5 if token.isdigit() else 7 if alnum else 4) or not self.free(s, t):
                    continue  # (a short code of letters and digits is a model's series: "Schneider ATV320")
                if not token.isalnum() and not token[:1].isdigit() and sum(c.isalnum() for c in token) < 6:
                    continue  # a model's series letters with a dot or dash: "New Holland T7.270", "Kubota M7-172"
                if _SIZE.fullmatch(token) or _YEAR_SEGMENT.search(token) or cat.excluded(token, self.before_part(s)):
                    continue
                _add(self.e.part_numbers, token)
                self.claim(s, t)
                self.listed_after(t, cat)
        self.product_lines(cat)
        self.goods_codes(cat)
        self.counted_codes(cat)
        self.named_codes(cat)

    def goods_codes(self, cat: PartCatalogue) -> None:
        """The code right after a word naming goods ("8 replacement batteries 35723", "door assemblies K041209",
        "sonda Canon PVT-375BT"): a code in capitals with a letter and a digit, or a catalogue number of five to
        twelve digits (more is a tracking number or a tax id), whatever its vendor."""
        if cat.goods is None:
            return
        for m in self.iter("part_goods", cat.goods, self.text):
            token, (s, t) = m.group(1), m.span(1)
            digits = sum(c.isdigit() for c in token)
            if digits > 12 or not ((token.isdigit() and len(token) >= 5) or (len(token) >= 6 and _listed_code(token))):
                continue
            if not _SIZE.fullmatch(token) and self.take_code(token, s, t, cat):
                self.listed_after(t, cat)

    def counted_codes(self, cat: PartCatalogue) -> None:
        """A count in a sentence, then up to three words of the goods, then a code in capitals with a letter and a
        digit, six characters or more ("Pedimos 20 sensores SpO2 Philips M1191B", "des 2 portes K041210", "20 loops
        of 18HX072E"): the goods' part number, whatever its vendor. A number alone is not taken there (an order's, a
        parcel's: "2 cartons 4471203"); a word with a stop or a comma after it ends the goods' words."""
        text = self.text
        for m in self.iter("count", _COUNT_BEFORE_GOODS, text):
            line = text.rfind("\n", 0, m.start()) + 1
            named = _NAMED_BEFORE_COUNT.search(text, max(line, m.start() - 40), m.start())
            if (named and not _FIRST_WORD.fullmatch(text, line, m.start())
                    and text[named.start():m.start()].strip().lower() not in _COUNT_DETERMINERS):
                continue  # a size in a product's name, "Dell 24 monitors P2425H"; not "Pedimos 20 sensores ...", "The
                # 2 drums of HV-CHM-NAOCL25"
            if _NOT_GOODS_AFTER_COUNT.match(text, m.end()):
                continue  # "1 hour billed to KDS-ZA-0042": a time, not goods
            pos, referred = m.end(), False
            for _ in range(4):
                run = _RUN.match(text, pos)
                if run is None:
                    break
                token = run.group(0).rstrip(".,;:!?)")
                s, t = run.start(), run.start() + len(token)
                if (len(token) >= 6 and (referred or not token.replace("-", "").isdigit()) and "/" not in token
                        and _TOKEN.fullmatch(token) and _listed_code(token)):
                    self.take_code(token, s, t, cat)
                    break
                word = run.group(0)
                if (not _GOODS_WORD.fullmatch(word) or word.lower() in _NOT_GOODS_WORDS
                        or text[run.end():run.end() + 1] not in (" ", "\t")):
                    break  # (the goods' words stay on their line, one space apart: the probe's form)
                # (a number after a reference's word: "cuchillos ref. 97-0715-220")
                referred = _REF_WORD.fullmatch(run.group(0)) is not None
                pos = run.end() + 1

    def take_code(self, token: str, s: int, t: int, cat: PartCatalogue) -> bool:
        """Take the code at s:t that its context names as goods' (goods_codes, counted_codes), unless another rule
        claimed it or it is a series or a rating ("fan ACS880", "actuator 1800N, 0-10V", "Dichtsatz PV040/046/063"),
        a dated document's number or excluded."""
        if (not self.free(s, t) or _SERIES_OR_MEASURE.fullmatch(token) or _dated_document(token, cat)
                or cat.excluded(token, self.before_part(s))):
            return False
        _add(self.e.part_numbers, token)
        self.claim(s, t)
        return True

    def named_codes(self, cat: PartCatalogue) -> None:
        """A code alone in parentheses right after the goods' name ("GC Fuji IX GP Extra capsules (000776)",
        "Hu-Friedy scaler tips (SC13/147)"): the goods' catalogue number, whatever its vendor. Not a field's name
        ("Sender ID (ISA06):"), a number of ten digits or more (tracking, tax ids), a phone's groups, a device's name
        ("CBS-APP-02"), nor the id a noun before it in its sentence names ("tracking number we got (1Z...)", "El CIF
        no cambia (A48123456)")."""
        text = self.text
        for m in _PAREN_CODE.finditer(text):
            token, (s, t) = m.group(1), m.span(1)
            if not text[m.start() - 1:m.start()].isalnum() or len(token) < 6 or text[m.end():m.end() + 1] == ":":
                continue
            digits = sum(c.isdigit() for c in token)
            if digits >= 10 or (digits > 8 and token.replace("-", "").isdigit()) or not _listed_code(token):
                continue  # (a phone's groups: "Mr. Yoon (010-2233-7788)")
            if not self.free(s, t):
                continue
            if _on_party_line(text, s) or _ID_NOUN_BEFORE.search(text, text.rfind("\n", 0, s) + 1, m.start()):
                continue  # ("Sold-to: KESTREL DISTRIBUTION (0001234567)": the party's account number)
            if cat.excluded(token.upper(), self.before_part(s)) or _dated_document(token, cat):
                continue
            if _DEVICE_NAME.fullmatch(token):
                continue  # a server's or a switch's name: "disk failure bay 3 (CBS-APP-02)"
            _add(self.e.part_numbers, token.upper())
            self.claim(s, t)

    def cued_part(self, m: re.Match[str], cat: PartCatalogue) -> None:
        """The token a cue announces (group 1 of `m`, on the lower-cased text), unless it is too short, a number or
        a document's, or a non-part cue or prefix says it is something else."""
        token = m.group(1).upper()
        s, t = m.span(1)
        if len(token) < 4 or not self.free(s, t):
            return
        if not any(c.isdigit() for c in token) and not _CAPITALS_CODE.fullmatch(self.text, s, t):
            return  # a word ("Part No. TBD"), not a code of capitals and dashes ("ref. HS-LISA-SCAPC-FC")
        if (token.isdigit() and len(token) < 5 and not self.numbered_cue(m)) or (
                "." in token and _NUMBER_WITH_DOTS.fullmatch(token)):
            return  # (a short number, or a decimal one: "Tipo de cambio de referencia: 18.72"; not a catalogue
            # number in groups, "Art.-Nr. 0.0950.1234")
        if _dated_document(token, cat):
            return
        if cat.excluded(token, self.before_part(s), cued=True):
            return
        _add(self.e.part_numbers, token)
        self.claim(s, t)
        self.listed_after(t, cat)

    @staticmethod
    def numbered_cue(m: re.Match[str]) -> bool:
        """Whether a cue that names a number ("Art.-Nr. 5624", "cat. no. 1706", "Part # 4471") announces a
        four-digit token, which is then a catalogue number, not a year ("Artikel 2024")."""
        token = m.group(1)
        return (len(token) == 4 and _NUMBERED_CUE_END.search(m.string, m.start(), m.start(1)) is not None
                and not _YEAR.fullmatch(token))

    def listed_after(self, t: int, cat: PartCatalogue) -> None:
        """The codes listed after a part number its cue or maker announced ("DeWalt DCD791D2 drill kits x 15 and
        DCB205-2 battery packs", "P/N 5512-QRT, 5513-QRT"): each in capitals with a letter and a digit, after a
        comma or "and", maybe after a few words in lower case or quantities."""
        while (m := _LISTED_NEXT.match(self.text, t)) is not None:
            token, (s, t) = m.group(1), m.span(1)
            if (not _listed_code(token) or not self.free(s, t) or _SIZE.fullmatch(token)
                    or cat.excluded(token, self.before_part(s))):
                return
            _add(self.e.part_numbers, token)
            self.claim(s, t)

    def format_tokens(self) -> Iterable[re.Match[str]]:
        """The tokens that may have a manufacturer's format: each ends where the formats' probe found one, and
        starts where its run of token characters does (the probe reports ends: tracking starts costs more)."""
        text = self.text
        if self.hits is None:
            return _TOKEN.finditer(text)
        starts = set(self.hits.of("part_format"))
        for end in self.hits.of("part_format_end"):
            s = end
            while s > 0 and text[s - 1] in _TOKEN_CHARS:
                s -= 1
            starts.add(s)
        return matches_at(_TOKEN, text, sorted(starts))

    def before_part(self, s: int) -> str | None:
        """The 30 characters before a token at `s`, or None when no non-part cue ends right before it."""
        if self.hits is not None:
            if self._not_part_ends is None:
                self._not_part_ends = frozenset(self.hits.of("not_part_cue"))
            if s + 1 not in self._not_part_ends:  # the probe ends after the token's first character
                return None
        return self.text[max(0, s - 30):s]

    def product_lines(self, cat: PartCatalogue) -> None:
        """In a line that orders a quantity ("2 x APCRBC133 spare battery", "- 40 x Dock, 40AY0090US"), the code
        right after the quantity and the code that ends the line are part numbers, whatever their vendor."""
        text, scan = self.text, self.scan
        seen_lines: set[int] = set()
        for q in self.iter("qty", _QTY_MARK, scan):
            start = scan.rfind("\n", 0, q.start()) + 1
            end = _line_end(scan, q.end())
            candidates = []
            after = _CODE.match(text, q.end())
            if after:
                candidates.append(after.span(1))
            if start not in seen_lines:
                seen_lines.add(start)
                tail = _LINE_END_CODE.search(text, q.end(), end)
                if tail:
                    candidates.append(tail.span(1))
                head = _LINE_START_CODE.match(text, start, q.start())  # "1. XNV-8081Z  Hanwha dome - 24 pcs"
                if head:
                    candidates.append(head.span(1))
            before = _CODE_BEFORE_QTY.search(text, start, q.start())  # "- pas wariatora 84475455 - 1 szt."
            if before is None and text[q.start()] in " \t":  # "- water pump 3800984 x1" (a word before the code:
                before = _GOODS_CODE_BEFORE_X.search(text, start, q.start())  # not a phone's "555-0100 x4412")
            if before and "|" not in text[start:end]:  # (not in a table's cell: "Catalyst IE3300 8x GE")
                candidates.append(before.span(1))
            for s, t in candidates:
                token = text[s:t]
                if not _listed_code(token) or not self.free(s, t):
                    continue
                if cat.excluded(token.upper(), self.before_part(s)):
                    continue
                _add(self.e.part_numbers, token.upper())
                self.claim(s, t)

    def priced_lines(self, cat: PartCatalogue) -> None:
        """A line that starts with a code, then names goods and holds their price ("6694838 Moteur dossier Intego
        CHF 1'186.00", "99-22300 SNAP 4Dx Plus x10 - 189,00 €/conf."): a quote's or an order's line written without
        a table's header or a quantity, whose code is a part number, whatever its vendor."""
        for start in sorted(self._priced):
            m = _PRICED_LINE_CODE.match(self.text, start)
            if m is None or _line_end(self.text, start) - start > 100:
                continue  # (a sentence's line: an invoice's number, its payment and the amount paid)
            token, (s, t) = m.group(1), m.span(1)
            if not _listed_code(token) or not self.free(s, t) or cat.excluded(token.upper(), self.before_part(s)):
                continue
            if _dated_document(token, cat):
                continue
            _add(self.e.part_numbers, token.upper())
            self.claim(s, t)

    # -- amounts
    def amounts(self) -> None:
        if self.hits is None:
            found: Iterable[re.Match[str]] = AMOUNT.finditer(self.scan)
        else:
            found = matches_at(AMOUNT, self.scan, self.amount_starts(self.hits))
        for m in found:
            if not self.free(*m.span()):
                continue
            if (m.group("n2") and len(m.group("n2")) <= 2 and (after := _PRICE_AFTER.match(self.scan, m.end()))
                    and (code_first := AMOUNT.match(self.scan, m.start("c2"))) and code_first.group("n1")
                    and code_first.end("n1") == after.end(1)):
                m = code_first  # "Flip 6 SAR 389.00", "iPhone 15 USD 799": the code is the price's, 6 a model's
            i = 1 if m.group("n1") else 2 if m.group("n2") else 3
            number, mult, cur = m.group(f"n{i}"), m.group(f"m{i}"), m.group(f"c{i}")
            if cur.rstrip(".") in _LOCAL_CURRENCY and not self.at_home(cur.rstrip(".")):
                continue  # "R 2" is a revision, "RM 5" a room, "PHP 8" a language: only where the currency is at home
            if i == 2 and m.end("n2") == m.start("c2") and len(number) == 1 and _POSTCODE_BEFORE.search(
                    self.scan, max(0, m.start() - 6), m.start()):
                continue  # "Brighton BN2 1TL": a British postcode's second half, not 1 Turkish lira
            currency = _currency(cur, self.locale, self.dollar())
            if cur == "$" and (code := _DOLLAR_AFTER.match(self.scan, m.end())):
                currency = code.group(1).upper()  # "$612.40 USD": the code says which dollar
            elif cur in ("¥", "\uffe5") and self.yuan():
                currency = "CNY"  # the yuan's sign is the yen's
            value = parse_number(number, self.locale.decimal_comma, _decimals(currency))
            if value is None:
                continue
            if i == 1 and not mult.strip() and (r := _RANGE_TAIL.match(self.scan, m.end())) and r.group(2).strip():
                high = parse_number(r.group(1), self.locale.decimal_comma, _decimals(currency))
                if high is not None and high > value:  # a range ascends: "$55-60k" is 55,000 to 60,000
                    for end in (value, high):
                        _add(self.e.amounts, _amount(end * _factor(r.group(2)), currency))
                    self.claim(m.start(), r.end())
                    continue
            _add(self.e.amounts, _amount(value * _factor(mult), currency))
            self.claim(*m.span())
            self._priced.add(self.scan.rfind("\n", 0, m.start()) + 1)
            if i == 3:
                self.totals_beside(m.start(), currency)

    def totals_beside(self, at: int, currency: str) -> None:
        """The lines of a totals block around "Order total (USD): 61,898.30" ("Sales tax (est.):  5,818.30"): each
        names a total, tax or charge and ends in a number, in the currency the block names once."""
        text = self.text
        start = text.rfind("\n", 0, at) + 1
        end = _line_end(text, at)
        for step in (-1, 1):
            pos = start if step < 0 else end
            while 0 < pos < len(text):
                a, b = (text.rfind("\n", 0, pos - 1) + 1, pos - 1) if step < 0 else (pos + 1, _line_end(text, pos + 1))
                line = text[a:b]
                if _TOTAL_WORD.search(line) and _may_be_total(line):
                    self._total(line, currency)
                elif ":" not in line or any(c.isdigit() for c in line) or len(line) > 60:
                    break  # (a charge without a number, "Freight:   waived", stays inside the block)
                pos = a if step < 0 else b

    def dollar(self) -> str:
        """What a bare "$" is: the sender's locale's dollar, or for a guessed locale the one dollar currency the
        text names ("HKD" in a table header)."""
        if self._dollar is None:
            self._dollar = self.locale.dollar
            if self.locale.guessed:
                codes = (m.group(1) for m in self.iter("dollar_code", _DOLLAR_CODES, self.scan))
                named = set(codes)
                if len(named) == 1:
                    self._dollar = named.pop().upper()
                elif not named and _CANADIAN_TAX.search(self.scan):
                    self._dollar = "CAD"  # "$262,775.00 + HST/GST/QST": taxes only Canada levies
        return self._dollar

    def yuan(self) -> bool:
        """Whether "¥" is the yuan: a sender in China, or Chinese text (Han characters, no kana) from outside Japan."""
        if self.locale.region in ("CN", "JP"):
            return self.locale.region == "CN"
        return _HAN.search(self.text) is not None and _KANA.search(self.text) is None

    def at_home(self, token: str) -> bool:
        """Whether a currency token that is also a common abbreviation ("R", "RM", "PHP") is the currency: a sender
        in its country, or a text that names it."""
        region, named = _LOCAL_CURRENCY[token]
        return self.locale.region == region or named.search(self.scan) is not None

    def amount_starts(self, hits: Hits) -> list[int]:
        """The probes' starts of currencies before a number and of "(USD)" labels, and for a currency after a
        number, the starts of the numbers that end before it (_AMOUNT_REACH characters back at most)."""
        starts = list(hits.of("amount"))
        for end in hits.of("amount_after"):
            starts.extend(m.start() for m in _NUMBER_START.finditer(self.scan, max(0, end - _AMOUNT_REACH), end))
        return sorted(set(starts))

    # -- dates
    def dates(self) -> None:
        text, e = self.scan, self.e
        self._numeric_dates = list(self.iter("date_digits", DATE_DIGITS, text))
        for m in self._numeric_dates:
            self.numeric_date(m, text)
        for m in self.iter("date_spaced", DATE_SPACED, text):
            if m.group(4):
                iso = _iso(int(m.group(4)), int(m.group(5)), int(m.group(6)))
            elif m.group(3):
                iso = _iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            elif self.received is not None and _after_date_cue(text, m.start()):
                iso = _nearest(int(m.group(2)), int(m.group(1)), self.received)
            else:
                iso = None
            if iso and self.free(*m.span()):
                _add(e.dates, iso)
                self.claim(*m.span())
        for m in self.iter("date_compact", _DATE_COMPACT, text):  # an EDI or ERP field's "PO Date : 20250617"
            iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if iso and self.free(*m.span(1)) and _COMPACT_DATE_CUE.search(text, max(0, m.start() - 40), m.start()):
                _add(e.dates, iso)
                self.claim(m.start(1), m.end())
        for m in self.iter("date_cjk", DATE_CJK, text):
            written_year = _year(m.group(1)) if m.group(1) else None
            iso = (_iso(written_year, int(m.group(2)), int(m.group(3))) if written_year
                   else None if m.group(1) else _nearest(int(m.group(2)), int(m.group(3)), self.received))
            if iso and self.free(*m.span()):
                _add(e.dates, iso)
                self.claim(*m.span())
        for probe, rx, month_group, day_group in (("date_dmy", DATE_DMY, 2, 1), ("date_mdy", DATE_MDY, 1, 2)):
            for m in self.iter(probe, rx, text):
                if not self.free(*m.span()):
                    continue
                word = lower_text(m.group(month_group))
                month = MONTHS.get(word)
                if month is None or (word in _AMBIGUOUS_MONTHS and not m.group(3)):
                    continue
                day = int(m.group(day_group))
                y = _year(m.group(3)) if m.group(3) else None
                iso = _iso(y, month, day) if y else (None if m.group(3) else _nearest(month, day, self.received))
                if iso:
                    _add(e.dates, iso)
                    self.claim(*m.span())
                    self.range_dates(m, rx is DATE_DMY, month, iso)

    def range_dates(self, m: re.Match[str], day_first: bool, month: int, iso: str) -> None:
        """The other end of a range written once: "23 al 27 de junio de 2025", "June 23-27"."""
        year = int(iso[:4])
        if day_first:
            r = _RANGE_START.search(self.scan, max(0, m.start() - 16), m.start())
        else:
            r = _RANGE_END.match(self.scan, m.end(2))
        if r is not None:
            other = _iso(year, month, int(r.group(1)))
            if other:
                _add(self.e.dates, other)
                self.claim(*r.span())

    def numeric_date(self, m: re.Match[str], text: str) -> None:
        """One candidate of DATE_DIGITS: ISO 2025-06-17 (also in timestamps), 2025/06/17, 17.06.2025, 6/17/25 by the
        sender's convention, or a day and month without a year (6/27, 15/09, 25.06.) in the year nearest the email's
        date. Fractions, decimals and version numbers are none."""
        first, sep, second, third = m.group(1), m.group(2), m.group(3), m.group(4)
        end = m.end()
        after = text[end:end + 2]
        if len(first) == 4:
            if third is None or len(third) > 2:
                return
            if sep == "-":  # ISO: letters may follow (2025-06-17T08:00:00Z)
                if len(second) != 2 or len(third) != 2 or after[:1].isdigit() or after[:1] == "-":
                    return
            elif after[:1].isdigit() or after[:1] == "/" or (after[:1] == "." and after[1:2].isdigit()):
                return
            y = _year(first)
            iso = _iso(y, int(second), int(third)) if y else None
        elif len(first) > 2:
            return
        elif third is not None:
            if len(third) not in (2, 4) or _NOT_AFTER_DATE.match(after):
                return
            if _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
                return
            y = _year(third)
            if y is None or (len(third) == 2 and self.received is not None and abs(y - self.received.year) > 10):
                return  # "on 6.6.65" is a version: a two-digit year is one near the email's own
            iso = self._day_month(int(first), int(second), sep, y, _weekday_before(text, m.start()))
        else:
            iso = self._short_date(m, text, first, sep, second, after)
        if iso:
            _add(self.e.dates, iso)
            self.claim(m.start(), end + (1 if iso and third is None and after[:1] == "." else 0))

    def _in_spaced_part(self, start: int, end: int) -> bool:
        """Whether a manufacturer's format written with a space, starting with the capitals right before `start`,
        covers the text up to `end` (the dates run before the parts)."""
        cat = self.parts
        if cat is None or cat.spaced is None:
            return False
        before = _CAPITALS_BEFORE.search(self.text, max(0, start - 8), start)
        found = cat.spaced.match(self.text, before.start()) if before else None
        return found is not None and found.end() >= end

    def day_first(self) -> bool:
        """How this email writes a day and a month in figures: as its own dates show it where they can ("16/06/2025"
        is day-first, "06/16/2025" month-first; a statement of account from a generic domain), else as the sender's
        locale does."""
        if self._day_first is None:
            firsts, seconds = False, False
            for m in self._numeric_dates:
                third = m.group(4)
                if len(m.group(1)) <= 2 and third is not None and len(third) == 4 and not _NOT_AFTER_DATE.match(
                        self.scan, m.end()):
                    firsts = firsts or int(m.group(1)) > 12
                    seconds = seconds or int(m.group(3)) > 12
            self._day_first = firsts if firsts != seconds else self.locale.day_first
        return self._day_first

    def _day_month(self, a: int, b: int, sep: str, year: int, weekday: int | None = None) -> str | None:
        """`weekday` (0 Monday): the day of the week written before the date ("Fri 7/04/2025"), which tells
        day-first from month-first where the locale would guess."""
        day_first = self.day_first() or sep == "." or a > 12
        if b > 12 and a <= 12:
            day_first = False
        elif weekday is not None and a <= 12 and b <= 12:
            as_day_first, as_month_first = _weekday_is(year, b, a, weekday), _weekday_is(year, a, b, weekday)
            if as_day_first != as_month_first:
                day_first = as_day_first
        return _iso(year, b, a) if day_first else _iso(year, a, b)

    def _short_date(self, m: re.Match[str], text: str, first: str, sep: str, second: str, after: str) -> str | None:
        if self.received is None:
            return None
        trailing_dot = after[:1] == "." and not after[1:2].isdigit()
        rest = after[1:] if trailing_dot else after
        tail = _SHORT_RANGE_TAIL.match(text, m.end()) if sep == "/" else None  # "7/16-7/17": both days
        if tail is None and (_NOT_AFTER_SHORT.match(rest)
                             or (not trailing_dot and after[:1] in ".," and after[1:2].isdigit())):
            return None
        if _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
            return None
        if sep == "/" and self._in_spaced_part(m.start(), m.end()):
            return None  # SKF's grease "LGHP 2/18", not the 18th of February
        if sep == "." and _TIME_BEFORE.search(text, max(0, m.start() - 8), m.start()):
            return None
        if _DURATION_AFTER.match(text, m.end()) or _OF_AFTER.match(text, m.end()):
            return None  # "Delivery: 3-4 weeks", "entrega: 5-7 días": a span of time; "ship 1/2 of the pallets"
        # "until Sunday 29.6", "עד 19.6" (until) from a day-first writer: a date, where "1.50" is a number
        dot_cue = (sep == "." and self.locale.day_first
                   and _DOT_DATE_CUE.search(text, max(0, m.start() - 12), m.start()) is not None)
        if sep == "." and not trailing_dot and not (len(second) == 2 and second[0] == "0") and not dot_cue:
            return None  # "1.50" is a number; "25.06." and "25.06" (zero-padded month) are dates
        padded = len(first) == 2 and len(second) == 2 and (first[0] == "0" or second[0] == "0")
        a, b = int(first), int(second)
        if sep == "/" and (first, second) in (("24", "7"), ("7", "24")) and not _after_date_cue(text, m.start()):
            return None  # "we are manning it 24/7.", "7/24 AOG desk": round the clock ("due 24/7", "until 7/24",
            # "ETA 24/07." are dates)
        # "7/25", "6/30": no fraction (whose denominators are few; "24/7" is out above); "1/2" and "5/10" want a cue
        plain = sep == "/" and max(a, b) > 12 and b not in _DENOMINATORS
        # "followed up 6/10 and 6/11", "6/9, 6/10": the next of a list of dates is one too
        listed = self._last_short_date >= 0 and _DATE_LIST_JOIN.fullmatch(text, self._last_short_date, m.start())
        # a sentence's dot makes "25.06." and "6/10." dates, not "lines 3-4."
        dotted = trailing_dot and sep != "-"
        if not (padded or dotted or plain or dot_cue or listed or _after_date_cue(text, m.start())):
            return None
        day_first = self.day_first() or sep == "." or a > 12
        if b > 12 and a <= 12:
            day_first = False
        day, month = (a, b) if day_first else (b, a)
        if tail is not None and 1 <= month <= 12:
            c, d = int(tail.group(1)), int(tail.group(2))
            other = _nearest(*((d, c) if day_first else (c, d)), self.received)
            if other is not None:
                _add(self.e.dates, other)
                self.claim(*tail.span())
        found = _nearest(month, day, self.received) if 1 <= month <= 12 else None
        if found is not None:
            self._last_short_date = m.end()
        return found

    # -- phones
    def phone_regions(self) -> tuple[str, ...]:
        """The sender's region, then those of the country-code domains of addresses and of "+CC" numbers in the
        text: a quoted French signature's "04 72 33 18 90" is French even when the sender is not."""
        if self._regions is None:
            self._dialled = [(m.start(), phonenumbers.region_code_for_country_code(int(m.group(1))))
                             for m in (_COUNTRY_CODE.finditer(self.scan) if "+" in self.scan else ())]
            self._dialled = [(at, r) for at, r in self._dialled if r != "ZZ"]
            dialled = [r for _, r in self._dialled]
            domains: list[str] = []
            for address in self.e.emails:
                if region := _domain_region(address.rsplit(".", 1)[-1]):
                    domains.append(region)
            regions = [self.locale.region]
            if self.locale.guessed:  # the currencies the email names say more than a UTC offset; the countries of
                # its addresses and "+CC" numbers more than the offset's other ones (".co.ke": Kenyan, not Romanian)
                named = [_CURRENCY_REGION[a["currency"]] for a in self.e.amounts if a["currency"] in _CURRENCY_REGION]
                regions = [*named, self.locale.region, *domains, *dialled, *self.locale.other_regions]
            self._regions = tuple(dict.fromkeys([*regions, *domains, *dialled]))
        return self._regions

    def regions_at(self, s: int, t: int) -> tuple[str, ...]:
        """phone_regions(), led by the region of a "+CC" number in the same paragraph as a national number at s:t:
        a quoted Danish signature's "Mobil 21 47 88 09" under its "Tlf. +45 98 44 12 00" is Danish, whoever sends."""
        regions = self.phone_regions()
        text = self.scan
        start, end = text.rfind("\n\n", 0, s), text.find("\n\n", t)
        near = [r for at, r in self._dialled if start < at and (end < 0 or at < end)]
        if not near:  # the country of the quoted message's sender ("From: Knut <knut@trysilsag.no>"), if any
            near = [r for at, r in self.quoted_senders() if at < s]
        if not near or near[-1] == regions[0]:
            return regions
        return (near[-1], *(r for r in regions if r != near[-1]))

    def quoted_senders(self) -> list[tuple[int, str]]:
        """Where each quoted message's header ("From: Knut Røed <knut@trysilsag.no>", "On Mon, 4 Aug 2025, Lars
        <lars@dalaskog.se> wrote:") names a sender at a country's domain, and that country: a national number in
        that message's signature is written as there ("Tlf 62 45 12 80": Norwegian, though a Finn replies)."""
        if self._quoted is None:
            self._quoted = []
            text, at, line_end = self.scan, self.scan.find("@"), -1
            while at >= 0:  # only the lines that hold an address (a scan of every line cost 2% of Phase 1's time)
                if at > line_end:
                    line, line_end = text.rfind("\n", 0, at) + 1, _line_end(text, at)
                    m = _QUOTED_SENDER.match(text, line, line_end)
                    if m is not None and (region := _domain_region(m.group(1) or m.group(2))):
                        self._quoted.append((line, region))
                at = text.find("@", at + 1)
        return self._quoted

    def after_not_phone_cue(self, s: int) -> bool:
        """Whether a non-phone cue ("meeting ID", "PO", "IBAN") may end right before offset `s`."""
        if self.hits is None:
            return True
        if self._not_phone_ends is None:
            self._not_phone_ends = frozenset(self.hits.of("not_phone_cue"))
        return s + 1 in self._not_phone_ends  # the probe ends after the number's first character

    def alone_on_line(self, m: re.Match[str]) -> bool:
        """A number in three groups or more on a line of its own or in a cell of a signature's line ("Thess Fiber O.E. |
        2310 555 018 | www.thessfiber.gr"): labelled by where it stands, whatever grouping the country's metadata gives
        it ("231 055 5018")."""
        text = self.text
        s, t = m.span()
        line = text.rfind("\n", 0, s) + 1
        end = text.find("\n", t)
        before, after = text[line:s].strip(" \t>"), text[t:len(text) if end < 0 else end].strip()
        return ((not before or before[-1] in _SIGNATURE_BARS) and (not after or after[0] in _SIGNATURE_BARS)
                and len(_DIGIT_GROUPS.findall(m.group(2))) >= 3 and "," not in m.group(2)
                and not _THOUSANDS.fullmatch(m.group(2)))

    def phones(self) -> None:
        text = self.scan
        pos = 0
        while (m := self.search("phone", PHONE, text, pos)) is not None:
            s, t = m.span()
            value, other_id = None, False
            if self.free(s, t):
                before = text[max(0, s - 30):s]
                other_id = self.after_not_phone_cue(s) and _NOT_PHONE_CUE.search(before) is not None
                if not other_id:
                    raw = (m.group(1) or "") + m.group(2)
                    # a cue ("Tel:", "call") is needed only by a national number not shaped like a North American one
                    cue = (raw.startswith(("+", "00")) or _nanp_written(raw)
                           or _PHONE_CUE.search(before) is not None or self.alone_on_line(m))
                    regions = self.phone_regions() if raw.startswith(("+", "00")) else self.regions_at(s, t)
                    guess = self.locale.guessed and regions[0] == self.locale.region
                    value = _phone(raw, m.group(3), regions, cue, guess)
                    if value is None:  # "(07) 5430 9100 (24/7)", "(24x7)" (not an extension): without its last groups
                        for cut in _shorter(m.group(2)):
                            value = _phone((m.group(1) or "") + cut, None, regions, cue, guess)
                            if value:
                                t = m.start(2) + len(cut)
                                break
            if value:
                _add(self.e.phones, value)
                self.claim(s, t)
                pos = t
            elif other_id and _SPACED_GROUPS.fullmatch(m.group(2)):
                pos = t  # "Webinar ID: 861 4402 7731": its groups are the one id, no phone after it
            else:  # the run may hold a phone after another number ("PO 4500123456 / 555-201-3344"): skip a word
                nxt = _NEXT_WORD.search(text, m.start(2))
                pos = nxt.end() if nxt else len(text)


_NEXT_WORD = re.compile(r"[\d(]+[^\d(]")
# A quoted message's header line naming its sender's address at a country's domain (group 1), or a reply's
# attribution line ("On ..., Lars <lars@dalaskog.se> wrote:", group 2); on the lower-cased text
_QUOTED_SENDER = re.compile(
    r"[ \t>]*(?:from|von|de|van|från|fra|od|da|lähettäjä|saatja|kimden|від|от)[ \t]*:[^\n@]*"
    r"@[\w.-]+\.([a-z]{2})(?![\w-])"
    r"|[^\n@]*@[\w.-]+\.([a-z]{2})(?![\w-])>?[^\n@]*(?:wrote|schrieb|a écrit|escribió|escreveu|ha scritto|schreef"
    r"|skrev|kirjoitti|napisał|kirjutas|rakstīja|írta|napsal|yazdı)")
_SPACED_GROUPS = re.compile(r"\d+(?: \d+)*")
_GROUP_START = re.compile(r"\s*[/(]")


def _shorter(core: str) -> list[str]:
    """A run of digits without its last part in parentheses or after a "/", then without its last two (seven digits
    kept at least)."""
    cuts = [m.start() for m in _GROUP_START.finditer(core)][-2:]
    return [c for c in (core[:i].rstrip() for i in reversed(cuts)) if sum(map(str.isdigit, c)) >= 7]
# A token that may be a part number: it has a digit, or is an upper-case code with a dash ("GLC-LH-SMD", "UDM-Pro",
# "U-POE-AF").
_TOKEN = re.compile(r"(?<![\w#/.-])(?=[A-Za-z0-9#/+=-]*\d|[A-Z]{2,}\d?-[A-Za-z]|[A-Z]-[A-Z]{2})"
                    + TOKEN.replace("A-Z", "A-Za-z") + r"(?![\w#/-]|\.\w)")
_HAS_LETTER = re.compile(r"[a-z]")
# Between the two ends of a range of ids: "ALW-1001 to ALW-1057", "MRT-004100 - MRT-004139".
_ID_RANGE = re.compile(r"\s*(?:to|through|thru|till|until|bis|à|a|до|do|[-\u2013\u2014])\s*")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=#/-")
# A postcode with its country's code ("LT-06115", "HR-10000", "CH-8004") and the town after it.
_POSTCODE = re.compile(r"(?:A|B|D|F|I|L|S|AT|BE|BG|CH|CY|CZ|DE|DK|EE|ES|FI|FR|GR|HR|HU|IE|IT|LT|LU|LV|MT|NL|NO|PL|PT"
                       r"|RO|RS|SE|SI|SK|BA|ME|MK|AL|UA)-\d{3,6}")
_TOWN_AFTER = re.compile(r"[ \t]+[^\W\d_][^\W\d_]+")
# A line that names a party of an order or a payment, whose number in parentheses is its account's
_PARTY_LINE = re.compile(r"[ \t>]*(?:(?:sold|ship|bill|deliver|invoice)[ -]to|payer|payee|customer|buyer|kunde|cliente"
                         r"|client|debitor|auftraggeber)", re.IGNORECASE)
_DIMENSION_X = re.compile(r"(?<=\d)x(?=\d)")  # a size's "x" between digits inside a code ("KB-BSD-640x110")
# A model's shape (letters, a dash, three digits) and a name right before it, a maker's or a product line's
_MODEL_SHAPE = re.compile(r"[A-Z]{2,4}-\d{3}")
_NAME_BEFORE = re.compile(r"(?<![\w-])[A-Z][a-z]{2,}[ \t]$")
_CAPITALISED_WORD = re.compile(r"[A-Z][a-z]{2,}(?![A-Za-z])")
# Letters, a dash and a lower-case word: a compound's first part and its word ("UF-installatie", "IT-afdeling"),
# not a code ("UDM-Pro" is capitalised, "U6-Lite" too)
_LETTERS_THEN_WORD = re.compile(r"[A-Z]{2,5}-[a-zà-ÿ]{5,}")
# A quantity ordered: "2 x", "6x", "15 pz.", "40 pcs", "10 Stück", or "x 4" ending a line ("- QFX5120-48Y-AFI2  x 4").
_QTY_UNIT = (r"(?:x|\u00d7|pcs\.?|pc\.?|pz\.?|stk\.?|stück|units?|ea\.?|szt\.?|st\.|uds\.?|un\.?|unid\.?|stuks|pièces"
             # (India's "60 nos x EUR 412.00", Romania's "17 buc.")
             r"|pcs|ks\.?|τεμ\.?|adet|buc\.?|nos\.?(?=[ \t]+[x\u00d7@]))(?![a-z0-9])")
_QTY_COUNT = r"(?<![\w.,])(?:\d{1,3}[,.]\d{3}|\d{1,5})"  # (in thousands too: "5,000 x G-010G-Q")
_QTY_MARK = re.compile(_QTY_COUNT + r"(?:\s|[ \t]{2})?" + _QTY_UNIT + r"\s*"  # (a column's spaces: "2  x")
                       # "x 4" ending a line, or before a column ("x4   USD 312.00")
                       r"|[ \t][x\u00d7][ \t]?\d{1,5}(?=[ \t]*(?:\n|$)|[ \t]{2})"
                       # a count after a list's bullet, before a word ("- 12 barras raspadoras 47131175"; not before
                       # a unit, "- 1 szt. zestaw szyn SRTRK4": the first alternative's)
                       r"|(?<=\n)[ \t]*(?:>[ \t]*)*[-*\u2022][ \t]*\d{1,4}[ \t]+(?!" + _QTY_UNIT + r")(?=[^\W\d_]{2})")
# the code right after a quantity, maybe after "of" or up to three words in lower case ("48 x monitor VTH2621GW-P")
_CODE = re.compile(r"(?:of\s+|(?:[^\W\d_A-Z]{2,14}[ \t]+){1,3}(?=[A-Z0-9-]*\d))?"
                   r"([A-Za-z0-9](?:[A-Za-z0-9+=]|[-#/](?=[A-Za-z0-9]))*)(?![\w#/-])")
# The code that starts a line (after a bullet or a list number), before its quantity
_LINE_START_CODE = re.compile(r"[ \t]*(?:[-*\u2022\u00b7][ \t]*)?"
                              r"(?:\d{1,3}[.)]|(?:Pos|Poz|Item|Line|Linha)\.?[ \t]*\d{1,3}[.:]?)?[ \t]*"
                              r"([A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*)(?![\w#/-])")
_LINE_END_CODE = re.compile(r"(?:(?<![A-Za-z0-9])[,:(|\u2013\u2014-]\s*|[ \t]{2,})"
                            r"([A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*)"
                            r"\)?[ \t.]*$")
# A code alone in parentheses after a word
_PAREN_CODE = re.compile(r" \(([A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*)\)")
# A device's name: words and a zero-padded number ("CBS-APP-02", "DOH-AGG-01")
_DEVICE_NAME = re.compile(r"[A-Z]+(?:-[A-Z]+)+-0\d")
# Nouns of other ids before a code in parentheses (anywhere in its sentence before it): tracking, a carrier's label, tax
# and company ids, contracts, lots, forms, frameworks, a vendor's number, an invoice, a security advisory
_ID_NOUN_BEFORE = re.compile(r"(?i)(?<!\w)(?:track\w*|suivi|seguimiento|rastreio|sendungs\w*|gu[ií]a|label"
                             r"|etikett\w*|vat|tax|cif|nif|cuit|rfc|cig|company (?:no|number)|contract\w*"
                             r"|contrat\w*|lot|lots|lotto|lote|form|framework|vendor|proveedor|supplier|invoice"
                             r"|factura|fattura|facture|rechnung|sz[aá]ml\w*|ticket|dangerous goods|advisory|bulletin)"
                             r"(?!\w)[^\n(.;!?]*$")  # (not "return label attached; the size S (HS-1125813)")
# The code that starts a line (after a bullet or a list number) and a word of the goods' name after it
_PRICED_LINE_CODE = re.compile(r"[ \t]*(?:[-*\u2022\u00b7][ \t]*)?(?:\d{1,3}[.)][ \t]*)?"
                               r"([A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*)[ \t]+(?:[-:\u2013\u2014][ \t]+)?"
                               r"(?=[^\W\d_]{2,}(?![\w#/-]))")  # (a word: not "000010 SMT1500RMI2U", a position)
# The code right before a line's quantity, maybe with a dash between ("łożysko 86625830 - 1 szt.")
_CODE_BEFORE_QTY = re.compile(r"(?<![\w#/.-])([A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*)[ \t]+"
                              r"(?:[\u2013\u2014-][ \t]+)?$")
# The code that ends the goods' words, right before a line's closing "x 4"
_GOODS_CODE_BEFORE_X = re.compile(r"(?<=[^\W\d_][ \t])([A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*)$")
_NEWLINE = re.compile(r"\n")
# A count in a sentence before the goods' words or a code ("20 sensores", "2 x GE ECG cable"; not a decimal's, a
# time's or an id's digits: "1.5 m", "10:30 am", "#12 ...")
_COUNT_PROBE = r"(?<![\w.,/:#-])\d{1,4}(?:[ \t]?[x\u00d7])?[ \t]"
_COUNT_BEFORE_GOODS = re.compile(_COUNT_PROBE + r"(?=[^\W_])")
# counted_codes' probes: the count, up to three goods' words, a code. A lower-cased token with a letter and a digit
# in either order (a code counted_codes takes has both)
_COUNT_PROBE_WORDS = r"(?:[^\W\d_]{2,16}[ \t]|[a-z]{1,3}\d[ \t]|(?:ref|réf|n[°º])\.?[ \t]){1,3}"
_LETTER_AND_DIGIT = r"[a-z0-9+=#-]*(?:[a-z][a-z0-9+=#-]*\d|\d[a-z0-9+=#-]*[a-z])"
_RUN = re.compile(r"[^\s|]+")
# Capitalised words before a count that name no product: a sentence's determiner ("The 2 drums", "All 4 units")
_COUNT_DETERMINERS = frozenset(("the", "these", "those", "our", "your", "all", "both", "only", "another", "plus"))
# A word in capitals or a code right before a count: a name's or a type's number ("Dell 24", "4WRPEH 6")
_NAMED_BEFORE_COUNT = re.compile(r"(?<![\w-])[A-Z0-9][\w-]*[ \t]$")
# A line's first word, after its bullet or number and a quote's marks ("1. Pedimos "): a sentence's first word
_FIRST_WORD = re.compile(r"[ \t>]*(?:[-*\u2022]|\d{1,3}[.)])?[ \t]*[^\W\d_]+[ \t]")
# Units of time after a count: "1 hour billed to ...", "2 days late"
_NOT_GOODS_AFTER_COUNT = re.compile(r"(?i:hours?|hrs?|days?|weeks?|months?|years?|minutes?|mins?|seconds?|am|pm"
                                    r"|shifts?|nights?|times?)(?![^\W\d_])")
# Words that end the goods' words: a model named as such ("10 units of the 7050SX3"), a clause ("the extra 40 would
# run OLT-CB-00301 to ...")
_NOT_GOODS_WORDS = frozenset(("the", "a", "an", "would", "will", "to", "for", "from", "with", "on", "in", "at", "by",
                              "is", "are", "was", "were", "run", "be"))
_REF_WORD = re.compile(r"(?i:ref|réf|n[°º])\.?")
# A word of the goods between a count and its code: a word of letters, a gas's or a measure's short name ("O2",
# "SpO2"), "ref.", "nº"
_GOODS_WORD = re.compile(r"(?:(?![A-Z])[^\W\d_]){2,16}|[A-Z][a-z]?[A-Z]?\d|" + _REF_WORD.pattern)
# A model's series (letters, then up to four digits: "ACS880"), a series' sizes ("PV040/046/063") or a rating
# ("1800N", "0-10V"): what a goods' word names before its code, no code
_SERIES_OR_MEASURE = re.compile(r"[A-Z]{1,4}\d{1,4}|[A-Z]*\d+(?:/\d+)+|\d{1,4}(?:-\d{1,4})?[A-Z]{1,3}")
# A document's number with its year ("CP-2025-0917", a Czech quote): an id, whatever part format it fits.
_DOCUMENT_OF_YEAR = re.compile(r"[A-Z]{1,5}-20\d{2}-")
# A size or a rating, not a part: "32GB", "1.92TB", "800W", "18V", "3000VA", "5AH", "40MM"
_SIZE = re.compile(r"\d+(?:[.,]\d+)?(?:[KMGT]B|[KM]?W|K?VA|V|M?AH|[MC]?M|KG|L|ML|HP|IN|FT|MPX?|K)")
# After a part number, the next one of its list: a comma or a conjunction, maybe after a few words in lower case
_LISTED_NEXT = re.compile(r"(?:[ \t]+[^\W_A-Z]{1,12}){0,4}"
                          r"(?:[ \t]*,[ \t]*|[ \t]+(?:and|&|y|et|e|und|i|og|och|en)[ \t]+)"
                          r"(" + TOKEN + r")(?![\w#/-]|\.\w)")
# Sales taxes of Canada alone (not GST: Australia, India, Singapore and New Zealand levy one too)
_CANADIAN_TAX = re.compile(r"(?<![\w/-])(?:hst|qst|tvq)(?![\w-])")
# A header's first cell of a line's position and another header after one space ("Pos. Artikel-Nr.")
_POSITION_CELL = re.compile(r"((?:pos|pol|poz|nr|no|ln)\.?|line|item|#)[ \t](\S.*)", re.IGNORECASE)
_YEAR_SEGMENT = re.compile(r"(?:^|-)20[0-3]\d-")
# A number written with dots: a decimal one ("18.72"), thousands ("1.250.000"), a date ("17.06.2025"), a version
# ("2.4.1"); not a catalogue number in groups of four or more digits ("0.0950.1234", "61.186.1311")
_NUMBER_WITH_DOTS = re.compile(r"\d+\.\d+|\d{1,3}(?:\.\d{3})+|\d{1,2}\.\d{1,2}\.\d{2,4}|\d{1,3}(?:\.\d{1,3})+")
# A payment's words: a reference on their line is the payment's, not a part's
_PAYMENT = re.compile(r"(?<![\w])(?:pa(?:id|y|yment|go|gamento|iement|gato|gamos)|bank|banco|banque|swift|mt103"
                      r"|transfer|remittance|virement|bonifico|überweisung|zahlung|wire|eft|ach)(?![\w])")
# A line's reference after its goods, inside parentheses ("(sapatas de freio Wabtec, ref. WB-FS-2208-B)", "(rif.
# 11031299-00)"): "ref" alone is no cue (a payment's, a message's, a booking's reference)
_PART_REF = re.compile(r"(?<![\w/])(?:ref|rif|réf)\.?:?[ \t]*(" + CUED_TOKEN + r")(?=[ \t]*[),;])")
_WORD_IN_ID = re.compile(r"[a-z]{3}")
# A cue's end that names a number: "nr.", "no.", "number", "nummer", "#" (then ":" perhaps)
_NUMBERED_CUE_END = re.compile(r"(?<![a-z])(?:n[or]|number|nummer|numéro|número|numero|#)\.?[ \t]*[:#]?[ \t]*$")
_YEAR = re.compile(r"(?:19|20)\d\d")
# A code of capitals in dashed groups, as written ("CEU-EDU-LIC", "FBPT-SC-APC"): a part under a cue, digit or not
_CAPITALS_CODE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")
# A part column's cell: a code with a digit, or one written in capitals with a dash ("CEU-EDU-LIC", a licence SKU)
_PART_CELL = re.compile(r"\S*\d|" + _CAPITALS_CODE.pattern + "$")
_RULE_CHARS = frozenset("-=|+_ :")  # a line of only these draws a table's rules
_DATE_CELL = re.compile(r"\d{1,2}([./-])\d{1,2}\1\d{2,4}")


def _not_money(number: str) -> bool:
    """A number in a price column or totals line that is something else: a phone ("0121 496 0780": money is not
    written with a leading zero) or a date ("Liefertermin 11.07.2025" slid under a price column)."""
    return (number[:1] == "0" and number[1:2].isdigit()) or _DATE_CELL.fullmatch(number) is not None
_PRICED_CELL = re.compile(r"\d[.,]\d{2}(?![\d])")  # a number with cents
_NUMBER_CELL = re.compile(r"[$€£¥₹]?\s*\d[\d.,'\s]*(?:\s*(?:[^\W\d_]|[$€£¥₹]){0,3})")  # "325 548,00 kč" too
_TOTAL_WORD = re.compile(r"(?i)total|sum|vat|tax|gst|sst|iva|mwst|ust|tva|btw|moms|kdv|gesamt|netto|importe|montant"
                         r"|importo|valor|betrag|bedrag|celkem|toplam|yhteensä|razem|合計|小計|合计")
_TOTAL_CURRENCY_CHARS = frozenset("$€£¥₹₺₩₱฿₪₽₦")  # and letters
_PRICE_HEADER_PROBE, _foreign_price_words = split_foreign(_PRICE_COLUMN.pattern)
# Only the Asian ones are looked up apart, behind the "cjk" gate: the Python probes (scan_python) open that gate for
# Asian letters alone, so a Ukrainian "Ціна, USD" header was read by the scan and missed without hyperscan (round 22).
# The Greek and Cyrillic words stay in the probe: they can match other words of their length only in such mail.
_PRICE_HEADER_CJK = tuple(w for w in _foreign_price_words if re.search(ASIAN_LETTERS, w))
_PRICE_HEADER_PROBE = "|".join([_PRICE_HEADER_PROBE, *(w for w in _foreign_price_words if w not in _PRICE_HEADER_CJK)])


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _totals_row(cells: list[str], width: int) -> bool:
    """A table's totals row under its last columns: a total's word, then numbers only, two cells or more fewer than
    the header's (its label spans the columns of ids and dates: "Total | 5,082,500.00 | 254,125.00 | 4,828,375.00")."""
    return (2 < len(cells) < width - 1 and _TOTAL_WORD.match(cells[0]) is not None
            and all(_NUMBER_CELL.fullmatch(c) for c in cells[1:]))


def _may_be_total(line: str) -> bool:
    """_TOTAL_LINE.match(line), after a cheap test of how the line ends (a number, then at most three currency
    characters and a "|"): the pattern backtracks over a long line without a number (12 us)."""
    tail = line.rstrip()
    if tail.endswith("|"):
        tail = tail[:-1].rstrip()
    k = len(tail)
    while k > 0 and len(tail) - k < 3 and (tail[k - 1].isalpha() or tail[k - 1] in _TOTAL_CURRENCY_CHARS):
        k -= 1
    tail = tail[:k].rstrip()
    return bool(tail) and tail[-1].isdigit() and _TOTAL_LINE.match(line) is not None


_LOCAL_PART = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")
# Where a number can start (AMOUNT's second form), and how far before its currency: "1,234,567,890.00 mio. EUR".
_NUMBER_START = re.compile(r"(?<![\w.,])\d")
_AMOUNT_REACH = 64


def _home(region: str, names: str, calling_code: str, sign: str = "") -> tuple[str, re.Pattern[str]]:
    """A local currency token's country, and what in a text says the currency is at home: its names or `sign` (a
    pattern: its sign, or what only that country writes), or a phone number of the country."""
    said = (sign + "|" if sign else "") + r"\b(?:" + names + r")\b"
    return region, re.compile(said + r"|\+" + calling_code + r"(?=[\s(.-])")


# Keyed by the token without its dot ("Rp." is "rp"). After a number: the Maghreb's and the Gulf's dinars and dirhams,
# the forint's "Ft".
# (South Africa's: also its companies' "(Pty) Ltd" and its ".co.za" addresses)
_LOCAL_CURRENCY = {"r": _home("ZA", "zar|rands?", "27", r"\(pty\)\s+ltd|\.co\.za\b"),
                   "rm": _home("MY", "myr|ringgit", "60"),
                   "php": _home("PH", "pesos?|philippines?", "63", "₱"), "rp": _home("ID", "idr|rupiah", "62"),
                   "mad": _home("MA", "dirhams?", "212"), "n": _home("NG", "ngn|naira", "234", "₦"),
                   "da": _home("DZ", "dzd|dinars?", "213"), "dh": _home("MA", "mad|dirhams?", "212"),
                   "dhs": _home("MA", "mad|dirhams?", "212"), "dt": _home("TN", "tnd|dinars?", "216"),
                   "jd": _home("JO", "jod|dinars?", "962"), "bd": _home("BH", "bhd|dinars?", "973"),
                   "kd": _home("KW", "kwd|dinars?", "965"), "ro": _home("OM", "omr|rials?", "968"),
                   "ft": _home("HU", "huf|forints?", "36"),  # elsewhere feet: "1x 14 ft container", "6 ft"
                   "tk": _home("BD", "bdt|taka", "880", "৳|\\.com\\.bd\\b")}  # elsewhere a flight: "on TK78 tonight"
_HAN, _KANA = re.compile(r"[\u4e00-\u9fff]"), re.compile(r"[\u3040-\u30ff]")
_DOLLARS = r"(usd|cad|aud|nzd|hkd|sgd|twd|mxn|cop|clp|ars)(?![^\W\d_])"  # the ISO codes of "$" currencies
_DOLLAR_AFTER = re.compile(r"[^\S\n]?" + _DOLLARS)
_DOLLAR_CODES = re.compile(r"(?<![^\W\d_])" + _DOLLARS)
# The country of a currency used in one country only (a phone number in an email that names it may be there).
_CURRENCY_REGION = {"HKD": "HK", "SGD": "SG", "AUD": "AU", "NZD": "NZ", "INR": "IN", "JPY": "JP", "AED": "AE",
                    "CAD": "CA", "MXN": "MX", "BRL": "BR", "ZAR": "ZA", "CZK": "CZ", "PLN": "PL", "DKK": "DK",
                    "SEK": "SE", "NOK": "NO", "CHF": "CH", "GBP": "GB", "TRY": "TR", "COP": "CO", "CLP": "CL",
                    "ARS": "AR", "TWD": "TW", "KRW": "KR", "THB": "TH", "MYR": "MY", "PHP": "PH", "SAR": "SA",
                    "QAR": "QA", "HUF": "HU", "RON": "RO", "ILS": "IL", "CNY": "CN", "GHS": "GH", "NGN": "NG",
                    "KES": "KE", "TZS": "TZ", "UGX": "UG", "RWF": "RW", "ETB": "ET", "ZMW": "ZM", "EGP": "EG"}


# Where each rule can start (workers.email.scan): a prefix of the rule, its lookbehind kept. Every match of a rule
# starts where one of its probes matches; tests/test_email_scan.py checks it against plain scans.
_PROBES = (
    Probe("url", r"https?://|www\."),
    Probe("email", r"@"),  # the address starts before it: see _Extractor.email_starts
    Probe("date_digits", r"(?<![\w/.:,$€£#-])\d{1,4}[./-]\d"),
    Probe("date_spaced", DATE_SPACED.pattern),
    Probe("date_cjk", DATE_CJK.pattern),
    Probe("date_compact", _DATE_COMPACT.pattern),
    Probe("date_dmy", r"(?<![\w.,/])\d{1,2}(?:st|nd|rd|th|er|\.|º)?(?:\s+|-|/|\s*\.\s*)(?:de\s+|of\s+)?(?:"
          + _MONTH_RE + r")"),
    Probe("date_mdy", r"(?<![\w])(?:" + _MONTH_RE + r")(?![a-z])"),
    Probe("po_alnum", r"(?<![\w/-])(?:[a-z]{2,5}[-/]|20\d{2}-)?po[-/]"),
    Probe("po_sap", r"(?<![\w/.,-])45\d{8}"),
    Probe("quote_bare", r"(?<![\w-])(?:q-(?:[a-z]{2,3}-)?\d{2}|qt-?(?:[a-z]{2,4}-)?\d|quo-?\d|quo-[a-z]{2,4}-"
                        r"|cot-[a-z0-9]|soum-\d|pres-\d|кп-20\d|[a-z]{2,5}/(?:[a-z]{2,5}/){0,2}(?:q|qt|quo)/)"),
    Probe("case_bare", r"(?<![\w-])(?:(?:inc|ritm|cs|tkt|cas)-?|req)\d|\[jira\]|\[#\d|(?<![\w-])cs-[a-z]{2}-\d"
                       r"|(?<![\w-])[a-z]{2,4}-(?:sr|cs|inc|tkt)-\d|\[(?:job|case|ticket|call)\s"
                       r"|\[(?:[a-z]{2}-)?(?:req|cmp|case|sr|tkt|inc|cs|hd|sd)-\d|(?<![\w-])(?:cmp|wc|rec|rj)-\d"),
    Probe("po", r"(?<![\w/])(?:" + _PO_WORDS + r")"),  # a match that starts at "our" also matches at "PO"
    Probe("order", r"(?<![\w/])" + ORDER_CUES),
    Probe("quote", r"(?<![\w/])(?:" + QUOTE_CUES + r")"),
    Probe("case", r"(?<![\w/])(?:" + _CASE_WORDS + r")"),
    # Letters outside cp1252 (Japanese, Chinese, also Polish ...): the Japanese and Chinese cues are then scanned
    # for in Python (each becomes one byte per character in the probe scan: too many look alike).
    Probe("cjk", ASIAN_LETTERS, kind=GATE),
    Probe("dollar_code", _DOLLAR_CODES.pattern),
    # The ISO codes an email names (_Extractor.resolve_unpriced): run on the whole text, a scan that no literal
    # starts cost 2.7% of Phase 1's time though few emails name one (0.3 an email on dev.jsonl).
    Probe("named_code", _NAMED_CODE.pattern),
    # A header cell of a PO or priced column (a part-number column: the catalogue's cues, below).
    Probe("table", r"(?<!\w)(?:po|p\.o\.|purchase|bestell)"),
    # a case column's header cell, ended by the next cell or the line ("| Complaint No.\n"): not the word "case"
    Probe("table", r"(?<!\w)(?:case|ticket|complaint|claim|incident|caso|réclamation|reklamation)[ \t]*"
                   r"(?:no\.?|#|number|nr\.?|id)?(?:[ \t]*[|\t\n]| {2})"),
    Probe("table", _PRICE_HEADER_PROBE),  # the Japanese and Chinese words: _Extractor.tables
    Probe("part_ref", r"(?<![\w/])(?:ref|rif|réf)"),
    Probe("qty", _QTY_COUNT + r"(?:\s|[ \t]{2})?" + _QTY_UNIT),
    Probe("qty", r"[ \t][x\u00d7][ \t]?\d"),
    Probe("qty", r"(?<=\n)[ \t>]*[-*\u2022][ \t]*\d"),
    # To what counted_codes can take: after up to three goods' words a token with a letter and a digit, or (after a
    # reference's word) six digits or dashes. Not a count before words alone ("3 days ago") nor a number's digit groups
    # ("+91 80 4123 4567", "12 juin 2025": nine in ten leads on dev.jsonl; 3.8% of Phase 1's instructions there).
    Probe("count", _COUNT_PROBE + _LETTER_AND_DIGIT),
    Probe("count", _COUNT_PROBE + _COUNT_PROBE_WORDS + _LETTER_AND_DIGIT),
    Probe("count", _COUNT_PROBE + _COUNT_PROBE_WORDS + r"[0-9-]{5,}\d"),
    Probe("amount", _AMOUNT_BEFORE + r"(?:" + _CUR_BEFORE + r")[^\S\n]{0,6}\d"),
    # The currency after the number: where it ends (the number's start is found in Python, _Extractor.amounts)
    Probe("amount_after", r"\d" + _MULT + r"\s?(?:" + _CUR_AFTER + r")", kind=END),
    Probe("amount", r"\((?:" + _CUR_BEFORE + r")\)"),
    # Seven digits at least (_phone's least), within the characters a number is written with, to the last digit of
    # their run: one report a number, not one for each digit after its seventh (5.2 reports an email on dev.jsonl, 3.1
    # now). Any start of a run of seven digits still matches: its run's last digit has a non-digit after it.
    Probe("phone", r"(?<![\w/=&?#%.,+-])(?:(?:\+|00)\s?)?\(?\d(?:[ \t().\-/\u00a0]*\d){6,}(?!\d)"),
    # A cue of something else right before a number ("Meeting ID:", "IBAN"): _NOT_PHONE_CUE, then the number's
    # first character where the pattern's end of text stands.
    Probe("not_phone_cue", _NOT_PHONE_CUE.pattern.replace("$", r"[+(\d]"), kind=END),
)


def probe_set(parts: PartCatalogue) -> ProbeSet:
    """The probes of every entity rule, of the catalogue's cues and formats, and of the email's segment
    boundaries (workers.email.segment): one scan of an email serves them all. Built once per catalogue."""
    found = _PROBE_SETS.get(id(parts))
    if found is None or found[0] is not parts:  # by identity: hashing a catalogue costs more than the lookup
        if len(_PROBE_SETS) > 8:
            _PROBE_SETS.clear()
        found = _PROBE_SETS[id(parts)] = (parts, _build_probe_set(parts))
    return found[1]


_PROBE_SETS: dict[int, tuple[PartCatalogue, ProbeSet]] = {}


def _build_probe_set(parts: PartCatalogue) -> ProbeSet:
    probes = list(_PROBES) + list(SEGMENT_PROBES)
    if parts.cue_words:
        cue = r"(?<![\w/])(?:" + parts.cue_words + r")"
        probes += [Probe("part_cue", cue), Probe("table", cue)]
    if parts.not_part_probe is not None:
        probes.append(Probe("not_part_cue", parts.not_part_probe, kind=END))
    if parts.spaced is not None:
        probes.append(Probe("part_spaced", parts.spaced.pattern, re.IGNORECASE))
    if parts.maker_words:
        probes.append(Probe("part_maker", r"(?<![\w-])(?:" + parts.maker_words + r")[ \t-]"))
    if parts.goods_words:
        probes.append(Probe("part_goods", r"(?<![\w-])(?:" + parts.goods_words + r")[ \t]"))
    return ProbeSet(probes + _format_probes(parts.format_patterns))


def _format_probes(formats: tuple[str, ...]) -> list[Probe]:
    """Where a token of one of the manufacturers' formats can start: one probe for them all (a token is reported
    once) when hyperscan takes it, else the formats split in halves until it does (scan.taken); a format it cannot
    take is tried at every token."""
    if not formats:
        return []
    every = Probe("part_format_end", r"(?<![\w#/.-])(?:" + "|".join(f"(?:{f})" for f in formats) + r")(?![\w#/-])",
                  re.IGNORECASE, END)
    return taken(every, Probe("part_format", r"(?<![\w#/.-])[a-z0-9]"))


def extract_entities(text: str, lower: str | None = None, *, locale: Locale = US, parts: PartCatalogue | None = None,
                     received: date | None = None, hits: Hits | None = None, plain: bool = False) -> Entities:
    """`lower`: text.lower() if the caller has it; `locale`: the sender's (day-first dates, decimal commas, what
    "$" means, the country of national phone numbers); `parts`: the catalogue (default: the shipped one);
    `received`: the email's date, for dates written without a year; `hits`: probe_set(parts).scan() of the
    lower-cased text if the caller has it; `plain`: every rule scans the whole text (slow: the reference for tests)."""
    low = lower_text(text) if lower is None else lower
    cat = parts or load_parts()
    extractor = _Extractor(text, low, locale, cat, received, None)
    if not plain:
        extractor.hits = hits if hits is not None else probe_set(cat).scan(extractor.scan)
    return extractor.run()
