"""One pass of Intel Hyperscan over an email tells every Phase 1 rule where it can match; Python's `re` then runs
only there.

Why: Phase 1 is a few dozen regular expressions, and Python's engine costs 15 to 40 ns a character for each scan
of a pattern that does not start with a literal. On the development set's emails (about 900 characters) that was
about 1,200 us an email, 850 emails/s, against a goal of 5,000/s. Hyperscan (PyPI `hyperscan`, Intel's
multi-pattern engine, manylinux wheels) matches all probes of all rules in one pass: on the development set, about
30 us an email for the entities' database and 11 us for the decisions', a Python callback (~0.3 us) for each of
the about 37 and 9 matches an email included (docs/email.md, Speed). Each rule keeps its exact
Python pattern; its probe finds the places where a match can start, and the pattern is tried there only.

A probe is written as a Python regular expression, next to its rule, and converted here:
- the text is scanned lower-cased and encoded one byte per character (cp1252, which holds the typographic quotes,
  dashes and "€" of real mail; any other character becomes one byte standing for its class: letter, digit,
  space, other word character, other), so offsets are the text's own;
- a leading one-character lookbehind (`(?<![\\w/])`) becomes a consumed context character, so the reported start
  is exactly where the rule may start; other lookarounds and `\\b` are dropped, which only widens the probe;
- `\\w`, `\\d`, `\\s`, ranges and negated classes become byte classes that hold every byte any matching character
  can become.
So a probe matches wherever its Python form does (and sometimes more): the rule finds what a plain scan would. A
start probe each match of which starts with a character outside cp1252 ("復旧") would match any run of such letters:
ProbeSet finds it in Python instead.
tests/test_email_scan.py checks this against plain scans on every email of the evaluation sets and on generated
text.

Without hyperscan (a platform without its wheels) the probes run as Python patterns: the same starts, slowly.
"""

from __future__ import annotations

import codecs
import encodings.cp1252
import re
import re._constants as sre_c  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from mypy_extensions import mypyc_attr

from workers.email import hscache

hyperscan: Any
try:
    import hyperscan
except ImportError:  # pragma: no cover - platforms without the wheels
    hyperscan = None

# Letters of Thai, Japanese, Chinese and Korean: their words stand without spaces between (Thai, Japanese, Chinese)
# or become look-alike class bytes in the probes, so rules with such words run where a text holds them (a gate).
ASIAN_LETTERS = r"[\u0e00-\u0e7f\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3]"


def lower(text: str) -> str:
    """text.lower(), written str.lower(text) on purpose: compiled by mypyc (scripts/build_native.py), the method
    call becomes a primitive that lowers letter by letter on Python 3.11 and 3.12 and so drops the final-sigma rule
    ("ΟΔΟΣ" gives "οδοσ", Python "οδος"), and an upper-cased Greek email was read differently. Each lower-casing of
    mail in the compiled modules goes through here."""
    return str.lower(text)


def same_length_lower(text: str) -> str:
    """text.lower(), except the few letters whose lower case is longer: offsets must stay the text's. Turkish "İ"
    becomes "i" (its lower case, "i" and a combining dot, without the dot): "ACİL" reads as "acil"."""
    return "".join(c.lower()[0] for c in text)


def aligned_lower(text: str, low: str | None = None) -> str:
    """The text lower-cased at the text's own offsets, what the probes scan and the rules read: `low` (lower(text),
    if the caller has it) when no letter's lower case is longer, else same_length_lower(text)."""
    low = lower(text) if low is None else low
    return low if len(low) == len(text) else same_length_lower(text)


# Bytes cp1252 leaves undefined: a character outside cp1252 becomes the one for its class.
LETTER, SPACE, OTHER, DIGIT, WORD = 0x81, 0x8D, 0x8F, 0x90, 0x9D
CLASS_BYTES = (LETTER, SPACE, OTHER, DIGIT, WORD)


def _class_byte(c: str) -> int:
    if c.isalpha():
        return LETTER
    if c.isdecimal():
        return DIGIT
    if c.isspace():
        return SPACE
    if c.isalnum() or c == "_":
        return WORD
    return OTHER


