"""Fit the refusal rule and the relevance labels on the dev split of the gold set.

    python -m qa.evaluate.calibrate            # fit and print what it would write
    python -m qa.evaluate.calibrate --write    # ... and write qa/abstain_model.json

Only dev questions are used (test and test2 are held out). The model is qa/abstain.py's logistic regression
over its FEATURES; the cut-offs come from leave-one-out probabilities, so that they are judged on questions
the weights were not fitted on:

* `refuse_at`: the lowest cut-off at which at most 2% of answerable dev questions are refused;
* `weak_at`: the lowest at which at most 10% of answerable dev questions are refused or flagged weak;
* `strong_at` / `good_at` (labels): the lowest label values at which, among the passages shown (first 5 of
  each answered question), at least 80% / 50% of those labelled so or better are acceptable answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from qa.evaluate.gold import is_relevant, load_gold, relevant_spans
from qa.ingest.corpus import load_corpus
from qa.judge.abstain import FEATURES, MODEL_PATH, AbstainModel, fit_logistic
from qa.paths import default_corpus, default_gold
from qa.serve.service import open_searcher

MAX_ANSWERABLE_REFUSED = 0.02
MAX_ANSWERABLE_FLAGGED = 0.10
STRONG_PRECISION = 0.80
GOOD_PRECISION = 0.50
SHOWN = 5


def _lowest_cut(values: np.ndarray, ok) -> float:
    """The lowest candidate cut-off (among the values seen, and 1.0) for which ok(cut) holds."""
    for cut in sorted(set(np.round(values, 4).tolist()) | {1.0}):
        if ok(cut):
            return float(cut)
    return 1.0


def calibrate(searcher, questions, texts) -> AbstainModel:
    """Fit on `questions` (the dev split): weights on all of them, cut-offs on leave-one-out probabilities."""
    answers = searcher.ask_many([q.question for q in questions], k=SHOWN)
    X = np.array([[a.signals[f] for f in FEATURES] for a in answers])
    y = np.array([0.0 if q.answerable else 1.0 for q in questions])  # 1: the sources do not answer it
    mean, scale, weights, bias = fit_logistic(X, y)
    loo = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        m, s, w, b = fit_logistic(X[keep], y[keep])
        loo[i] = 1.0 / (1.0 + np.exp(-(b + ((X[i] - m) / s) @ w)))
    ans = y == 0
    refuse_at = _lowest_cut(loo, lambda t: (loo[ans] >= t).mean() <= MAX_ANSWERABLE_REFUSED)
    weak_at = _lowest_cut(loo, lambda t: (loo[ans] >= t).mean() <= MAX_ANSWERABLE_FLAGGED)
    weak_at = min(weak_at, refuse_at)

    # Labels: every passage shown for a dev question that is answered (not refused), with its label value.
    value_list: list[float] = []
    relevant_list: list[bool] = []
    for q, a, p in zip(questions, answers, loo, strict=False):
        if p >= refuse_at or not a.passages:
            continue
        spans = relevant_spans(q, texts) if q.answerable else []
        top = a.passages[0].score
        for h in a.passages:  # the value qa.search.label_of compares with the cut-offs
            value_list.append((1.0 - p) * (h.score / top if top > 0 else 0.0))
            relevant_list.append(bool(spans) and is_relevant(h.source_id, h.start, h.end, spans))
    values, relevant = np.array(value_list), np.array(relevant_list)

    def precision_from(cut: float) -> float:
        chosen = values >= cut
        return float(relevant[chosen].mean()) if chosen.any() else 1.0

    strong_at = _lowest_cut(values, lambda t: precision_from(t) >= STRONG_PRECISION)
    good_at = min(_lowest_cut(values, lambda t: precision_from(t) >= GOOD_PRECISION), strong_at)
    figures = {
        "dev_questions": int(len(y)), "dev_answerable": int(ans.sum()), "dev_unanswerable": int((~ans).sum()),
        "loo_answerable_refused": round(float((loo[ans] >= refuse_at).mean()), 4),
        "loo_unanswerable_refused": round(float((loo[~ans] >= refuse_at).mean()), 4),
        "loo_answerable_flagged_or_refused": round(float((loo[ans] >= weak_at).mean()), 4),
        "dev_strong_precision": round(precision_from(strong_at), 4),
        "dev_good_or_strong_precision": round(precision_from(good_at), 4),
    }
    return AbstainModel(FEATURES, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, weights)),
                        float(bias), round(refuse_at, 4), round(weak_at, 4), round(strong_at, 4),
                        round(good_at, 4), {"figures": figures})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.evaluate.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=None, help="default: eval/gold.jsonl of this project")
    ap.add_argument("--index", type=Path, default=None, help="default: index/ of this project")
    ap.add_argument("--corpus", type=Path, default=None, help="default: corpus/ of this project")
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_PATH.name}")
    args = ap.parse_args(argv)
    args.gold = args.gold or default_gold()
    args.corpus = args.corpus or default_corpus()
    dev = [q for q in load_gold(args.gold) if q.split == "dev"]
    texts = {s.id: s.text for s in load_corpus(args.corpus)}
    model = calibrate(open_searcher(args.index, args.corpus), dev, texts)
    gold_bytes = Path(args.gold).read_bytes()
    model.calibration.update({
        "fitted_on": f"dev split of {Path(args.gold).name} (sha256 {hashlib.sha256(gold_bytes).hexdigest()[:16]})",
        "fitted_at": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": "python -m qa.evaluate.calibrate --write",
    })
    text = json.dumps(model.to_dict(), indent=1) + "\n"
    if args.write:
        MODEL_PATH.write_text(text, encoding="utf-8")
        print(f"written {MODEL_PATH}", file=sys.stderr)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
