"""The workflow state's learned model (workers/email/workflow_model.py): it weighs the rules' points with the words
of the subject and new text; reproduced from the development mail by scripts/train_workflow.py."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from workers.email.rules import decide
from workers.email.workflow_model import (
    RULE_SCALE,
    STATES,
    WorkflowModel,
    features,
    from_weights,
    load_workflow_model,
)

ROOT = Path(__file__).resolve().parent.parent
SENDER = "buyer@example.com"
# Each state's points count for that state only, as much as one word of weight 1 (points are halved: RULE_SCALE).
_RULES_AS_THEY_ARE = {s: {s: 1.0 / RULE_SCALE} for s in STATES[1:]}


def _leaning(word: str, state: str, weight: float) -> WorkflowModel:
    """A model that reads the rules' points as they are, and `word` as `weight` points for `state`."""
    return from_weights([0.0] * len(STATES), {word: {state: weight}}, _RULES_AS_THEY_ARE)


def test_the_shipped_model_is_the_one_the_script_trains_from_the_development_mail() -> None:
    """Also checks that the plain-Python model chooses scikit-learn's state for every development email (the script
    stops otherwise): the model shipped is the model measured."""
    res = subprocess.run([sys.executable, "scripts/train_workflow.py", "--check"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    model = load_workflow_model()
    assert len(model.weights) >= 1000 and set(model.rule_weights) == set(STATES[1:])
    # The rules' points pull towards their own state: each state's own weight is its largest.
    for state, row in model.rule_weights.items():
        assert max(range(len(STATES)), key=row.__getitem__) == STATES.index(state), state


def test_the_rules_points_and_the_words_are_weighed_together() -> None:
    text = "Question about the refund and the tracking."  # one word of RETURNS, one of SHIPPING: a tie
    assert decide("", text, SENDER, model=WorkflowModel.empty()).state == "RETURNS"  # the rules' own order
    assert decide("", text, SENDER, model=_leaning("tracking", "SHIPPING", 0.5)).state == "SHIPPING"
    assert decide("", text, SENDER, model=_leaning("refund", "RETURNS", 0.5)).state == "RETURNS"
    # Two points against one: a word worth half a point does not turn it, one worth two does.
    clear = "Question about the refund, the return and the tracking."
    assert decide("", clear, SENDER, model=_leaning("tracking", "SHIPPING", 0.5)).state == "RETURNS"
    assert decide("", clear, SENDER, model=_leaning("tracking", "SHIPPING", 2.0)).state == "SHIPPING"


def test_a_message_without_state_words_takes_the_models_state() -> None:
    text = "Hello, see the note from Maria below about the Hamilton site."
    assert decide("", text, SENDER, model=WorkflowModel.empty()).state == "START_POINT"
    assert decide("", text, SENDER, model=_leaning("maria", "SHIPPING", 1.0)).state == "SHIPPING"
    # The model's own START_POINT: no word of it, a prior (intercept) for it.
    prior = from_weights([1.0, *[0.0] * (len(STATES) - 1)], {"maria": {"SHIPPING": 0.5}}, _RULES_AS_THEY_ARE)
    assert decide("", text, SENDER, model=prior).state == "START_POINT"


def test_messages_that_are_start_point_whatever_their_words_stay_so() -> None:
    sure = _leaning("tracking", "SHIPPING", 10.0)
    assert decide("FYI", "FYI: the tracking page moves to a new address next week.", SENDER, model=sure).state \
        == "START_POINT"
    assert decide("Out of office", "I am out of the office until Monday. Tracking questions: call Ana.", SENDER,
                  model=sure).state == "START_POINT"


def test_scores_are_the_linear_models_and_deterministic() -> None:
    model = from_weights([0.5, -0.25, 0, 0, 0, 0, 0], {"late": {"START_POINT": 1.0, "COMPLETION": -2.0},
                                                      "ok": {"COMPLETION": 3.0}},
                         {"COMPLETION": {"COMPLETION": 0.5, "RETURNS": 1.0}})
    feats = ["late", "ok", "ok", "unknown word"]  # a feature counts once however often it occurs
    scores = model.scores(feats, {"COMPLETION": 2.0, "SHIPPING": 4.0})  # no weights for SHIPPING's points
    # By hand: intercept + each distinct known feature's weight + RULE_SCALE x points x the points' weight.
    assert scores[0] == pytest.approx(0.5 + 1.0)
    assert scores[1] == pytest.approx(-0.25 - 2.0 + 3.0 + RULE_SCALE * 2.0 * 0.5)
    assert scores[3] == pytest.approx(RULE_SCALE * 2.0 * 1.0)
    assert scores[2] == scores[4] == scores[5] == scores[6] == 0.0
    assert model.scores(feats, {"COMPLETION": 2.0, "SHIPPING": 4.0}) == scores
    assert model.state(feats, {"COMPLETION": 2.0}) == "START_POINT"  # 1.5 against 1.25 and 1.0
    assert model.scores([], {}) == [0.5, -0.25, 0, 0, 0, 0, 0]
    assert WorkflowModel.empty().is_empty and not model.is_empty


def test_features_are_words_word_pairs_subject_words_and_marks() -> None:
    assert features("quote request", "need pricing, qty 8 p19766") == [
        "need", "pricing", "qty", "p", "need pricing", "pricing qty", "qty p", "s:quote", "s:request", "#length:0"]
    pairs = ["見積", "積を", "をお", "お願", "願い", "いし", "しま", "ます"]  # no spaces: pairs of characters
    assert features("", "見積をお願いします", "reply", 450) == [*pairs, *(f"{a} {b}" for a, b in pairwise(pairs)),
                                                             "#length:2", "#reply"]


def test_a_bad_model_file_fails_with_its_path_and_the_problem(tmp_path: Path) -> None:
    good = {"states": list(STATES), "rule_scale": RULE_SCALE, "intercepts": [0.0] * 7, "rule_weights": {},
            "weights": {"late": [0.0] * 7}}
    cases = {
        "short.json": ({**good, "weights": {"late": [1.0, 2.0]}}, r"short\.json.*'late'.*2 weights, not 7"),
        "state.json": ({**good, "rule_weights": {"LATE": [0.0] * 7}}, r"state\.json.*LATE"),
        "scale.json": ({**good, "rule_scale": 1.0}, r"scale\.json.*rule_scale 1.0.*retrain"),
        "keys.json": ({k: v for k, v in good.items() if k != "intercepts"}, r"keys\.json.*intercepts"),
    }
    for name, (raw, error) in cases.items():
        (tmp_path / name).write_text(json.dumps(raw))
        with pytest.raises(ValueError, match=error):
            load_workflow_model(str(tmp_path / name))
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert load_workflow_model(str(tmp_path / "good.json")).weights == {"late": (0.0,) * 7}
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")
    with pytest.raises(ValueError, match=r"broken\.json: not a workflow model"):
        load_workflow_model(str(not_json))
    missing = tmp_path / "nothing.json"
    with pytest.raises(ValueError, match=r"nothing\.json"):
        load_workflow_model(str(missing))