def _on_error(err: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    return bytes(_class_byte(c) for c in err.object[err.start:err.end]), err.end


codecs.register_error("corral-scan", _on_error)


_CP1252 = encodings.cp1252.encoding_table


def encode(text: str) -> bytes:
    """One byte per character of `text` (cp1252, else the character's class byte). The codec's own C function with
    its table: text.encode("cp1252", ...) runs the codec's Python wrapper first (0.8% of Phase 1's time)."""
    return codecs.charmap_encode(text, "corral-scan", _CP1252)[0]


def split_foreign(alternation: str) -> tuple[str, tuple[str, ...]]:
    """`alternation` (alternatives separated by "|", no groups) without the alternatives written wholly outside cp1252,
    and those (plain words: the syntax of a regular expression is ASCII). Each character of such a word becomes
    the byte of its class, so as a probe it matches any run of letters of its length: "написал" any seven
    Cyrillic, Greek or Chinese letters, "単価" any two (14 reports an email on dev2.jsonl's Asian mail, each
    costing a callback and a try of the rule). Such words are found by find_words() instead: str.find returns at
    once for a needle of wider characters than the text's."""
    kept, foreign = [], []
    for alternative in alternation.split("|"):
        if all(not in_cp1252(c) for c in alternative):  # so no regular-expression syntax (ASCII) either
            foreign.append(alternative)
        else:
            kept.append(alternative)
    return "|".join(kept), tuple(foreign)


def find_words(text: str, words: Sequence[str]) -> list[int]:
    """Where each of `words` stands in `text` (in no order)."""
    found = []
    for word in words:
        at = text.find(word)
        while at >= 0:
            found.append(at)
            at = text.find(word, at + 1)
    return found


def _byte_char(b: int) -> str | None:
    if b in CLASS_BYTES:
        return None
    return bytes([b]).decode("cp1252")


_CHARS: list[str | None] = [_byte_char(b) for b in range(256)]
_CATEGORY = {
    sre_c.CATEGORY_DIGIT: re.compile(r"\d"), sre_c.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre_c.CATEGORY_SPACE: re.compile(r"\s"), sre_c.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    sre_c.CATEGORY_WORD: re.compile(r"\w"), sre_c.CATEGORY_NOT_WORD: re.compile(r"\W"),
}
# Which classes of characters outside cp1252 a category holds some of, and which it holds all of.
_CATEGORY_SOME = {
    sre_c.CATEGORY_DIGIT: {DIGIT}, sre_c.CATEGORY_NOT_DIGIT: {LETTER, SPACE, OTHER, WORD},
    sre_c.CATEGORY_SPACE: {SPACE}, sre_c.CATEGORY_NOT_SPACE: {LETTER, DIGIT, OTHER, WORD},
    sre_c.CATEGORY_WORD: {LETTER, DIGIT, WORD}, sre_c.CATEGORY_NOT_WORD: {SPACE, OTHER},
}
_CATEGORY_ALL = _CATEGORY_SOME  # each class lies wholly inside or outside each category


def in_cp1252(c: str) -> bool:
    try:
        c.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _item_has(item: tuple[Any, Any], c: str) -> bool:
    op, av = item
    if op is sre_c.LITERAL:
        return bool(ord(c) == av)
    if op is sre_c.RANGE:
        return bool(av[0] <= ord(c) <= av[1])
    if op is sre_c.CATEGORY:
        return _CATEGORY[av].match(c) is not None
    raise ValueError(f"unsupported class item {op}")


def _outside_classes(item: tuple[Any, Any]) -> set[int]:
    """The class bytes of the characters outside cp1252 that a class item holds some of."""
    op, av = item
    if op is sre_c.CATEGORY:
        return set(_CATEGORY_SOME[av])
    lo, hi = (av, av) if op is sre_c.LITERAL else av
    if hi < 0x80:
        return set()
    found: set[int] = set()
    for code in range(max(lo, 0x80), min(hi, 0x10FFFF) + 1):
        c = chr(code)
        if not in_cp1252(c):
            found.add(_class_byte(c))
            if len(found) == len(CLASS_BYTES):
                break
    return found


def byte_class(items: Sequence[tuple[Any, Any]], icase: bool = False) -> frozenset[int]:
    """The bytes a character of the class `items` (sre_parse's IN items) can become."""
    return _byte_class(tuple(items), icase)


@lru_cache(maxsize=4096)
def _byte_class(items: tuple[tuple[Any, Any], ...], icase: bool) -> frozenset[int]:
    if len(items) == 1 and items[0][0] is sre_c.LITERAL:
        c = chr(items[0][1])
        return frozenset(encode(v)[0] for v in ({c, c.lower(), c.upper()} if icase else {c}) if len(v) == 1)
    negate = bool(items) and items[0][0] is sre_c.NEGATE
    body = list(items[1:] if negate else items)
    inside: set[int] = set()
    for b, char in enumerate(_CHARS):
        if char is None:
            continue
        variants = {char, char.lower(), char.upper()} if icase else {char}
        if any(len(v) == 1 and _item_has(it, v) for it in body for v in variants):
            inside.add(b)
    outside: set[int] = set()
    for it in body:
        outside |= _outside_classes(it)
    if not negate:
        return frozenset(inside | outside)
    covered: set[int] = set()  # classes the items hold wholly: those bytes never match the negation
    for op, av in body:
        if op is sre_c.CATEGORY:
            covered |= _CATEGORY_ALL[av]
    result = {b for b, c in enumerate(_CHARS) if c is not None and b not in inside}
    return frozenset(result | (set(CLASS_BYTES) - covered))


def _emit_class(bs: Iterable[int]) -> str:
    ordered = sorted(set(bs))
    if not ordered:
        raise ValueError("a class that matches nothing")
    if len(ordered) == 1:
        return f"\\x{ordered[0]:02x}"
    runs: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(f"\\x{ordered[i]:02x}" if i == j else f"\\x{ordered[i]:02x}-\\x{ordered[j]:02x}")
        i = j + 1
    return "[" + "".join(runs) + "]"


class _Converter:
    def __init__(self, flags: int) -> None:
        self.icase = bool(flags & re.IGNORECASE)
        self.dotall = bool(flags & re.DOTALL)
        self.groups: dict[int, str] = {}

    def seq(self, nodes: Sequence[tuple[Any, Any]]) -> str:
        return "".join(self.node(op, av) for op, av in nodes)

    def ends_in_lookahead(self, nodes: Sequence[tuple[Any, Any]]) -> set[bool]:
        """For each way `nodes` can end, whether it ends in a one-character lookahead (which tail() can consume)."""
        if not nodes:
            return {False}
        op, av = nodes[-1]
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT) and av[0] == 1:
            return {_one_char(op, list(av[1]), self.icase) is not None}
        if op is sre_c.BRANCH:
            return set().union(*(self.ends_in_lookahead(alt) for alt in av[1]))
        if op is sre_c.SUBPATTERN and not av[1] & re.IGNORECASE:
            return self.ends_in_lookahead(av[3])
        return {False}

    def tail(self, nodes: Sequence[tuple[Any, Any]]) -> str:
        """`nodes` then exactly one more character, where nothing follows them in the probe: a last one-character
        lookahead becomes that character's class, else any byte will do (the scanned text ends with a newline,
        so there is always one)."""
        if not nodes:
            return _emit_class(range(256))
        head, (op, av) = self.seq(nodes[:-1]), nodes[-1]
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT) and av[0] == 1:
            after = _one_char(op, list(av[1]), self.icase)
            if after is not None:
                return head + _emit_class(after)
        if op is sre_c.BRANCH:
            return head + "(?:" + "|".join(self.tail(alt) for alt in av[1]) + ")"
        if op is sre_c.SUBPATTERN and not av[1] & re.IGNORECASE:
            if av[0] is not None:
                self.groups[av[0]] = "(?:" + self.seq(av[3]) + ")"
            return head + "(?:" + self.tail(av[3]) + ")"
        return head + self.node(op, av) + _emit_class(range(256))

    def node(self, op: Any, av: Any) -> str:
        if op is sre_c.LITERAL:
            return _emit_class(byte_class([(op, av)], self.icase))
        if op is sre_c.NOT_LITERAL:
            return _emit_class(byte_class([(sre_c.NEGATE, None), (sre_c.LITERAL, av)], self.icase))
        if op is sre_c.IN:
            return _emit_class(byte_class(av, self.icase))
        if op is sre_c.ANY:
            return _emit_class(range(256)) if self.dotall else _emit_class(b for b in range(256) if b != 0x0A)
        if op is sre_c.BRANCH:
            return "(?:" + "|".join(self.seq(alt) for alt in av[1]) + ")"
        if op is sre_c.SUBPATTERN:
            group, add_flags, _del_flags, sub = av
            saved = self.icase
            if add_flags & re.IGNORECASE:
                self.icase = True
            out = "(?:" + self.seq(sub) + ")"
            self.icase = saved
            if group is not None:
                self.groups[group] = out
            return out
        if op is sre_c.ATOMIC_GROUP:
            return "(?:" + self.seq(av) + ")"
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            inner = "(?:" + self.seq(sub) + ")"
            if hi is sre_c.MAXREPEAT or hi == sre_c.MAXREPEAT:
                return inner + ("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
            if (lo, hi) == (0, 1):
                return inner + "?"
            return inner + (f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}")
        if op is sre_c.GROUPREF:
            return self.groups[av]  # the group's pattern again: a superset of the same text
        if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
            return ""  # assertions only narrow a match: without them the probe matches a superset
        raise ValueError(f"unsupported regular-expression construct {op}")


def _context(node: tuple[Any, Any], icase: bool) -> frozenset[int] | None:
    """The bytes a one-character lookbehind lets stand before a match, or None when `node` is none."""
    op, av = node
    if op not in (sre_c.ASSERT, sre_c.ASSERT_NOT) or av[0] != -1:
        return None
    return _one_char(op, list(av[1]), icase)


def _one_char(op: Any, sub: list[tuple[Any, Any]], icase: bool) -> frozenset[int] | None:
    """The bytes that can stand where a one-character assertion (`op`: ASSERT or ASSERT_NOT of `sub`) holds."""
    if len(sub) != 1 or sub[0][0] not in (sre_c.IN, sre_c.LITERAL, sre_c.NOT_LITERAL):
        return None
    kind, value = sub[0]
    items = value if kind is sre_c.IN else [(sre_c.LITERAL, value)] if kind is sre_c.LITERAL else [
        (sre_c.NEGATE, None), (sre_c.LITERAL, value)]
    inside = byte_class(items, icase)
    if op is sre_c.ASSERT:
        return inside
    # Not preceded by the class: any byte some character outside the class becomes.
    negated = items[1:] if items and items[0][0] is sre_c.NEGATE else [(sre_c.NEGATE, None), *items]
    return byte_class(negated, icase)


def to_hyperscan(pattern: str, flags: int = 0) -> tuple[str, int]:
    """A hyperscan expression over encode(text) that matches wherever `pattern` matches in text, one context
    character early, and how many characters late its matches end: 1 when the pattern ends in a one-character
    lookahead (kept as a consumed character: _Converter.tail), else 0."""
    tree = sre_parse.parse(pattern, flags)
    conv = _Converter(flags | tree.state.flags)
    nodes = list(tree.data)
    alternatives = [nodes]
    if len(nodes) == 1 and nodes[0][0] is sre_c.BRANCH:
        alternatives = [list(alt) for alt in nodes[0][1][1]]
    bodies = []
    for alt in alternatives:
        ctx = _context(alt[0], conv.icase) if alt else None
        bodies.append((_emit_class(ctx if ctx is not None else range(256)), alt[1:] if ctx is not None else alt))
    tail = any(True in conv.ends_in_lookahead(body) for _, body in bodies)
    out = [ctx + (conv.tail(body) if tail else conv.seq(body)) for ctx, body in bodies]
    return (out[0] if len(out) == 1 else "(?:" + "|".join(out) + ")"), int(tail)


START, END, GATE = "start", "end", "gate"


@dataclass(frozen=True)
class Probe:
    """`name`: the rule it serves (several probes may serve one rule); `pattern` in Python syntax, matched on the
    lower-cased text; `kind`: START reports where each match starts, END where each ends (cheaper when the start
    would be costly to track: unbounded repeats at the front), GATE only whether it matches anywhere."""

    name: str
    pattern: str
    flags: int = 0
    kind: str = START


# Compiled (scripts/build_native.py), a class takes no subclass written in Python unless it says so: the tests
# subclass Hits to make every offset a candidate.
@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass
class Hits:
    offsets: dict[str, list[int]]  # per probe name, the offsets where it matched (ascending, distinct)
    gates: set[str]               # the names of the gates that matched
    # Per start probe, parallel to its offsets: the furthest end of its matches that start there or before.
    reach: dict[str, list[int]] = field(default_factory=dict)

    def of(self, name: str) -> list[int]:
        return self.offsets.get(name, [])

    def between(self, name: str, start: int, end: int) -> list[int]:
        """The offsets of `name` from `start` up to (not including) `end`."""
        found = self.offsets.get(name)
        if not found:
            return []
        return found[bisect_left(found, start):bisect_left(found, end)]

    def __contains__(self, name: str) -> bool:
        return name in self.gates or name in self.offsets


def _hs_flag(kind: str) -> int:
    """Hyperscan's flag for a kind of probe: track starts (START), report ends (END), report once (GATE)."""
    return int({START: hyperscan.HS_FLAG_SOM_LEFTMOST, END: 0, GATE: hyperscan.HS_FLAG_SINGLEMATCH}[kind])


def compiles(probe: Probe) -> bool:
    """Whether the probe converts (to_hyperscan) and hyperscan takes it: a long alternation can exceed its limit on
    a pattern's size ("Pattern length exceeds limit": the parts catalogue's formats as one probe did)."""
    try:
        expression = to_hyperscan(probe.pattern, probe.flags)[0].encode("ascii")
    except (ValueError, KeyError, re.error):
        return False
    if hyperscan is None:
        return True
    flag = _hs_flag(probe.kind)

    def check() -> bool:
        try:
            hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK).compile(expressions=[expression], ids=[0], flags=[flag])
        except hyperscan.error:
            return False
        return True
    return hscache.compiles(hyperscan, expression, flag, check)


