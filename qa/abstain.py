"""Abstention: say "the sources do not answer this" instead of showing unrelated passages.

Decided from features that do not depend on the fusion method, so one threshold serves every mode:

* `top_dense`: cosine between the question and its most similar passage (title and heading included);
* `top_sentence`: cosine between the question and the best single sentence of the first result;
* `coverage`: share of the question's content words (stems) that occur anywhere in the corpus.

`top_sentence` decides, unless every content word of the question occurs in the first passage. Calibration, on the development
half of eval/gold.jsonl (`ipt-qa eval` lists every off-topic question and the weakest answerable ones
with this signal in eval/report.md):

* answerable questions scored at least 0.552 (the lowest: "how does fixing relationship problems help
  my symptoms"); off-topic ones from 0.05 ("capital of France") to 0.78 (near-misses about IPT such as
  "which organisation certifies IPT therapists", which share every word with the sources);
* the threshold is that lowest answerable score minus a margin of 0.06, because hiding a real answer costs
  a learner more than showing weak passages (which are then flagged as a weak match, below 0.60);
* result: no answerable dev question abstained, all other-subject questions and some other-therapy
  questions abstained; near-misses about IPT are not caught by similarity alone (see the report).
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import Settings


@dataclass
class AbstainFeatures:
    top_dense: float  # best passage cosine
    top_sentence: float  # best sentence cosine among the candidates
    coverage: float  # share of the question's content stems found in the corpus
    top_coverage: float  # ... found in the first passage


def decide(f: AbstainFeatures, s: Settings) -> str | None:
    """The reason to abstain, or None to answer."""
    # Every content word of the question standing in the first passage ("myrna weissman ipt") is evidence
    # enough to answer even when the embedding is unsure.
    if f.top_sentence < s.abstain_min_similarity and f.top_coverage < 1.0:
        return (f"nothing in the sources is close to this question (best similarity {f.top_sentence:.2f}, "
                f"below {s.abstain_min_similarity:.2f}); the sources cover what IPT is, who created it, whom it "
                "helps, how long it lasts, how it works and how it compares with other treatments")
    return None


def weak_match(f: AbstainFeatures, s: Settings) -> str | None:
    """A warning for answers in the grey zone: shown, but flagged as possibly not answering the question."""
    if f.top_sentence < s.weak_match_below:
        return (f"weak match (best similarity {f.top_sentence:.2f}): these passages may not answer the question; "
                "the sources may not cover it")
    return None
