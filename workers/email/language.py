"""The language an email is written in, from its commonest short words (or its script): for a sender at a generic
domain, or in a country of several languages, it picks the locale (workers.email.locales, [languages]).

Compiled with Phase 1's other hot modules (workers/email/native.py): it reads up to 500 characters of every such
email, and interpreted it was 2.5% of Phase 1's time on the development mail.
"""

from __future__ import annotations

import re

from workers.email.scan import lower

# The commonest short words of each language of the mailbox: a text holding several of one language's and more of
# them than of any other's is written in it. Japanese and Chinese by their scripts.
LANGUAGE_WORDS = {
    "en": "the and to of for is please we our you with this that have are will can",
    "es": "el la los las de del que por para con una nuestra nuestro gracias favor saludos está usted",
    "pt": "o os da do dos das que para com uma nossa nosso obrigado obrigada não em está são",
    "fr": "le les des du et pour avec une nous vous merci est sur dans votre notre bonjour",
    "de": "der die das und mit für ist wir sie bitte danke ein eine nicht auf ihre unsere",
    "it": "il lo gli della del che per con una grazie sono nostro vostro nostra vostra",
    "nl": "het een en van voor met wij niet graag bedankt groeten uw onze",
    "da": "og det er til med vi ikke hilsen tak af jeres vores kære venlig venligst jeg på hermed",
    "nb": "og det er til med vi ikke hilsen takk av deres våre vennlig hei ønsker kjære jeg på vennligst",
    "sv": "och det är till med vi inte hälsningar tack av er vår jag på hej vänliga",
    "fi": "ja on että kiitos terveisin ei se tilaus meidän teidän",
    "cs": "je se na pro za děkuji děkujeme pozdravem dobrý den prosím jsme",
    "sk": "je sa na pre za ďakujem ďakujeme pozdravom dobrý deň prosím sme",
    "sl": "je na za pri vas hvala lep pozdrav pozdravljeni prosim smo bo",
    "hr": "je na za se hvala pozdrav poštovani molim smo ste lijep srdačan",
    "lt": "ir su dėl jūsų mūsų ačiū pagarbiai laba diena prašome yra kad",
    "lv": "ar par jūsu mūsu paldies cieņu labdien lūdzu ir",
    "et": "ja on et teie meie tänan lugupidamisega tere palun ei",
    "bg": "и на за да се от с ще благодаря поздрави здравейте моля сме",
    "uk": "і на за та з що ми ви дякую добрий день повагою будь ласка вже",
    "ru": "и на за что мы вы спасибо здравствуйте уважением пожалуйста это уже",
    "pl": "w na się jest dziękuję pozdrawiam prosimy dla nie",
    "tr": "ve bir bu için ile te\u015fekk\u00fcrler sayg\u0131lar\u0131mla lütfen rica merhaba iyi günler"
          " sayg\u0131lar\u0131m\u0131zla teşekkür ederiz ederim adet bey han\u0131m olarak",
    "hu": "és az hogy nem köszönöm köszönjük üdvözlettel kérjük kérem tisztelt napot van egy szíves",
    "ro": "și în cu pentru vă mulțumesc mulțumim bună ziua este să că vom noastre dumneavoastră",
}
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}  # word -> the languages it is common in
for _lang, _words in LANGUAGE_WORDS.items():
    for _word in _words.split():
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _lang)
_PUNCTUATION = ".,;:!?¿¡()[]\"'«»\u201c\u201d\u201e-\u2013\u2014"
assert not any(c in _PUNCTUATION for words in LANGUAGE_WORDS.values() for c in words)
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HEBREW, _ARABIC, _LATIN = re.compile(r"[\u05d0-\u05ea]"), re.compile(r"[\u0620-\u064a]"), re.compile(r"[a-zA-Z]")
_GREEK = re.compile(r"[\u0386-\u03ce]")


def detect_language(text: str) -> str | None:
    """The language of `text` (its first 500 characters), or None when it is not clear."""
    # Its prose: a table's rows at the top of a message (codes, numbers, column words) say nothing of its language,
    # nor the spaces that align its totals under the table ("        Subtotal:   $ 11.041.000")
    sample = text[:500] if "|" not in text[:500] else "\n".join(
        line.strip() for line in text[:3000].splitlines() if "|" not in line)[:500]
    if not sample.isascii():
        if _KANA.search(sample):
            return "ja"
        if _HAN.search(sample):
            return "zh"
        # Hebrew, Arabic and Greek by their scripts, where they write most of the letters (not a name in a signature)
        for lang, script in (("he", _HEBREW), ("ar", _ARABIC), ("el", _GREEK)):
            if len(script.findall(sample)) > len(_LATIN.findall(sample)):
                return lang
    counts: dict[str, int] = {}
    for token in lower(sample).split():
        # The common words hold no punctuation: a token found as it is needs no strip (most are not found at all).
        langs = _LANGUAGES_OF.get(token)
        if langs is None:
            if token[0] not in _PUNCTUATION and token[-1] not in _PUNCTUATION:
                continue
            langs = _LANGUAGES_OF.get(token.strip(_PUNCTUATION), ())
        for lang in langs:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    best = max(counts, key=lambda lang: counts[lang])
    ranked = sorted(counts.values(), reverse=True)
    return best if counts[best] >= 3 and (len(ranked) == 1 or ranked[0] > ranked[1]) else None