def taken(probe: Probe, fallback: Probe | None = None) -> list[Probe]:
    """The probe as hyperscan takes it: itself, else its alternation split in halves until each part compiles (the
    union of their matches is the probe's). A part that can neither compile nor be split is `fallback` (a wider
    probe), else returned whole (ProbeSet then says why)."""
    if compiles(probe):
        return [probe]
    halves = _split_alternation(probe.pattern)
    if halves is None:
        return [fallback or probe]
    return [part for half in halves for part in taken(replace(probe, pattern=half), fallback)]


def _split_alternation(pattern: str) -> tuple[str, str] | None:
    """The pattern as two whose matches together are its own: its top-level alternatives in two halves, else those
    of its widest top-level group that is not repeated, X(?:a|b)Y read as X(?:a)Y | X(?:b)Y. None when it has no such
    alternation."""
    found = _alternation(pattern)
    if found is None:
        return None
    group, inner = found
    half = len(inner) // 2
    return _joined(pattern, group, inner[:half]), _joined(pattern, group, inner[half:])


def _alternation(pattern: str) -> tuple[tuple[int, int] | None, list[str]] | None:
    """The alternatives _split_alternation splits: the top-level ones (group None), else those of the widest
    top-level group that is not repeated (its span)."""
    alternatives = _alternatives(pattern)
    if len(alternatives) > 1:
        return None, alternatives
    best: tuple[tuple[int, int], list[str]] | None = None
    for s, e in _outline(pattern)[1]:
        # (not a repeated group: the halves of "(?:a|b)+" would not match "ab")
        whole = pattern.startswith("(?:", s) and pattern[e:e + 1] not in ("*", "+", "?", "{")
        inner = _alternatives(pattern[s + 3:e - 1]) if whole else []
        if len(inner) > 1 and (best is None or e - s > best[0][1] - best[0][0]):
            best = ((s, e), inner)
    return best


