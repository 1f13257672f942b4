"""A sender's locale, from the locale catalogue (workers/email/catalogues/locales.toml): per domain, else by
top-level domain, else the default.

It decides how the sender's dates and numbers read: day-first dates, decimal commas, the currency of a bare
"$" or "kr", and the country (phonenumbers' region) of a phone number written without a country code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.email import CATALOGUES
from workers.email.language import detect_language

LOCALES_FILE = CATALOGUES / "locales.toml"


@dataclass(frozen=True)
class Locale:
    tag: str             # "de-DE"
    region: str          # "DE": phonenumbers' default region for national numbers
    day_first: bool
    decimal_comma: bool
    dollar: str = "USD"  # what a bare "$" is
    krona: str = "SEK"   # what a bare "kr" is
    # Told only by the email's UTC offset or language (a sender at a generic domain): the currencies the text names
    # and the other countries of its UTC offset ([utc_offset_countries]) may say better where it is.
    guessed: bool = False
    other_regions: tuple[str, ...] = ()


class _Conventions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    day_first: bool = True
    decimal_comma: bool = False
    dollar: str = Field("USD", pattern=r"^[A-Z]{3}$")
    krona: str = Field("SEK", pattern=r"^[A-Z]{3}$")


_TAG = r"^[a-z]{2,3}-[A-Z]{2}$"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str = Field("en-US", pattern=_TAG)
    domains: dict[str, str] = Field(default_factory=dict)
    tld: dict[str, str] = Field(default_factory=dict)
    utc_offsets: dict[str, str] = Field(default_factory=dict)
    countries: dict[str, _Conventions] = Field(default_factory=dict)
    locales: dict[str, _Conventions] = Field(default_factory=dict)
    # language -> {UTC offset or "default": locale}; tlds whose senders write in several languages
    languages: dict[str, dict[str, str]] = Field(default_factory=dict)
    multilingual_tlds: list[str] = Field(default_factory=list)
    utc_offset_countries: dict[str, list[str]] = Field(default_factory=dict)


class LocaleTable:
    def __init__(self, default: str, domains: dict[str, str], tld: dict[str, str],
                 countries: dict[str, _Conventions], locales: dict[str, _Conventions],
                 utc_offsets: dict[str, str] | None = None, languages: dict[str, dict[str, str]] | None = None,
                 multilingual_tlds: list[str] | None = None,
                 utc_offset_countries: dict[str, list[str]] | None = None) -> None:
        self.domains = {d.lower().lstrip("."): t for d, t in domains.items()}
        self.tld = {t.lower().lstrip("."): tag for t, tag in tld.items()}
        self.offsets = {_minutes(o): tag for o, tag in (utc_offsets or {}).items()}
        self.languages = {lang: {k if k == "default" else str(_minutes(k)): tag for k, tag in by_offset.items()}
                          for lang, by_offset in (languages or {}).items()}
        self.multilingual = frozenset(t.lower().lstrip(".") for t in (multilingual_tlds or []))
        self.offset_countries = {_minutes(o): tuple(c.upper() for c in cs)
                                 for o, cs in (utc_offset_countries or {}).items()}
        self._conventions = {**countries, **locales}
        self._cache: dict[str, Locale] = {}
        self._guesses: dict[tuple[str, int | None], Locale] = {}
        self._senders: dict[tuple[str, timedelta | None], tuple[Locale, bool]] = {}
        self.default = self.locale(default)

    def locale(self, tag: str) -> Locale:
        """The conventions of a locale tag ("de-DE"): its own entry, else its country's, else day-first ISO-ish."""
        if tag not in self._cache:
            region = tag.rsplit("-", 1)[-1].upper()
            c = self._conventions.get(tag) or self._conventions.get(region) or _Conventions()
            self._cache[tag] = Locale(tag, region, c.day_first, c.decimal_comma, c.dollar, c.krona)
        return self._cache[tag]

    def for_sender(self, sender_email: str, utc_offset: timedelta | None = None, text: str = "") -> Locale:
        """`utc_offset`: of the email's date; decides only when neither the domain nor its top-level domain does.
        `text` (the subject and new text): for a generic domain's sender, or one of a multilingual country, the
        language it is written in picks the locale ([languages])."""
        key = (sender_email, utc_offset)
        found = self._senders.get(key)
        if found is None:
            if len(self._senders) > 4096:  # senders repeat; bound the memory anyway
                self._senders.clear()
            found = self._senders[key] = self._for_sender(sender_email, utc_offset)
        locale, by_language = found
        if by_language and text and self.languages:
            lang = detect_language(text)
            choices = self.languages.get(lang or "")
            if choices and not locale.guessed:  # a country of several languages: that language, in that country
                return self.locale(f"{lang}-{locale.region}")
            if choices:
                minutes = str(int(utc_offset.total_seconds() // 60)) if utc_offset is not None else ""
                tag = choices.get(minutes) or choices.get("default")
                if tag:
                    return self._guess(tag, utc_offset)
        return locale

    def _guess(self, tag: str, utc_offset: timedelta | None) -> Locale:
        """The locale of `tag`, marked as a guess, with the other countries of the UTC offset (made once per tag and
        offset: it depends on the catalogue alone, and dataclasses.replace costs 3 us)."""
        minutes = int(utc_offset.total_seconds() // 60) if utc_offset is not None else None
        found = self._guesses.get((tag, minutes))
        if found is None:
            locale = self.locale(tag)
            others = tuple(r for r in self.offset_countries.get(minutes, ()) if r != locale.region) if minutes else ()
            found = self._guesses[(tag, minutes)] = replace(locale, guessed=True, other_regions=others)
        return found

    def forget_senders(self) -> None:
        self._senders.clear()

    def _for_sender(self, sender_email: str, utc_offset: timedelta | None) -> tuple[Locale, bool]:
        """The sender's locale, and whether the language of the text may still decide it."""
        domain = sender_email.rsplit("@", 1)[-1].lower().rstrip(".")
        parts = domain.split(".")
        for i in range(len(parts) - 1):  # the domain, then each parent domain: "mail.acme.de", "acme.de"
            tag = self.domains.get(".".join(parts[i:]))
            if tag:
                return self.locale(tag), False
        tag = self.tld.get(parts[-1])
        if tag is not None:
            return self.locale(tag), parts[-1] in self.multilingual
        if utc_offset is not None:
            tag = self.offsets.get(int(utc_offset.total_seconds() // 60))
        return self._guess(tag or self.default.tag, utc_offset), True


@lru_cache(maxsize=4)
def load_locales(path: str = str(LOCALES_FILE)) -> LocaleTable:
    try:
        raw = _File.model_validate(tomllib.loads(Path(path).read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise ValueError(f"{path}: {e}") from e
    bad = [t for t in [*raw.domains.values(), *raw.tld.values(), *raw.utc_offsets.values()] if not _valid_tag(t)]
    if bad:
        raise ValueError(f"{path}: locale tags must look like 'de-DE', not {bad}")
    wrong = [o for o in raw.utc_offsets if not _OFFSET.match(o)]
    if wrong:
        raise ValueError(f"{path}: UTC offsets must look like '+05:30', not {wrong}")
    bad_languages = [t for choices in raw.languages.values() for t in choices.values() if not _valid_tag(t)]
    wrong_offsets = [o for choices in raw.languages.values() for o in choices
                     if o != "default" and not _OFFSET.match(o)]
    if bad_languages or wrong_offsets:
        raise ValueError(f"{path}: [languages] wants locale tags by UTC offset ('+05:30') or 'default', not "
                         f"{bad_languages + wrong_offsets}")
    wrong = [o for o in raw.utc_offset_countries if not _OFFSET.match(o)]
    if wrong:
        raise ValueError(f"{path}: [utc_offset_countries] wants UTC offsets like '+08:00', not {wrong}")
    return LocaleTable(raw.default, raw.domains, raw.tld, raw.countries, raw.locales, raw.utc_offsets,
                       raw.languages, raw.multilingual_tlds, raw.utc_offset_countries)


_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


def _minutes(offset: str) -> int:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return sign * (int(hours) * 60 + int(minutes))


def _valid_tag(tag: str) -> bool:
    return re.match(_TAG, tag) is not None
