"""Fit the one rule (qa/judge/outcome.py) on the dev split of the gold set.

    python -m qa.evaluate.calibrate            # fit and print what it would write
    python -m qa.evaluate.calibrate --write    # ... and write qa/judge/abstain_model.json

Only dev questions are used (test, test2 and test3 are held out). Questions with nothing to search for
(qa/judge/searchable.py) are refused before the rule and take no part in the fit. The weights are qa/judge/
abstain.py's logistic regression over its FEATURES; the cut-offs are chosen on leave-one-out probabilities, so
that they are judged on questions the weights were not fitted on, for these budgets:

* `refuse_at`: the lowest cut at which at most 1% of answerable dev questions are refused;
* `weak_at`: the highest cut (not above refuse_at) at which at most 5% of unanswerable dev questions are
  answered (shown with a strong or good first card);
* `strong_below`: the highest cut (not above weak_at) below which the first card is an acceptable answer at
  least 90% of the time;
* `keep_at`: the lowest share of the first card's score at which later cards labelled "good" keep the good
  label's precision (60%, first "good" cards included).

The spread: the whole fit (weights and cut-offs) repeated on 10 shuffles of 5 folds (fixed seed), each
question judged by the fold that did not see it; the figures' mean, lowest and highest over the 10 shuffles.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.evaluate.gold import is_relevant, load_gold, relevant_spans
from qa.ingest.corpus import load_corpus
from qa.judge.abstain import FEATURES, MODEL_PATH, AbstainModel, fit_logistic
from qa.judge.searchable import unsearchable_reason
from qa.live import open_searcher
from qa.paths import default_corpus, default_gold
from qa.retrieve.query import QuestionError, clean_question
from qa.settings import Settings

MAX_ANSWERABLE_REFUSED = 0.01
MAX_UNANSWERABLE_ANSWERED = 0.02  # issue 27: the bank contrast makes the budget of issue 20 affordable
STRONG_PRECISION = 0.90
GOOD_PRECISION = 0.60
SHOWN = 5
FOLDS, REPEATS, SEED = 5, 10, 20261203


@dataclass
class Row:
    """One dev question as the rule sees it."""

    answerable: bool
    gated: bool  # refused before the rule (nothing to search for)
    x: list[float]
    first_relevant: bool
    later: list[tuple[float, bool]]  # (score / first card's score, acceptable) of cards 2..SHOWN


def dev_rows(searcher, questions, texts) -> list[Row]:
    """Signals and card relevance of each question, from a searcher that never refuses."""
    answers = searcher.ask_many([q.question for q in questions], k=SHOWN)
    rows = []
    for q, a in zip(questions, answers, strict=True):
        try:
            gated = unsearchable_reason(clean_question(q.question, 10_000)[0], searcher.current().knows) is not None
        except QuestionError:
            gated = True
        spans = relevant_spans(q, texts) if q.answerable else []
        rel = [bool(spans) and is_relevant(h.source_id, h.start, h.end, spans) for h in a.passages]
        top = a.passages[0].score if a.passages else 0.0
        rows.append(Row(q.answerable, gated or not a.passages, [float(a.signals.get(f, 0.0)) for f in FEATURES],
                        bool(rel and rel[0]),
                        [(h.score / top if top > 0 else 0.0, r) for h, r in zip(a.passages[1:], rel[1:], strict=True)]))
    return rows


def _cands(values) -> list[float]:
    return sorted(set(np.round(np.asarray(values, dtype=float), 4).tolist()) | {0.0, 1.0})


def choose_cuts(p: np.ndarray, rows: list[Row]) -> dict[str, float]:
    """The four cut-offs for probabilities `p` of `rows` (gated rows excluded by the caller)."""
    ans = np.array([r.answerable for r in rows])
    first = np.array([r.first_relevant for r in rows])
    cands = _cands(p) + [1.0001]
    refuse_at = next((t for t in cands if not ans.any() or (p[ans] >= t).mean() <= MAX_ANSWERABLE_REFUSED), 1.0001)
    unans = ~ans
    ok_weak = [t for t in cands if t <= refuse_at
               and (not unans.any() or (p[unans] < t).mean() <= MAX_UNANSWERABLE_ANSWERED)]
    weak_at = max(ok_weak) if ok_weak else 0.0

    def first_precision(lo: float, hi: float) -> float:
        shown = (p >= lo) & (p < hi)
        return float(first[shown].mean()) if shown.any() else 1.0

    ok_strong = [t for t in cands if t <= weak_at and first_precision(0.0, t) >= STRONG_PRECISION]
    strong_below = max(ok_strong) if ok_strong else 0.0

    def good_precision(keep: float) -> float:
        marks = [bool(r.first_relevant) for r, q in zip(rows, p, strict=True) if strong_below <= q < weak_at]
        marks += [rel for r, q in zip(rows, p, strict=True) if q < weak_at for ratio, rel in r.later if ratio >= keep]
        return float(np.mean(marks)) if marks else 1.0

    ratios = [ratio for r in rows for ratio, _ in r.later]
    ok_keep = [t for t in _cands(ratios) if t >= 0.5 and good_precision(t) >= GOOD_PRECISION]
    keep_at = min(ok_keep) if ok_keep else 1.0001
    return {"refuse_at": refuse_at, "weak_at": weak_at, "strong_below": strong_below, "keep_at": keep_at}


def _prob(X: np.ndarray, fit) -> np.ndarray:
    m, s, w, b = fit
    return 1.0 / (1.0 + np.exp(-np.clip(b + ((X - m) / s) @ w, -60, 60)))


def figures(p: np.ndarray, rows: list[Row], cuts: dict[str, float] | list[dict[str, float]],
            digits: int | None = 4) -> dict[str, float]:
    """What learners would meet with these probabilities and cut-offs (one set, or one per row); gated rows
    count as refused."""
    per_row = cuts if isinstance(cuts, list) else [cuts] * len(rows)
    keys = ("answerable_refused", "answerable_right_first_strong_or_good", "unanswerable_answered",
            "unanswerable_refused", "unanswerable_refused_or_weak")
    out: dict[str, list[bool]] = {k: [] for k in keys}
    for r, q, c in zip(rows, p, per_row, strict=True):
        refused = r.gated or q >= c["refuse_at"]
        answered = not refused and q < c["weak_at"]
        if r.answerable:
            out["answerable_refused"].append(refused)
            out["answerable_right_first_strong_or_good"].append(answered and r.first_relevant)
        else:
            out["unanswerable_answered"].append(answered)
            out["unanswerable_refused"].append(refused)
            out["unanswerable_refused_or_weak"].append(not answered)
    return {k: (float(np.mean(v)) if digits is None else round(float(np.mean(v)), digits)) if v else 0.0
            for k, v in out.items()}


def calibrate(rows: list[Row]) -> tuple[AbstainModel, dict]:
    live = [r for r in rows if not r.gated]
    X = np.array([r.x for r in live])
    y = np.array([0.0 if r.answerable else 1.0 for r in live])
    fit = fit_logistic(X, y)
    loo = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        loo[i] = _prob(X[i:i + 1], fit_logistic(X[keep], y[keep]))[0]
    cuts = choose_cuts(loo, live)
    p_all = np.array([1.0 if r.gated else 0.0 for r in rows])
    p_all[[i for i, r in enumerate(rows) if not r.gated]] = loo
    report = {"dev_questions": len(rows), "dev_answerable": sum(r.answerable for r in rows),
              "dev_unanswerable": sum(not r.answerable for r in rows),
              "dev_refused_before_the_rule": sum(r.gated for r in rows),
              "leave_one_out": figures(p_all, rows, cuts), "cross_validation": spread(rows)}
    mean, scale, weights, bias = fit
    model = AbstainModel(FEATURES, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, weights)),
                         float(bias), round(cuts["refuse_at"], 4), round(cuts["weak_at"], 4),
                         round(cuts["strong_below"], 4), round(cuts["keep_at"], 4), {"figures": report})
    return model, report


def spread(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Each figure's mean, lowest and highest over REPEATS shuffles of FOLDS folds (the whole fit per fold)."""
    rng = np.random.default_rng(SEED)
    per_repeat: list[dict[str, float]] = []
    for _ in range(REPEATS):
        folds = rng.permutation(len(rows)) % FOLDS
        p = np.ones(len(rows))
        cuts_of = {}
        for f in range(FOLDS):
            train = [i for i in range(len(rows)) if folds[i] != f and not rows[i].gated]
            X = np.array([rows[i].x for i in train])
            y = np.array([0.0 if rows[i].answerable else 1.0 for i in train])
            fit = fit_logistic(X, y)
            cuts_of[f] = choose_cuts(_prob(X, fit), [rows[i] for i in train])
            test = [i for i in range(len(rows)) if folds[i] == f and not rows[i].gated]
            if test:
                p[test] = _prob(np.array([rows[i].x for i in test]), fit)
        # Each question judged with its own fold's cut-offs.
        per_repeat.append(figures(p, rows, [cuts_of[int(f)] for f in folds], digits=None))
    return {k: {"mean": round(float(np.mean([d[k] for d in per_repeat])), 4),
                "min": round(min(d[k] for d in per_repeat), 4), "max": round(max(d[k] for d in per_repeat), 4)}
            for k in per_repeat[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.evaluate.calibrate", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=None, help="default: eval/gold.jsonl of this project")
    ap.add_argument("--index", type=Path, default=None, help="default: index/ of this project")
    ap.add_argument("--corpus", type=Path, default=None, help="default: corpus/ of this project")
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_PATH.name}")
    args = ap.parse_args(argv)
    args.gold = args.gold or default_gold()
    args.corpus = args.corpus or default_corpus()
    dev = [q for q in load_gold(args.gold) if q.split == "dev"]
    texts = {s.id: s.text for s in load_corpus(args.corpus)}
    searcher = open_searcher(args.index, args.corpus, settings=Settings(abstain=False))
    model, _ = calibrate(dev_rows(searcher, dev, texts))
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
