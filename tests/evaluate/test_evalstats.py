"""The bootstrap behind every interval of the evaluation, on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from qa.evaluate.stats import BOOTSTRAP_RESAMPLES, Bootstrap, format_p, paired_difference, percentile_interval


def test_at_least_2000_resamples_each_drawing_n_questions():
    boot = Bootstrap(7, "g")
    assert BOOTSTRAP_RESAMPLES >= 2000 and boot.counts.shape == (BOOTSTRAP_RESAMPLES, 7)
    assert (boot.counts.sum(axis=1) == 7).all()  # each resample holds n questions, with repeats


def test_same_group_same_resamples_other_group_other_ones():
    a, b, c = Bootstrap(20, "test"), Bootstrap(20, "test"), Bootstrap(20, "dev")
    assert np.array_equal(a.counts, b.counts)
    assert not np.array_equal(a.counts, c.counts)


def test_two_questions_one_right_gives_the_exact_bootstrap_distribution():
    # Resampling [0, 1] twice: the mean is 0 (1/4), 0.5 (1/2) or 1 (1/4); the 95% interval is [0, 1].
    boot = Bootstrap(2, "tiny")
    means = boot.sums([0.0, 1.0]) / 2
    share = {v: float(np.mean(means == v)) for v in (0.0, 0.5, 1.0)}
    assert share[0.0] == pytest.approx(0.25, abs=0.03) and share[0.5] == pytest.approx(0.5, abs=0.03)
    assert list(boot.mean_interval([0.0, 1.0])) == [0.0, 1.0]


def test_a_constant_metric_has_a_zero_width_interval():
    assert list(Bootstrap(30, "c").mean_interval(np.ones(30))) == [1.0, 1.0]


def test_interval_of_a_proportion_matches_the_normal_approximation():
    # 50 of 100 right: the standard error is 0.05, so the 95% interval is about 0.40-0.60.
    values = np.array([1.0] * 50 + [0.0] * 50)
    lo, hi = Bootstrap(100, "p").mean_interval(values)
    assert lo == pytest.approx(0.402, abs=0.015) and hi == pytest.approx(0.598, abs=0.015)


def test_several_metrics_at_once_equal_one_at_a_time():
    rng = np.random.default_rng(0)
    values = rng.random((40, 3))
    boot = Bootstrap(40, "m")
    together = boot.mean_interval(values)
    assert together.shape == (3, 2)
    for j in range(3):
        assert np.allclose(together[j], boot.mean_interval(values[:, j]))


def test_ratio_interval_counts_an_empty_denominator_as_the_point_convention():
    boot = Bootstrap(4, "r")
    lo, hi = boot.ratio_interval([0, 0, 0, 0], [0, 0, 0, 0], empty=1.0)
    assert (lo, hi) == (1.0, 1.0)
    lo, hi = boot.ratio_interval([1, 1, 0, 0], [1, 1, 1, 1])
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_paired_difference_of_identical_systems_is_exactly_zero():
    v = np.random.default_rng(1).random(25)
    d = paired_difference(v, v, Bootstrap(25, "same"))
    assert d == {"difference": 0.0, "ci": [0.0, 0.0]}


def test_paired_difference_sees_what_unpaired_intervals_hide():
    # b is a with a small constant gain on every question: the two intervals overlap, the paired one
    # excludes zero.
    a = np.linspace(0, 1, 30)
    b = a + 0.05
    boot = Bootstrap(30, "pair")
    (_alo, ahi), (blo, _bhi) = boot.mean_interval(a), boot.mean_interval(b)
    assert blo < ahi  # overlapping
    d = paired_difference(b, a, boot)
    assert d["difference"] == pytest.approx(0.05) and d["ci"][0] > 0


def test_percentile_interval_and_p_value_format():
    assert np.allclose(percentile_interval(np.arange(101.0)), [2.5, 97.5])
    assert format_p(0.0) == "< 0.0001" and format_p(0.0234) == "0.023" and format_p(0.0004) == "4.0e-04"
