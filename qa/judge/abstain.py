"""Abstention: say "the sources do not answer this" instead of showing unrelated passages.

No single similarity separates the questions the sources answer from those they do not: near-miss questions
("can it be done over zoom") share the sources' words and meaning, and questions that leave the topic unsaid
("how often would i go") share few words with anything. The rule therefore weighs several signals, most of
them measured on what the question adds beyond the corpus's topic (qa/ingest/topic.py; the signals are
gathered by qa/judge/signals.py and docs/answer-quality.md lists them all):

* `topic_similarity`, `topic_lift`: the question, read as being about the topic, against the best sentence of
  the first passages, and how much closer it is than the topic's name alone;
* `own_unknown`, `own_coverage`: the question's own words found nowhere in the corpus, or in the first passages;
* `answer_type_missing`: it asks for a kind of answer (qa/retrieve/answertype.py) no first passage holds;
* `support_min`, `support_mean`, `name_absent`: per-word support and names the passages do not mention;
* `bank_contrast`: how much nearer the question is to a question the sources answer than to one they come
  close to without answering (the question banks, qa/retrieve/bank.py).

A logistic model over these gives the probability that the sources do not answer the question. Its weights and
its cut-offs are fitted on the **dev** split of eval/gold.jsonl only, by `python -m qa.evaluate.calibrate`,
which writes qa/judge/abstain_model.json with the figures it reached (the budgets: qa/evaluate/calibrate.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

FEATURES = ("topic_similarity", "topic_lift", "own_unknown", "own_coverage", "answer_type_missing", "support_min",
            "support_mean", "name_absent", "bank_contrast")
MODEL_PATH = Path(__file__).with_name("abstain_model.json")

@dataclass(frozen=True)
class AbstainModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]  # standardisation of each feature, as fitted
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    refuse_at: float  # p_unanswered at or above: refused
    weak_at: float  # at or above (and below refuse_at): shown as "may not answer", every card partial
    strong_below: float = 0.1  # below: the first card is "strong"; from here to weak_at: "good"
    keep_at: float = 0.9  # a later card (score / first card's score at or above) is "good" when the first is
    calibration: dict = field(default_factory=dict, compare=False)  # how and on what it was fitted

    def p_unanswered(self, signals: dict) -> float:
        """Probability that the sources do not answer the question, from its signals."""
        z = self.bias + sum(w * (float(signals.get(f, m)) - m) / s
                            for f, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=False))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "bias": self.bias, "refuse_at": self.refuse_at,
                "weak_at": self.weak_at, "strong_below": self.strong_below, "keep_at": self.keep_at,
                "calibration": self.calibration}

    @classmethod
    def from_dict(cls, d: dict) -> AbstainModel:
        feats = tuple(d["features"])
        unknown = set(feats) - set(FEATURES)
        if unknown or not (len(feats) == len(d["mean"]) == len(d["scale"]) == len(d["weights"])):
            raise ValueError(f"abstention model: features {sorted(unknown) or feats} do not match {FEATURES}")
        return cls(feats, tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                   tuple(map(float, d["weights"])), float(d["bias"]), float(d["refuse_at"]), float(d["weak_at"]),
                   float(d.get("strong_below", 0.1)), float(d.get("keep_at", 0.9)), dict(d.get("calibration", {})))


@lru_cache(maxsize=4)
def load_model(path: str | Path = MODEL_PATH) -> AbstainModel:
    """The calibrated model shipped with the package (`python -m qa.evaluate.calibrate --write` makes it)."""
    return AbstainModel.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def fit_logistic(X, y, l2: float = 1.0, iterations: int = 50):
    """L2-regularised logistic regression by Newton's method on standardised features.
    Returns (mean, scale, weights, bias). Small and exact: a few hundred rows, five features."""

    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    mean, scale = X.mean(0), X.std(0) + 1e-9
    Z = np.hstack([(X - mean) / scale, np.ones((len(X), 1))])
    b = np.zeros(Z.shape[1])
    ridge = l2 * np.diag(np.r_[np.ones(Z.shape[1] - 1), 0.0])  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ b, -60, 60)))
        grad = Z.T @ (p - y) + ridge @ b
        hess = (Z * (p * (1 - p))[:, None]).T @ Z + ridge
        step = np.linalg.solve(hess, grad)
        b -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return mean, scale, b[:-1], float(b[-1])