def _joined(pattern: str, group: tuple[int, int] | None, alternatives: Sequence[str]) -> str:
    """`pattern` with only `alternatives` of its alternation (_alternation: at the top, or in `group`)."""
    if group is None:
        return "|".join(alternatives)
    s, e = group
    return pattern[:s] + "(?:" + "|".join(alternatives) + ")" + pattern[e:]


# A character written by its code ("\u05e0"): the pattern's text then does not show whether it lies in cp1252.
_ESCAPED_CHARACTER = re.compile(r"\\[uUxN0-7]")


# A character class ("[\u3040-\u30ff]"): never a literal start, whatever it holds.
_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]")


def _may_hold_foreign(pattern: str) -> bool:
    """Whether the text of a pattern holds, outside its classes, a character outside cp1252 or one written by its
    code (so whether it may start with one: else it need not be parsed). A worker's start-up: apart() and
    foreign_starts() took about 0.5 s over the decision scan's 1,182 probes parsing each, 0.1 to 0.2 s so over both
    scans' 1,235."""
    text = _CLASS.sub("", pattern)
    return _ESCAPED_CHARACTER.search(text) is not None or not in_cp1252(text)


@lru_cache(maxsize=4096)  # (ProbeSet asks again for the probes apart() returns as they were)
def foreign_starts(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    """The literal strings one of which starts every match of `pattern` (its lookarounds aside), when each of them
    starts with a character outside cp1252 ("復旧", "تم حل"); else None."""
    if flags & re.IGNORECASE:
        return None  # (the literals would stand for their other cases too)
    if not _may_hold_foreign(pattern):
        return None  # (none to start with: most probes, without parsing them)
    try:
        found = _literal_starts(list(sre_parse.parse(pattern, flags)), 0, 64)
    except re.error:
        return None
    if not found or any(in_cp1252(w[0]) for w in found):
        return None
    return tuple(sorted(found))


def apart(probe: Probe) -> list[Probe]:
    """A start probe some of whose alternatives start with a character outside cp1252 ("ف" among CRITICAL's 528
    first words) as two: those alternatives (found in Python: ProbeSet) and the others; else the probe itself."""
    if probe.kind != START or not _may_hold_foreign(probe.pattern) or foreign_starts(probe.pattern, probe.flags):
        return [probe]
    found = _alternation(probe.pattern)
    if found is None:
        return [probe]
    group, inner = found
    # (an alternative whose own text holds no such character is not parsed: _may_hold_foreign)
    foreign = [a for a in inner if _may_hold_foreign(a)
               and foreign_starts(_joined(probe.pattern, group, [a]), probe.flags) is not None]
    if not foreign or len(foreign) == len(inner):
        return [probe]
    rest = [a for a in inner if a not in foreign]
    return [replace(probe, pattern=_joined(probe.pattern, group, part)) for part in (rest, foreign)]


def _alternatives(pattern: str) -> list[str]:
    bars = _outline(pattern)[0]
    return [pattern[s + 1:e] for s, e in zip([-1, *bars], [*bars, len(pattern)], strict=True)]


def _outline(pattern: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Where the pattern's "|" stand outside every group, class and escape, and the spans of its outermost
    groups."""
    bars: list[int] = []
    groups: list[tuple[int, int]] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1 + (pattern[i + 1:i + 2] == "^")
            i += pattern[i:i + 1] == "]"  # "[]...]", "[^]...]": that "]" is a member
            continue
        elif c == "(":
            start = i if depth == 0 else start
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                groups.append((start, i + 1))
        elif c == "|" and depth == 0:
            bars.append(i)
        i += 1
    return bars, groups


_WORD_START = "(?<!\\w)(?:"


def first_words(pattern: str, limit: int = 64) -> tuple[str, str | None]:
    """Wider probes for `(?<!\\w)(?:A|B|...)...`: where each alternative can start, by its literal first characters
    ("(?:production\\s+)?lines?\\s*..." -> "production", "line"), and the alternatives a class may start
    ("\\w*linie\\s+steht"), or None. For a long alternation of phrases (CRITICAL's two hundred): hyperscan tracks
    the starts of literals at next to no cost, those of the whole alternation at a great one (6.4 MB of the
    decision database's 8.9 MB in round 29; 1.7 MB for the six that a class may start). A pattern of another form
    is returned as it is, as the first."""
    outline = _outline(pattern)[1]
    if not pattern.startswith("(?<!\\w)") or len(outline) < 2 or not pattern.startswith("(?:", outline[1][0]):
        return pattern, None
    start, end = outline[1]
    literal: set[str] = set()
    others: list[str] = []
    for alternative in _alternatives(pattern[start + 3:end - 1]):
        found = _literal_starts(list(sre_parse.parse(alternative)), 0, limit)
        if found is None:
            others.append(alternative)
        else:
            literal |= found
    words = _WORD_START + "|".join(re.escape(w) for w in sorted(literal, key=lambda w: (-len(w), w))) + ")"
    return words, _WORD_START + "|".join(others) + ")" if others else None


def _literal_starts(items: list[Any], i: int, limit: int) -> set[str] | None:
    """Literal strings, one of which starts every match of items[i:] (as parsed by sre_parse), each as long as the
    items stay literal (at most `limit` strings); None when a match may start with a class or be empty."""
    if i == len(items):
        return None
    op, av = items[i]
    if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
        return _literal_starts(items, i + 1, limit)
    if op is sre_c.LITERAL:
        rest = _literal_starts(items, i + 1, limit)
        c = chr(av)
        return {c} if rest is None or len(rest) > limit else {c + r for r in rest}
    if op is sre_c.SUBPATTERN and not av[1] and not av[2]:  # (no flags set or cleared inside)
        return _literal_starts([*av[3], *items[i + 1:]], 0, limit)
    if op is sre_c.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            found = _literal_starts([*branch, *items[i + 1:]], 0, limit)
            if found is None:
                return None
            out |= found
        return out
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        low, _, sub = av
        first = _literal_starts(list(sub), 0, limit)
        if low >= 1 or first is None:
            return first
        rest = _literal_starts(items, i + 1, limit)  # (an optional start: it, or what follows it)
        return None if rest is None else first | rest
    return None


def _fixed_width(probe: Probe) -> int | None:
    """The width of every match of a start probe when it has one (its start is then its end less the width)."""
    if probe.kind != START:
        return None
    low, high = sre_parse.parse(probe.pattern, probe.flags).getwidth()
    return int(low) if low == high else None


def _collect(pid: int, start: int, end: int, flags: int, found: list[tuple[int, int, int]]) -> None:
    found.append((pid, start, end))


class ProbeSet:
    """Probes compiled into one hyperscan database: `scan(text)` reports them all in one pass."""

    def __init__(self, probes: Sequence[Probe]) -> None:
        self.probes = tuple(part for p in probes for part in apart(p))
        self.names = tuple(p.name for p in self.probes)
        self.kinds = tuple(p.kind for p in self.probes)
        self.widths = tuple(_fixed_width(p) for p in self.probes)
        # (every start tried, overlapping matches too, as hyperscan reports them: an END probe's end is its group's)
        self._python = [re.compile(r"(?=(" + p.pattern + r"))" if p.kind == END else r"(?=" + p.pattern + r")",
                                   p.flags) for p in self.probes]
        # Start probes with a letter outside cp1252 ("ofertę"): the scan sees that letter as any letter of its class
        # ("ofertę" matched Romanian "ofertă" in dev15.jsonl), so their starts are checked by their Python pattern.
        # Only those of a fixed width: for them no other start hides behind a reported one (see matches()).
        self._inexact = frozenset(i for i, p in enumerate(self.probes) if p.kind == START
                                  and self.widths[i] is not None and not all(map(in_cp1252, p.pattern)))
        # Start probes every match of which starts with a character outside cp1252 ("復旧", "تم حل"): in the scan it is
        # the byte of its class, so the probe matched any run of such letters of its length (61 reports an email
        # on dev2.jsonl for the strong phrases of COMPLETION alone, each a callback). They are found in Python
        # instead (_find_foreign), where the scanned bytes hold the class byte of one of their first characters:
        # per such first character, the probes and the literal strings one of which starts each of their matches.
        self._foreign: dict[str, list[tuple[int, str]]] = {}  # first character -> (probe id, literal string)
        for i, p in enumerate(self.probes):
            words = foreign_starts(p.pattern, p.flags) if p.kind == START else None
            for w in words or ():
                self._foreign.setdefault(w[0], []).append((i, w))
        self._foreign_bytes = bytes(sorted({_class_byte(c) for c in self._foreign}))
        self._foreign_first = re.compile("[" + "".join(map(re.escape, sorted(self._foreign))) + "]" if self._foreign
                                         else "(?!)")
        self.tails: list[int] = []  # per probe, the characters its hyperscan matches end late (to_hyperscan)
        self.db: Any = None
        if hyperscan is not None:
            self.db = self._compile()
        # Per probe id, how a hyperscan match becomes a span of the text: (name, whether its start is hyperscan's,
        # how far before the reported end the span starts when it is not, how far before it the span ends; -1: a
        # gate). The scanned bytes start with a newline, and a probe's match has one character before its pattern's
        # (and one after when it ends in a lookahead: self.tails).
        self._plan = [self._span_plan(i) for i in range(len(self.tails))]

    def _span_plan(self, pid: int) -> tuple[str, bool, int, int]:
        kind, width, late = self.kinds[pid], self.widths[pid], 1 + self.tails[pid]
        if kind == GATE:
            return self.names[pid], False, -1, -1
        if kind != START:
            return self.names[pid], False, late, late
        if width is None:
            return self.names[pid], True, 0, late
        return self.names[pid], False, late + width, late

    def _compile(self) -> Any:
        expressions: list[bytes] = []
        flags: list[int] = []
        ids: list[int] = []
        foreign = {i for found in self._foreign.values() for i, _ in found}
        for i, p in enumerate(self.probes):
            if i in foreign:
                self.tails.append(0)
                continue
            try:
                expression, tail = to_hyperscan(p.pattern, p.flags)
                expressions.append(expression.encode("ascii"))
                self.tails.append(tail)
            except (ValueError, KeyError) as e:
                raise ValueError(f"probe {p.name} ({p.pattern!r}) cannot be converted: {e}") from e
            if p.kind == START and self.widths[i] is not None:
                flags.append(0)  # the start is the end less the width: no need for hyperscan to track it
            else:
                flags.append(_hs_flag(p.kind))
            ids.append(i)
        if not expressions:
            return None  # (every probe is found in Python: scan_python)

        def compile_it() -> Any:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=expressions, ids=ids, flags=flags)
            return db
        return hscache.database(hyperscan, expressions, ids, flags, compile_it)

    def scan(self, low: str) -> Hits:
        """`low`: the lower-cased text (offsets are its own)."""
        if self.db is None:
            return self.scan_python(low)
        found: list[tuple[int, int, int]] = []
        scanned = b"\n" + encode(low) + b"\n"
        self.db.scan(scanned, match_event_handler=_collect, context=found)
        spans: dict[str, list[tuple[int, int]]] = {}
        if self._foreign and any(b in scanned for b in self._foreign_bytes):
            self._find_foreign(low, spans)
        gates: set[str] = set()
        plan = self._plan
        for pid, start, end in found:
            name, som, back_start, back_end = plan[pid]
            if back_end < 0:
                gates.add(name)
                continue
            span = (start if som else end - back_start, end - back_end)
            if pid in self._inexact and self._python[pid].match(low, span[0]) is None:
                continue
            lst = spans.get(name)
            if lst is None:
                spans[name] = [span]
            else:
                lst.append(span)
        offsets: dict[str, list[int]] = {}
        reach: dict[str, list[int]] = {}
        for name, lst in spans.items():
            if len(lst) == 1:
                offsets[name], reach[name] = [lst[0][0]], [lst[0][1]]
                continue
            lst.sort()
            starts: list[int] = []
            furthest: list[int] = []
            far = -1
            for s, e in lst:
                if e > far:
                    far = e
                if starts and starts[-1] == s:
                    furthest[-1] = far
                else:
                    starts.append(s)
                    furthest.append(far)
            offsets[name], reach[name] = starts, furthest
        return Hits(offsets, gates, reach)

    def _find_foreign(self, low: str, spans: dict[str, list[tuple[int, int]]]) -> None:
        """The starts of the probes found in Python (self._foreign), every one of them: so as spans that reach no
        further than their start (no start hides inside them; see matches()). A literal string's place is where its
        first character stands (a character class: one pass of `re` over the text, not a str.find per string)."""
        for m in self._foreign_first.finditer(low):
            at = m.start()
            for pid, word in self._foreign[low[at]]:
                if low.startswith(word, at) and self._python[pid].match(low, at) is not None:
                    spans.setdefault(self.names[pid], []).append((at, at))

    def scan_python(self, low: str) -> Hits:
        """The same probes run by Python's engine (without hyperscan, and for tests): every start, slowly."""
        offsets: dict[str, list[int]] = {}
        gates: set[str] = set()
        for p, rx in zip(self.probes, self._python, strict=True):
            found = [m.end(1) if p.kind == END else m.start() for m in rx.finditer(low)]
            if not found:
                continue
            if p.kind == GATE:
                gates.add(p.name)
            else:
                offsets.setdefault(p.name, []).extend(found)
        return Hits({k: sorted(set(v)) for k, v in offsets.items()}, gates)


def matches(pattern: re.Pattern[str], text: str, hits: Hits | None, probe: str, pos: int = 0,
            endpos: int | None = None) -> Iterator[re.Match[str]]:
    """pattern.finditer(text, pos, endpos), tried where `probe` matched (every match of the pattern starts at a
    match of its probe), and at every offset a start may hide at; `hits` None: the plain scan.

    Hyperscan reports, for each end of a probe's matches, the leftmost start only: a start with the same end lies
    inside the reported match. So the offsets inside a reported match are tried too when the pattern does not
    match at its start, and inside the matches that start before `pos` or before a match of the pattern ends
    (Hits.reach: how far the matches starting at or before each reported start reach)."""
    stop = len(text) if endpos is None else endpos
    if hits is None:
        yield from pattern.finditer(text, pos, stop)
        return
    starts = hits.offsets.get(probe)
    if not starts:
        return
    reach = hits.reach.get(probe, starts)
    n, at = len(starts), pos
    while True:
        i = bisect_left(starts, at)
        inside = min(max(at, reach[i - 1]) if i else at, stop)  # offsets to try one by one
        p, m = at, None
        while m is None and p < stop:
            if p < inside:
                m = pattern.match(text, p, stop)
                p += 1
                continue
            while i < n and starts[i] < p:  # starts passed while trying offsets one by one: their matches
                inside = min(max(inside, reach[i]), stop)  # may reach further than the one that set `inside`
                i += 1
            if p < inside:
                continue
            if i >= n or starts[i] >= stop:
                return
            p = starts[i]
            m = pattern.match(text, p, stop)
            if m is None:  # a start may hide inside this match of the probe
                inside = min(max(inside, reach[i]), stop)
                p += 1
            i += 1
        if m is None:
            return
        yield m
        at = m.end() if m.end() > m.start() else m.start() + 1


def matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match[str]]:
    """pattern.finditer(text), tried only at `starts` (ascending): the same matches when every match of the
    pattern starts at one of them."""
    end = 0
    for s in starts:
        if s >= end and (m := pattern.match(text, s)) is not None:
            yield m
            end = m.end() if m.end() > s else s + 1


def search(pattern: re.Pattern[str], text: str, hits: Hits | None, probe: str, pos: int = 0,
           endpos: int | None = None) -> re.Match[str] | None:
    """pattern.search(text, pos, endpos), tried where `probe` matched (see matches)."""
    stop = len(text) if endpos is None else endpos
    if hits is None:
        return pattern.search(text, pos, stop)
    return next(matches(pattern, text, hits, probe, pos, stop), None)
