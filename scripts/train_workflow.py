#!/usr/bin/env python3
"""Train the workflow state's learned model and measure it against the word lists, on the development mail.

    python scripts/train_workflow.py            # each author's set measured with a model trained on the others
    python scripts/train_workflow.py --unseen   # also: trained without the newest sets, measured on them
    python scripts/train_workflow.py --write    # then write workers/email/catalogues/workflow_model.json
    python scripts/train_workflow.py --check    # only: is the shipped file the model the data trains? (a test)

Needs scikit-learn (a development dependency: pip install -e '.[dev]'); Phase 1 itself reads the written weights
in plain Python (workers/email/workflow_model.py). Data: the sets of data/email_eval named by PARTS below,
never the held-out part (see data/email_eval/README.md for which sets the rules were tuned on). Three forms are
compared: the rules alone, round 8's (the rules where a state clearly leads, else naive Bayes over the words) and
the shipped one (logistic regression over the words and the rules' points). The rules were tuned on these sets, so
their figures there are optimistic; UNSEEN names the newest sets, which neither the rules nor the model have seen.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction import DictVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import MultinomialNB  # noqa: E402

from workers.email.evaluation import load_rows  # noqa: E402
from workers.email.rules import (  # noqa: E402
    _STATE_ORDER,
    _SUBJECT_PREFIX,
    Now,
    _combine,
    _general,
    _points,
    _quiet,
    _state,
    decide,
    state_features,
    thread_of,
)
from workers.email.segment import is_acknowledgement, is_auto_reply, is_out_of_office, split_email  # noqa: E402
from workers.email.workflow_model import (  # noqa: E402
    MODEL_FILE,
    RULE_SCALE,
    STATES,
    WorkflowModel,
    load_workflow_model,
)

EVAL = ROOT / "data" / "email_eval"
PARTS = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "dev10", "dev11", "dev12",
         "dev13", "dev14", "dev15", "dev16", "dev17", "dev18", "dev19", "dev20", "dev21", "dev22",
         "dev23", "dev24", "dev25", "dev26", "dev27", "dev28", "dev29", "dev30", "dev31", "dev32", "dev33", "dev34",
         "dev35", "dev36", "dev37", "dev38", "dev39", "dev40", "dev41", "dev42", "dev43", "dev44", "dev45", "dev46",
         "dev47", "dev48", "dev49", "dev50", "dev51", "dev52", "dev53", "dev54", "dev55", "dev56", "dev57",
         "dev58", "dev59", "dev60", "dev61", "dev62", "dev63", "dev64", "dev65", "dev66",
         "dev67", "dev68", "dev69", "dev70", "dev71", "dev72", "dev73", "dev74")
# Written during round 41 and only measured: neither the rules nor the model have seen them.
UNSEEN = ("dev75", "dev76")
C = 1.0  # scikit-learn's default regularisation (C 1 and 3 within 0.002 of each other by author set)
MIN_EMAILS = 2  # a feature of one email only is left out (it says nothing beyond that email; a file 4x smaller)
TOL = 1e-8  # lbfgs run to the optimum (unique: L2 makes it strictly convex), so a retrain elsewhere gives the same
DIGITS = 5  # decimals kept of each weight (the file's size; the choices are checked to be scikit-learn's)
CHECK_TOLERANCE = 1e-4  # how far a retrain's weights may stray from the shipped ones (other BLAS, other CPUs)


@dataclass(frozen=True)
class Example:
    id: str
    part: str
    conversation: str
    label: str
    email: dict[str, Any]
    new_text: str
    now: Now
    thread: str  # rules.thread_of(the subject)
    features: tuple[str, ...]
    scores: dict[str, float] | None  # the rules' points per state; None: START_POINT whatever the words say


def examples() -> list[Example]:
    return [_example(row, part) for part in PARTS for row in load_rows(EVAL / f"{part}.jsonl")]


def _example(row: dict[str, Any], part: str) -> Example:
    e = row["email"]
    new = split_email(e["body"], None, e["sender_email"]).new
    now = Now.of(_SUBJECT_PREFIX.sub("", e.get("subject", "")), new)
    thread = thread_of(e.get("subject", ""))
    ex = Example(e["id"], part, row["conversation_id"], row["labels"]["workflow_state"], e, new, now, thread,
                 tuple(state_features(now, thread)), _rule_scores(e, new, now))
    rules = decide(e.get("subject", ""), new, e["sender_email"], e.get("headers"), now=now,
                   model=WorkflowModel.empty()).state
    if rules != combined(ex, WorkflowModel.empty()):  # the points are those decide() weighs
        raise SystemExit(f"train_workflow: {e['id']}: the rules' points here do not give decide()'s state")
    return ex


def _rule_scores(e: dict[str, Any], new: str, now: Now) -> dict[str, float] | None:
    """The points decide() weighs (workers.email.rules), or None where it decides START_POINT whatever they are."""
    subject, headers = e.get("subject", ""), e.get("headers")
    auto = is_auto_reply(subject, new, headers, now.hits)
    if is_out_of_office(subject, new, now.hits) or (auto and is_acknowledgement(subject, new, headers, now.hits)):
        return None
    own = _points(now, now.new)
    if (_quiet(now, now.new) and not own) or _general(now):
        return None
    return _combine(own, _points(now, now.subject), 0.5 if _SUBJECT_PREFIX.match(subject) else 1.0)


def _vector(ex: Example) -> dict[str, float]:
    """What the model reads of a message (workers.email.workflow_model): each distinct feature once, and the rules'
    points per state (scaled by RULE_SCALE) under "points:<state>"."""
    out = dict.fromkeys(ex.features, 1.0)
    for state, points in (ex.scores or {}).items():
        out[f"points:{state}"] = RULE_SCALE * points
    return out


def fit(train: Sequence[Example], c: float = C, min_emails: int = MIN_EMAILS) -> WorkflowModel:
    """scikit-learn's LogisticRegression (multinomial, lbfgs, L2 at C) on the messages the rules do not fix as
    START_POINT, over the features found in `min_emails` emails or more and the rules' points; kept as weights
    rounded to DIGITS decimals (the plain-Python model is checked to choose scikit-learn's state for every message
    it was trained on)."""
    used = [ex for ex in train if ex.scores is not None]
    emails = Counter(f for ex in used for f in set(ex.features))
    keep = {f for f, n in emails.items() if n >= min_emails}
    rows = [{k: v for k, v in _vector(ex).items() if k in keep or k.startswith("points:")} for ex in used]
    vectors = DictVectorizer().fit(rows)
    lr = LogisticRegression(C=c, tol=TOL, max_iter=10_000).fit(vectors.transform(rows), [ex.label for ex in used])
    index = {str(s): i for i, s in enumerate(lr.classes_)}
    if set(index) != set(STATES):
        raise SystemExit(f"train_workflow: the training mail has states {sorted(index)}, not all of {STATES}")
    def row(j: int) -> tuple[float, ...]:
        return tuple(round(float(lr.coef_[index[s], j]), DIGITS) for s in STATES)
    weights: dict[str, tuple[float, ...]] = {}
    rule_weights: dict[str, tuple[float, ...]] = {}
    for j, name in enumerate(vectors.get_feature_names_out()):
        if name.startswith("points:"):
            rule_weights[name.removeprefix("points:")] = row(j)
        else:
            weights[str(name)] = row(j)
    model = WorkflowModel(intercepts=tuple(round(float(lr.intercept_[index[s]]), DIGITS) for s in STATES),
                          weights=weights, rule_weights=rule_weights)
    predicted = lr.predict(vectors.transform(rows))
    for ex, theirs in zip(used, predicted, strict=True):
        if combined(ex, model) != theirs:
            raise SystemExit(f"train_workflow: {ex.id}: the shipped form of the model chooses "
                             f"{combined(ex, model)}, scikit-learn {theirs}")
    return model


def combined(ex: Example, model: WorkflowModel) -> str:
    """The shipped form (workers.email.rules._state); with WorkflowModel.empty(): the rules alone."""
    return "START_POINT" if ex.scores is None else _state(ex.now, ex.scores, model, ex.thread)


def round8(train: Sequence[Example]) -> Callable[[Example], str]:
    """Round 8's form: the rules where a state has 2 points and leads the next by 1, else multinomial naive Bayes
    over the words (counted), as shipped until round 9."""
    def words(ex: Example) -> Counter[str]:
        return Counter(f for f in ex.features if not f.startswith("#"))  # round 8's features: no "#" marks
    vectors = DictVectorizer().fit([{f: 1 for f, n in Counter(f for ex in train for f in set(words(ex))).items()
                                     if n >= MIN_EMAILS}])
    nb = MultinomialNB().fit(vectors.transform([words(ex) for ex in train]), [ex.label for ex in train])

    def judge(ex: Example) -> str:
        if ex.scores is None:
            return "START_POINT"
        top, second = [*sorted(ex.scores.values(), reverse=True), 0.0, 0.0][:2]
        if top >= 2.0 and top - second >= 1.0:
            return max(_STATE_ORDER, key=lambda s: ex.scores.get(s, 0.0) if ex.scores else 0.0)
        return str(nb.predict(vectors.transform([words(ex)]))[0])
    return judge


def compare(train: Sequence[Example], test: Sequence[Example]) -> dict[str, int]:
    """How many of `test` each form gets right, trained on `train`."""
    model, old = fit(train), round8(train)
    return {"rules alone": sum(combined(ex, WorkflowModel.empty()) == ex.label for ex in test),
            "round 8: the rules where they clearly lead, else naive Bayes over the words": sum(
                old(ex) == ex.label for ex in test),
            "shipped (round 9): logistic regression over the words and the rules' points": sum(
                combined(ex, model) == ex.label for ex in test)}


def by_author(data: Sequence[Example]) -> None:
    """Each author's set measured with a model trained on the others (the rules were tuned on them, so their own
    figure is optimistic: see unseen())."""
    total: Counter[str] = Counter()
    for part in PARTS:
        test = [ex for ex in data if ex.part == part]
        right = compare([ex for ex in data if ex.part != part], test)
        total.update(right)
        print(f"  {part:6} ({len(test)}): " + ", ".join(f"{n / len(test):.3f}" for n in right.values()))
    print(f"  all ({len(data)}): " + ", ".join(f"{n / len(data):.3f} ({n})" for n in total.values()))
    print("  (in order: " + "; ".join(total) + ")")


def unseen(data: Sequence[Example]) -> None:
    """Trained on PARTS (as shipped), measured on the sets of UNSEEN (the rules were not tuned on them either)."""
    test = [_example(row, part) for part in UNSEEN for row in load_rows(EVAL / f"{part}.jsonl")]
    print(f"trained on {', '.join(PARTS)}, measured on {', '.join(UNSEEN)} ({len(test)} emails):")
    for name, right in compare(data, test).items():
        print(f"  {right / len(test):.3f} ({right:3} of {len(test)})  {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write the model trained on all parts to {MODEL_FILE}")
    mode.add_argument("--check", action="store_true", help=f"only check that {MODEL_FILE.name} is the model the "
                      "data trains (exit 1 if not: retrain with --write)")
    ap.add_argument("--unseen", action="store_true", help=f"also measure on {', '.join(UNSEEN)} (not tuned on)")
    args = ap.parse_args()
    data = examples()
    if args.check:
        return _check_shipped(fit(data), data)
    print(f"{len(data)} emails ({', '.join(PARTS)}), {len({ex.conversation for ex in data})} conversations")
    print("each author's set measured with a model trained on the others:")
    by_author(data)
    if args.unseen:
        unseen(data)
    if args.write:
        model = fit(data)
        about = {"about": "workflow state: multinomial logistic regression weights per state over the words and the "
                          "rules' points (workers/email/workflow_model.py)",
                 "trained_by": "python scripts/train_workflow.py --write",
                 "data": [f"data/email_eval/{p}.jsonl" for p in PARTS], "emails": len(data)}
        MODEL_FILE.write_text(model.to_json(about), encoding="utf-8")
        print(f"{len(model.weights)} features written to {MODEL_FILE.relative_to(ROOT)}")
    return 0


def _check_shipped(trained: WorkflowModel, data: Sequence[Example]) -> int:
    """The shipped file holds the weights the data trains (to CHECK_TOLERANCE) and chooses the same state for every
    development message."""
    shipped = load_workflow_model()
    rows = [(k, shipped.weights.get(k), trained.weights.get(k)) for k in set(shipped.weights) | set(trained.weights)]
    rows += [(f"points:{k}", shipped.rule_weights.get(k), trained.rule_weights.get(k))
             for k in set(shipped.rule_weights) | set(trained.rule_weights)]
    rows.append(("intercepts", shipped.intercepts, trained.intercepts))
    differ = [k for k, a, b in rows if a is None or b is None
              or max(abs(x - y) for x, y in zip(a, b, strict=True)) > CHECK_TOLERANCE]
    chose = [ex.id for ex in data if combined(ex, shipped) != combined(ex, trained)]
    if not differ and not chose:
        print(f"{MODEL_FILE.relative_to(ROOT)}: the model the data trains ({len(trained.weights)} features)")
        return 0
    print(f"{MODEL_FILE.relative_to(ROOT)} is not the model the data trains (weights differ: {sorted(differ)[:5]}; "
          f"states differ: {chose[:5]}): retrain with --write")
    return 1


if __name__ == "__main__":
    sys.exit(main())
