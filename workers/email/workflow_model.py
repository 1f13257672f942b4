"""The learned half of the workflow state, for where the word lists of workers.email.rules do not clearly decide.

Multinomial naive Bayes over the words of a message's subject and new text (`features`), trained with
scikit-learn by scripts/train_workflow.py on the development mail (data/email_eval/dev.jsonl to dev10.jsonl) and
shipped as its counts in catalogues/workflow_model.json: per feature, how often it occurred in the messages of each
state. The weights follow from the counts exactly as scikit-learn's MultinomialNB computes them, in plain Python
(no numpy at run time). The rules decide alone where a state clearly leads; elsewhere this model does
(workers.email.rules._state). On unseen authors' mail it alone was right for 6 to 8 messages of 10, about as
often as the word lists (docs/email.md, rounds 6 to 8)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parent / "catalogues" / "workflow_model.json"
STATES = ("START_POINT", "COMPLETION", "IN_PROGRESS", "RETURNS", "SHIPPING", "QUOTE_PROCESSING", "ORDER_MANAGEMENT")

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


def features(subject_low: str, new_low: str) -> list[str]:
    """The features of a message, lower-cased subject (without its RE:) and new text, one entry per occurrence: the
    new text's words and pairs of neighbouring words ("need pricing"), the subject's words marked "s:"."""
    words = _tokens(new_low)
    return [*words, *map(" ".join, pairwise(words)), *map("s:".__add__, _tokens(subject_low))]


@dataclass(frozen=True)
class WorkflowModel:
    """Multinomial naive Bayes as counts: `class_counts[i]` messages of STATES[i] were seen; `counts[f]` holds
    (i, n) for each state i whose messages held feature f n times (n > 0). `alpha`: additive smoothing.

    A feature's log-probability in state i is log((n + alpha) / (N_i + alpha * V)) (N_i: all feature occurrences in
    state i, V: the features known); it is summed sparsely: the part for n = 0, log(alpha / (N_i + alpha V)), is
    the same for every known feature, so each occurrence adds it once, and log((n + alpha) / alpha) only where
    n > 0."""

    class_counts: tuple[float, ...]
    counts: Mapping[str, tuple[tuple[int, float], ...]]
    alpha: float = 1.0
    # Derived from the above in __post_init__: the log prior, the part of an occurrence for n = 0, the deltas.
    _prior: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _unseen: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _deltas: dict[str, tuple[float, ...]] = field(init=False, repr=False, compare=False)  # per state, 0.0 if unseen

    def __post_init__(self) -> None:
        totals = [0.0] * len(STATES)
        for f, per_state in self.counts.items():
            for i, n in per_state:
                if not 0 <= i < len(STATES) or n <= 0:
                    raise ValueError(f"workflow model: feature {f!r} has a bad count ({i}, {n})")
                totals[i] += n
        if len(self.class_counts) != len(STATES) or any(c < 0 for c in self.class_counts):
            raise ValueError(f"workflow model: class_counts needs {len(STATES)} counts of messages, >= 0")
        if self.alpha <= 0:
            raise ValueError("workflow model: alpha must be > 0")
        seen = sum(self.class_counts)
        v = len(self.counts)
        # Empty model (nothing seen): every state equal, so the rules' own order decides.
        prior = [math.log(c / seen) if c > 0 else -math.inf for c in self.class_counts] if seen else [0.0] * len(STATES)
        unseen = [math.log(self.alpha / (t + self.alpha * v)) if v else 0.0 for t in totals]
        deltas = {}
        for f, per_state in self.counts.items():
            dense = [0.0] * len(STATES)
            for i, n in per_state:
                dense[i] = math.log((n + self.alpha) / self.alpha)
            deltas[f] = tuple(dense)
        object.__setattr__(self, "_prior", tuple(prior))
        object.__setattr__(self, "_unseen", tuple(unseen))
        object.__setattr__(self, "_deltas", deltas)

    @classmethod
    def empty(cls) -> WorkflowModel:
        """A model that knows nothing: every state equally likely (the rules alone)."""
        return cls(class_counts=(0.0,) * len(STATES), counts={})

    def log_scores(self, feats: Iterable[str]) -> list[float]:
        """Joint log-likelihood of each of STATES (scikit-learn's predict_joint_log_proba); unknown features count
        nothing."""
        hits = [hit for hit in map(self._deltas.get, feats) if hit is not None]  # most features are unknown
        if not hits:
            return list(self._prior)
        # Each state's deltas summed in one pass of C (zip(*hits) transposes the dense rows): 29 -> 16 us a message
        # of dev.jsonl against a loop over (state, delta) pairs.
        known = len(hits)
        columns = zip(*hits, strict=True)
        return [p + sum(col) + known * u for p, col, u in zip(self._prior, columns, self._unseen, strict=True)]

    def probabilities(self, feats: Iterable[str]) -> list[float]:
        scores = self.log_scores(feats)
        top = max(scores)
        if top == -math.inf:
            return [1.0 / len(STATES)] * len(STATES)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return [e / total for e in exp]

    def to_json(self, about: Mapping[str, object]) -> str:
        """The model file: `about` first, then one feature a line (readable, and a diff shows what a retrain did)."""
        head = {**about, "states": list(STATES), "alpha": self.alpha, "class_counts": list(self.class_counts)}
        lines = [json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "counts": {']
        items = sorted(self.counts.items())
        for k, (f, per_state) in enumerate(items):
            sep = "," if k < len(items) - 1 else ""
            value = {STATES[i]: _compact(n) for i, n in per_state}
            lines.append(f"  {json.dumps(f, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}{sep}")
        lines.append(" }\n}\n")
        return "\n".join(lines)


def _compact(n: float) -> float | int:
    return int(n) if float(n).is_integer() else n


def from_counts(class_counts: Sequence[float], counts: Mapping[str, Mapping[str, float]],
                alpha: float) -> WorkflowModel:
    """A model from counts keyed by state name (as the file holds them)."""
    unknown = {s for per in counts.values() for s in per} - set(STATES)
    if unknown:
        raise ValueError(f"workflow model: unknown state(s) {sorted(unknown)}")
    return WorkflowModel(
        class_counts=tuple(float(c) for c in class_counts),
        counts={f: tuple((STATES.index(s), float(n)) for s, n in sorted(per.items(), key=lambda x: STATES.index(x[0]))
                         if n) for f, per in counts.items()},
        alpha=float(alpha))


@lru_cache(maxsize=4)
def load_workflow_model(path: str = str(MODEL_FILE)) -> WorkflowModel:
    """The shipped model (or another file of its form); a bad file fails with its path and the problem."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if list(raw["states"]) != list(STATES):
            raise ValueError(f"states {raw['states']} are not {list(STATES)}")
        return from_counts(raw["class_counts"], raw["counts"], raw["alpha"])
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a workflow model: {e!r}") from e
