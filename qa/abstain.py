"""Abstention: say "the sources do not answer this" instead of showing unrelated passages.

Decided from features that do not depend on the fusion method, so one threshold serves every mode:

* `top_dense`: cosine between the question and its most similar passage (title and heading included);
* `top_sentence`: cosine between the question and the best single sentence of the first result;
* `coverage`: share of the question's content words (stems) that occur anywhere in the corpus.

Calibration (`ipt-qa eval --calibrate` prints the table it is read from): on the development half of
eval/gold.jsonl, the thresholds are the values that abstain on the most off-topic questions while
abstaining on no answerable one, taken midway in the gap between the two groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import Settings


@dataclass
class AbstainFeatures:
    top_dense: float
    top_sentence: float
    coverage: float
    top_coverage: float


def decide(f: AbstainFeatures, s: Settings) -> str | None:
    """The reason to abstain, or None to answer."""
    if f.top_dense < s.abstain_min_dense:
        return (f"nothing in the sources is close to this question (best similarity {f.top_dense:.2f}, "
                f"below {s.abstain_min_dense:.2f}); the sources cover what IPT is, who it helps, how it works "
                "and how it compares with other treatments")
    return None
