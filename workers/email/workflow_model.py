"""The learned half of the workflow state: it weighs the word lists' points (workers.email.rules) with the words
themselves.

A multinomial logistic regression over the words and word pairs of a message's subject and new text, whether it is a
reply or a forward and how long its new text is (`features`, each counted once), and the rules' points per state
(halved: RULE_SCALE); trained with scikit-learn by scripts/train_workflow.py on the development mail
(the parts of data/email_eval named by PARTS there) and shipped as its weights in
catalogues/workflow_model.json. The state is the one with the highest score, computed in plain Python (no numpy at
run time). It decides every message the rules do not fix as START_POINT (out-of-office replies, acknowledgements,
FYIs, thanks). Each author's set measured with a model trained on the others (`python scripts/train_workflow.py`):
right for 0.861 of 5,339 messages, where round 8's form (the rules where they clearly lead, else naive Bayes over
the words) was right for 0.789 and the rules alone for 0.731 (docs/email.md, rounds 9 to 21)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from workers.email import CATALOGUES

MODEL_FILE = CATALOGUES / "workflow_model.json"
STATES = ("START_POINT", "COMPLETION", "IN_PROGRESS", "RETURNS", "SHIPPING", "QUOTE_PROCESSING", "ORDER_MANAGEMENT")
# The rules' points enter the model halved: with scikit-learn's default regularisation (C=1) that weighed them best
# against the words on the development mail (each author's set held out in turn: x1 0.840, x0.5 0.851, x0.25 0.841).
RULE_SCALE = 0.5

# Runs of letters: ids, amounts and dates are no evidence of a state (they name what, not what about).
_WORD = re.compile(r"[^\W\d_]+")
# Japanese and Chinese write no spaces between words: a run of their letters gives its character pairs.
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _tokens(low: str) -> list[str]:
    found = _WORD.findall(low)
    if not _CJK.search(low):
        return found
    out: list[str] = []
    for w in found:
        if _CJK.search(w):
            out += [w[i:i + 2] for i in range(max(1, len(w) - 1))]
        else:
            out.append(w)
    return out


def features(subject_low: str, new_low: str, thread: str = "", length: int = 0) -> list[str]:
    """The features of a message, lower-cased subject (without its RE:) and new text, one entry per occurrence: the
    new text's words and pairs of neighbouring words ("need pricing"), the subject's words marked "s:"; and, marked
    "#" (no word holds one), whether it is a reply or a forward (`thread`: "reply", "forward" or "") and its new
    text's length (`length` characters) in steps of 200 up to 800 and more: a short reply is more often a closing
    or a chase (each of ten authors' sets held out in turn: 0.850 without these, 0.858 with them)."""
    words = _tokens(new_low)
    marks = [f"#length:{min(length // 200, 4)}"] + ([f"#{thread}"] if thread else [])
    return [*words, *map(" ".join, pairwise(words)), *map("s:".__add__, _tokens(subject_low)), *marks]


Row = tuple[float, ...]  # one weight per state of STATES


@dataclass(frozen=True)
class WorkflowModel:
    """Multinomial logistic regression as weights. The score of STATES[i] is intercepts[i], plus weights[f][i] for
    each distinct known feature f of the message, plus RULE_SCALE x points x rule_weights[state][i] for each state
    the rules gave points. The highest score wins (ties: the earlier in STATES)."""

    intercepts: Row
    weights: Mapping[str, Row]
    rule_weights: Mapping[str, Row]
    _scaled: dict[str, Row] = field(init=False, repr=False, compare=False)  # rule_weights x RULE_SCALE

    def __post_init__(self) -> None:
        n = len(STATES)
        if len(self.intercepts) != n:
            raise ValueError(f"workflow model: intercepts needs {n} weights, one per state")
        for name, rows in (("weights", self.weights), ("rule_weights", self.rule_weights)):
            for key, row in rows.items():
                if len(row) != n:
                    raise ValueError(f"workflow model: {name}[{key!r}] has {len(row)} weights, not {n}")
        unknown = set(self.rule_weights) - set(STATES)
        if unknown:
            raise ValueError(f"workflow model: rule weights for unknown state(s) {sorted(unknown)}")
        object.__setattr__(self, "_scaled", {s: tuple(RULE_SCALE * w for w in row)
                                             for s, row in self.rule_weights.items()})

    @classmethod
    def empty(cls) -> WorkflowModel:
        """A model that knows nothing (the rules alone: workers.email.rules._state)."""
        return cls(intercepts=(0.0,) * len(STATES), weights={}, rule_weights={})

    @property
    def is_empty(self) -> bool:
        return not self.weights and not self.rule_weights and not any(self.intercepts)

    def scores(self, feats: Iterable[str], points: Mapping[str, float]) -> list[float]:
        """Each state's score (scikit-learn's decision_function): unknown features count nothing."""
        out = list(self.intercepts)
        for state, p in points.items():
            row = self._scaled.get(state)
            if row is not None and p:
                out = [x + p * w for x, w in zip(out, row, strict=True)]
        # The known features' rows (a third of a message's features are unknown), filtered in C, and each state's
        # weights summed in one pass of C (zip(*rows) transposes the rows).
        rows: list[Row] = list(filter(None, map(self.weights.get, set(feats))))
        if not rows:
            return out
        return [x + sum(col) for x, col in zip(out, zip(*rows, strict=True), strict=True)]

    def state(self, feats: Iterable[str], points: Mapping[str, float]) -> str:
        scores = self.scores(feats, points)
        return STATES[max(range(len(STATES)), key=scores.__getitem__)]

    def to_json(self, about: Mapping[str, object]) -> str:
        """The model file: `about` first, then one feature a line (readable, and a diff shows what a retrain did)."""
        head = {**about, "states": list(STATES), "rule_scale": RULE_SCALE, "intercepts": list(self.intercepts),
                "rule_weights": {s: list(r) for s, r in self.rule_weights.items()}}
        lines = [json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "weights": {']
        items = sorted(self.weights.items())
        for k, (f, row) in enumerate(items):
            sep = "," if k < len(items) - 1 else ""
            lines.append(f"  {json.dumps(f, ensure_ascii=False)}: {json.dumps(list(row))}{sep}")
        lines.append(" }\n}\n")
        return "\n".join(lines)


def from_weights(intercepts: Sequence[float], weights: Mapping[str, Mapping[str, float]],
                 rule_weights: Mapping[str, Mapping[str, float]] | None = None) -> WorkflowModel:
    """A model from weights keyed by state name (a state left out weighs 0), for tests and hand-made models."""
    def row(per: Mapping[str, float]) -> Row:
        unknown = set(per) - set(STATES)
        if unknown:
            raise ValueError(f"workflow model: unknown state(s) {sorted(unknown)}")
        return tuple(float(per.get(s, 0.0)) for s in STATES)
    return WorkflowModel(intercepts=tuple(float(b) for b in intercepts),
                         weights={f: row(per) for f, per in weights.items()},
                         rule_weights={s: row(per) for s, per in (rule_weights or {}).items()})


@lru_cache(maxsize=4)
def load_workflow_model(path: str = str(MODEL_FILE)) -> WorkflowModel:
    """The shipped model (or another file of its form); a bad file fails with its path and the problem."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if list(raw["states"]) != list(STATES):
            raise ValueError(f"states {raw['states']} are not {list(STATES)}")
        if raw["rule_scale"] != RULE_SCALE:
            raise ValueError(f"rule_scale {raw['rule_scale']} is not this code's {RULE_SCALE}: retrain the model")
        return WorkflowModel(intercepts=tuple(map(float, raw["intercepts"])),
                             weights={str(f): tuple(map(float, row)) for f, row in raw["weights"].items()},
                             rule_weights={str(s): tuple(map(float, row)) for s, row in raw["rule_weights"].items()})
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a workflow model: {e!r}") from e
