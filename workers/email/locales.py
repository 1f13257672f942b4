"""A sender's locale, from config/email_locales.toml: per domain, else by top-level domain, else the default.

It decides how the sender's dates and numbers read: day-first dates, decimal commas, the currency of a bare
"$" or "kr", and the country (phonenumbers' region) of a phone number written without a country code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LOCALES_FILE = Path(__file__).resolve().parent.parent.parent / "config" / "email_locales.toml"


@dataclass(frozen=True)
class Locale:
    tag: str             # "de-DE"
    region: str          # "DE": phonenumbers' default region for national numbers
    day_first: bool
    decimal_comma: bool
    dollar: str = "USD"  # what a bare "$" is
    krona: str = "SEK"   # what a bare "kr" is


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


class LocaleTable:
    def __init__(self, default: str, domains: dict[str, str], tld: dict[str, str],
                 countries: dict[str, _Conventions], locales: dict[str, _Conventions],
                 utc_offsets: dict[str, str] | None = None) -> None:
        self.domains = {d.lower().lstrip("."): t for d, t in domains.items()}
        self.tld = {t.lower().lstrip("."): tag for t, tag in tld.items()}
        self.offsets = {_minutes(o): tag for o, tag in (utc_offsets or {}).items()}
        self._conventions = {**countries, **locales}
        self._cache: dict[str, Locale] = {}
        self._senders: dict[tuple[str, timedelta | None], Locale] = {}
        self.default = self.locale(default)

    def locale(self, tag: str) -> Locale:
        """The conventions of a locale tag ("de-DE"): its own entry, else its country's, else day-first ISO-ish."""
        if tag not in self._cache:
            region = tag.rsplit("-", 1)[-1].upper()
            c = self._conventions.get(tag) or self._conventions.get(region) or _Conventions()
            self._cache[tag] = Locale(tag, region, c.day_first, c.decimal_comma, c.dollar, c.krona)
        return self._cache[tag]

    def for_sender(self, sender_email: str, utc_offset: timedelta | None = None) -> Locale:
        """`utc_offset`: of the email's date; decides only when neither the domain nor its top-level domain does."""
        key = (sender_email, utc_offset)
        found = self._senders.get(key)
        if found is None:
            if len(self._senders) > 4096:  # senders repeat; bound the memory anyway
                self._senders.clear()
            found = self._senders[key] = self._for_sender(sender_email, utc_offset)
        return found

    def forget_senders(self) -> None:
        self._senders.clear()

    def _for_sender(self, sender_email: str, utc_offset: timedelta | None) -> Locale:
        domain = sender_email.rsplit("@", 1)[-1].lower().rstrip(".")
        parts = domain.split(".")
        for i in range(len(parts) - 1):  # the domain, then each parent domain: "mail.acme.de", "acme.de"
            tag = self.domains.get(".".join(parts[i:]))
            if tag:
                return self.locale(tag)
        tag = self.tld.get(parts[-1])
        if tag is None and utc_offset is not None:
            tag = self.offsets.get(int(utc_offset.total_seconds() // 60))
        return self.locale(tag) if tag else self.default


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
    return LocaleTable(raw.default, raw.domains, raw.tld, raw.countries, raw.locales, raw.utc_offsets)


_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


def _minutes(offset: str) -> int:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return sign * (int(hours) * 60 + int(minutes))


def _valid_tag(tag: str) -> bool:
    return re.match(_TAG, tag) is not None
