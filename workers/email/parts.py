"""The part-number catalogue of Phase 1 (workers/email/catalogues/parts.toml): manufacturer formats, the cue words that
announce a part number, and the prefixes and cue words of ids that share its shapes but are something else
(RMA-, BOL-, CM-, CVE-, tickets, serial and tracking numbers). Users extend it with their vendors' formats."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.email import CATALOGUES

_LEADING_LETTERS = re.compile(r"[A-Z]*")
# A vendor's group after the prefix: letters and digits ("CS-FDT-16-IP68", "KB-VV120-T") or a word of four letters or
# more ("FACT-PLINTH-600"); not a country's or a type's short letters ("RMA-TW-25-0177", "SO-STD-0045")
_LETTERED_TAIL = re.compile(r"-(?:[A-Z0-9]*(?:[A-Z]\d|\d[A-Z])|[A-Z]{4,}(?![A-Z]))")
PARTS_FILE = CATALOGUES / "parts.toml"

# A token that may be a part number: upper-case letters and digits, with "-", "#", "+", "=" or "/" inside.
TOKEN = r"[A-Z0-9](?:[A-Z0-9+=]|[-#/](?=[A-Z0-9]))*"
# After a cue, in quotes or not ("buyer part number 'HON-V8043E1012'"), a dot before a digit too ("P/N HVM11.0",
# "TSM-445NEG9R.28"; not a sentence's end, "P/N 5512-QRT."). Lower case: the cue runs on the lower-cased text.
CUED_TOKEN = r"[a-z0-9](?:[a-z0-9+=]|[-#/](?=[a-z0-9])|\.(?=\d))*"


class _Format(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: str
    patterns: list[str] = Field(min_length=1)
    # A shape many other ids share (ABC-1234): a part where nothing says otherwise, never over an id's cue.
    generic: bool = False
    # Written with spaces or dots inside (Bosch "0 986 494 113", MANN-FILTER "HU 7020 Z", Brembo "09.A820.11"): no
    # token holds them, so these patterns are matched in the text itself, case-sensitively, as written.
    spaced: bool = False


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cues: list[str] = Field(default_factory=list)
    not_part_prefixes: list[str] = Field(default_factory=list)
    not_part_cues: list[str] = Field(default_factory=list)
    not_parts: list[str] = Field(default_factory=list)
    makers: list[str] = Field(default_factory=list)
    goods: list[str] = Field(default_factory=list)
    formats: list[_Format] = Field(default_factory=list)


@dataclass(frozen=True)
class PartCatalogue:
    formats: re.Pattern[str]          # any manufacturer's format, matched against a whole token
    cue: re.Pattern[str] | None       # a cue word then its part number (group 1), case-insensitive
    column: re.Pattern[str] | None    # a table header cell naming a part-number column
    not_part_prefixes: frozenset[str]
    not_part_before: re.Pattern[str] | None  # a non-part cue ending right before a token
    cue_words: str = ""                # the cues as one alternation (lower case): where a cue can stand
    format_patterns: tuple[str, ...] = ()  # each manufacturer's format
    vendor_formats: re.Pattern[str] = re.compile(r"(?!)")  # the formats not marked generic
    not_parts: re.Pattern[str] = re.compile(r"(?!)")  # whole tokens that name no part ("SFP28", "8X100G")
    spaced: re.Pattern[str] | None = None  # the formats written with spaces or dots, matched in the text
    # A manufacturer's name as written, maybe a product line's one or two capitalised words, then a code (group 1)
    maker: re.Pattern[str] | None = None
    maker_words: str = ""              # the names as one alternation (lower case): where a name can stand
    # A word naming goods, maybe a maker's or a line's one or two capitalised words or "ref.", then a code (group 1)
    goods: re.Pattern[str] | None = None
    goods_words: str = ""              # the words as one alternation (lower case): where one can stand

    def is_vendor_part(self, token: str) -> bool:
        """A manufacturer's own format (not a generic shape): what an id cue before it ("RFQ: TPS54331DR") asks
        about, not the cue's id."""
        return self.vendor_formats.fullmatch(token) is not None

    def is_part_shape(self, token: str) -> bool:
        return self.formats.fullmatch(token) is not None

    def excluded(self, token: str, before: str | None, cued: bool = False) -> bool:
        """`before`: the text right before the token (a few dozen characters, any case); None: no non-part cue can
        end there (the caller knows it from the probe scan). A token of a listed non-part prefix is no part unless
        it has a manufacturer's own format, or a part's cue or column announces it and letters follow its prefix
        ("Part No. CS-FDT-16-IP68": a vendor's code; "Item: SO-0099301" stays an order)."""
        head = token.split("-", 1)[0] if "-" in token else _LEADING_LETTERS.match(token).group(0)  # type: ignore[union-attr]
        if head in self.not_part_prefixes and not self.is_vendor_part(token) and not (
                cued and _LETTERED_TAIL.search(token, len(head))):
            return True  # (a manufacturer's own format is a part whatever its letters: SN74LVC1G08DBVR, not a serial)
        return self.not_parts.fullmatch(token) is not None or self.after_non_part_cue(before)

    def after_non_part_cue(self, before: str | None) -> bool:
        """Whether a non-part cue ("RMA", "S/N", "Promag") ends `before` (see excluded)."""
        return before is not None and self.not_part_before is not None and (
            self.not_part_before.search(before) is not None)

    @property
    def not_part_probe(self) -> str | None:
        """Where a non-part cue ends right before a token: the cue, then the token's first character."""
        if self.not_part_before is None:
            return None
        return self.not_part_before.pattern.lower().removesuffix("$") + r"[a-z0-9]"


