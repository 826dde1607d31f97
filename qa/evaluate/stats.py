"""Uncertainty for the evaluation: paired bootstrap intervals over questions, and paired significance tests.

The gold set is small (tens of questions a split), so a figure such as Recall@1 0.667 on 63 questions is
really "somewhere around 0.55-0.78". Every figure gets a 95% percentile interval from a bootstrap over
questions: the questions of a group are resampled with replacement `BOOTSTRAP_RESAMPLES` times with a fixed
seed, and the same resamples serve every mode and metric of that group, so intervals of differences between
modes (or between a run and its baseline) are paired. Significance of a difference comes from Fisher's
paired randomization test (`randomization_p`), seeded so that a report is the same on every run.
"""

from __future__ import annotations

import zlib

import numpy as np

BOOTSTRAP_RESAMPLES = 5000
BOOTSTRAP_SEED = 20261201
CONFIDENCE = 0.95
PERMUTATIONS = 10000  # Fisher's paired randomization test (randomization_p)
PERMUTATION_SEED = 42


class Bootstrap:
    """Resamples of n questions drawn with replacement, held as a (resamples, n) matrix of how often each
    question was drawn, so a resampled mean of every metric at once is one matrix product. The same `key`
    (a group name) and `n` give the same resamples on every run and machine."""

    def __init__(self, n: int, key: str = "", resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED):
        self.n, self.resamples = n, resamples
        rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8")), n])
        idx = rng.integers(0, max(n, 1), size=(resamples, n))
        flat = (idx + np.arange(resamples)[:, None] * max(n, 1)).ravel()
        self.counts = np.bincount(flat, minlength=resamples * max(n, 1)).reshape(resamples, max(n, 1))[:, :n]
        self.counts = self.counts.astype(float)

    def sums(self, values) -> np.ndarray:
        """Resampled sums of per-question `values` (n,) or (n, m): shape (resamples,) or (resamples, m)."""
        return self.counts @ np.asarray(values, dtype=float)

    def mean_interval(self, values, confidence: float = CONFIDENCE) -> np.ndarray:
        """[low, high] of the mean of per-question `values`; for (n, m) values, a (m, 2) array."""
        if self.n == 0:
            v = np.asarray(values, dtype=float)
            return np.full((2,) if v.ndim == 1 else (v.shape[1], 2), np.nan)
        return percentile_interval(self.sums(values) / self.n, confidence)

    def ratio_interval(self, num, den, empty: float = 1.0, confidence: float = CONFIDENCE) -> np.ndarray:
        """[low, high] of sum(num) / sum(den) (e.g. abstention precision); a resample whose denominator
        is 0 counts as `empty`, the convention of the point figure."""
        if self.n == 0:
            return np.full(2, np.nan)
        sn, sd = self.sums(num), self.sums(den)
        ratio = np.divide(sn, sd, out=np.full_like(sn, empty), where=sd > 0)
        return percentile_interval(ratio, confidence)


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """The central `confidence` share of bootstrap `samples` along axis 0 (percentile method)."""
    tail = (1 - confidence) / 2 * 100
    return np.percentile(samples, [tail, 100 - tail], axis=0).T


def paired_difference(a, b, boot: Bootstrap) -> dict:
    """mean(a) - mean(b) over the same questions (in the same order), with its paired bootstrap interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    lo, hi = boot.mean_interval(diff)
    return {"difference": round(float(diff.mean()), 4), "ci": [round(float(lo), 4), round(float(hi), 4)]}


def randomization_p(a, b, permutations: int = PERMUTATIONS, seed: int = PERMUTATION_SEED) -> float:
    """Two-sided p-value of Fisher's paired randomization test of mean(a) == mean(b) over the same questions:
    the share of random relabellings (each question's pair of scores swapped or not, i.e. the sign of its
    difference flipped) whose mean difference is at least as large as the observed one.

    The same test ranx's `compare(stat_test="fisher")` runs, but with its own seeded generator: ranx's numba
    kernel seeds only the thread that calls it, so its p-values changed from run to run and every `ipt-qa
    eval` rewrote the tracked report."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if not len(d):
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng([seed, len(d)])
    signs = rng.integers(0, 2, size=(permutations, len(d)), dtype=np.int8) * 2 - 1
    permuted = np.abs(signs @ d) / len(d)
    return float((permuted >= observed - 1e-12).mean())


def format_p(p: float) -> str:
    """A p-value as the report prints it; 0 from a randomization test means below its resolution."""
    return f"< {1 / PERMUTATIONS:g}" if p <= 0 else f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