def _maker_pattern(makers: list[str]) -> re.Pattern[str] | None:
    """A maker's name as listed or in capitals ("Axis", "AXIS"), then the code it makes: right after the name, or
    after a product line's one or two capitalised words ("Siemens Cerberus PRO FC2020-AA") when the code has a
    letter and a digit (a number alone after such words is a model's: "DIVAR IP 5000"), or after one to three words
    of the goods, or one joined to the name by a dash, when it has six letters and digits or more, a digit among
    them (every maker's code then passes Extractor.part_numbers' length check: "Haldex automatic slack adjuster
    80040C", six letters and digits, is read as a series' name there)."""
    names = sorted({n.strip() for m in makers for n in (m, m.upper()) if m.strip()}, key=lambda n: (-len(n), n))
    if not names:
        return None
    name = "|".join(re.escape(n).replace(r"\ ", r"[ \t]+") for n in names)
    code = r"[A-Z0-9](?:[A-Z0-9+=]|[-#/.](?=[A-Z0-9]))*"
    # six letters and digits, a digit among them; with a dash, a dot or a slash between them, a letter too (not a
    # phone's or a date's groups: "Hoshizaki ice maker KM-515MAJ", not "service line 0800-123-456")
    goods_code = (r"(?:(?=[A-Z0-9]*\d)(?=[A-Z0-9]{6,}(?![\w#/-]))"
                  r"|(?=[A-Z0-9/.-]*\d)(?=[0-9/.-]*[A-Z])(?=(?:[-/.]?[A-Z0-9]){6,}(?![\w#/-])))(" + code + r")")
    return re.compile(r"(?<![\w-])(?:" + name + r")(?:[ \t]+"
                      # the code right after the name, with a digit; or after a line's words, with a letter and a digit
                      r"(?:(?=[A-Z0-9+=#/.-]*\d)(" + code + r")"
                      r"|(?:[A-Z][A-Za-z]+[ \t]+){1,2}(?=[A-Z0-9-]*[A-Z])(?=[A-Z-]*\d)(" + code + r")"
                      # or after the goods' words (in lower case, or German nouns; an acronym or a size among them):
                      # "Knorr-Bremse foot brake valve II37819004", "WABCO ECAS valves 4728800640", "BPW
                      # Bremstrommeln 0310677590" (six letters and digits or more)
                      r"|(?:(?:[a-zäöüåéèíóáúçñ]{3,}|[A-ZÄÖÜ][a-zäöüß]{3,}|[A-Z]{2,5}|[A-Z]\d)[ \t]+){1,3}"
                      + goods_code + r")"
                      # or after the goods' word joined to the name by a dash ("Bosch-Injektor 0445120123")
                      r"|-[a-zäöüåéèA-ZÄÖÜ][a-zäöüåéè]+[ \t]+" + goods_code + r")"
                      r"(?![\w#/-]|\.\w)")


def _goods_pattern(words: str) -> re.Pattern[str] | None:
    """A word naming goods ("battery", "Ventil", "sonda"; any case), then the code it names: right after the word,
    or after a maker's or a line's one or two capitalised words ("batteries Philips M4607A", "sonda Canon
    PVT-375BT") or a reference's word ("probe ref. 989605371271"). Not a measure written after the number ("battery
    12000 mAh", "filter 10 micron")."""
    if not words:
        return None
    # (one space between the words: a table's column gap after a goods' cell, "Kit      SGH1234ABCD", is no sentence)
    return re.compile(r"(?<![\w-])(?i:" + words + r") (?:[A-Z][A-Za-z]+ ){0,2}"
                      r"(?:(?i:ref|réf|nr|no|n[°º])\.?:? ?)?(" + TOKEN + r")(?![\w#/+-]|[.,]\d)"
                      r"(?![ \t]?(?i:mah|ah|wh|kwh|v|w|kw|mm|cm|m|kg|g|rpm|bar|psi|hz|l|ml|µm|micron|%)(?![^\W\d_]))")


def _alternation(words: list[str]) -> str:
    # Longest first, so "part number" wins over "part"; spaces match any run of spaces, "." is optional.
    # (then alphabetically: the same pattern in every process, whatever the set's order; scan's disk cache needs it)
    ordered = sorted({w.strip().lower() for w in words if w.strip()}, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", r"\s+").replace(r"\.", r"\.?").replace("°", "[°º]")  # (Nº Parte)
                    for w in ordered)


@lru_cache(maxsize=4)
def load_parts(path: str = str(PARTS_FILE)) -> PartCatalogue:
    try:
        raw = _File.model_validate(tomllib.loads(Path(path).read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise ValueError(f"{path}: {e}") from e
    patterns = [p for f in raw.formats if not f.spaced for p in f.patterns]
    spaced = [p for f in raw.formats if f.spaced for p in f.patterns]
    for p in patterns + spaced + raw.not_parts:
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"{path}: pattern {p!r} is not a regular expression: {e}") from e
    formats = re.compile("|".join(f"(?:{p})" for p in patterns) if patterns else r"(?!)")
    cue = column = None
    words = ""
    if raw.cues:
        words = _alternation(raw.cues)
        # The cue, then "no.", "number", "#", ":" in any order, then the token (upper-cased by the caller).
        cue = re.compile(
            r"(?<![\w/])(?:" + words + r")(?![^\W\d_])"  # a whole word: not the "PN" of "PNM-C16083RVQ"
            r"(?:\s*(?:(?:numbers?|nos?\.?|nr\.?|nummer|n[°º]\.?)(?![a-z])|#|:|\.|-(?=\s)))*\s*"
            r"['\"\u2018\u201c]?(" + CUED_TOKEN + r")")  # run on the lower-cased text: no IGNORECASE, faster
        # matched on a lower-cased cell (faster than re.IGNORECASE)
        column = re.compile(r"\s*(?:" + words + r")(?:\s*(?:numbers?|nos?\.?|nr\.?|nummer|n[°º]\.?|#|\.))*\s*$")
    before = None
    if raw.not_part_cues:
        before = re.compile(r"(?<![\w/])(?:" + _alternation(raw.not_part_cues)
                            + r")(?:\s*(?:numbers?|nos?\.?|nr\.?|ref\.?|reference|#|:|\.))*\s*$", re.IGNORECASE)
    vendor = [p for f in raw.formats if not f.generic and not f.spaced for p in f.patterns]
    goods = _alternation(raw.goods)
    return PartCatalogue(formats, cue, column, frozenset(p.upper() for p in raw.not_part_prefixes), before,
                         words if raw.cues else "", tuple(patterns),
                         re.compile("|".join(f"(?:{p})" for p in vendor) if vendor else r"(?!)"),
                         re.compile("|".join(f"(?:{p})" for p in raw.not_parts) if raw.not_parts else r"(?!)"),
                         re.compile(r"(?<![\w.$€£¥-])(?:" + "|".join(f"(?:{p})" for p in spaced)
                                    + r")(?![\w/-]|[.,]\w)") if spaced else None,
                         _maker_pattern(raw.makers), _alternation(raw.makers),
                         _goods_pattern(goods), goods)
