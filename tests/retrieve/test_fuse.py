"""qa.retrieve.fuse writes out convex fusion for speed; here they are checked against ranx.fusion, which the
design names as the reference, on a small hand-made pair of runs (in the manner of ranx's own tests)."""

from __future__ import annotations

import warnings

import pytest

from qa.retrieve.fuse import convex, min_max, ranked

ranx = pytest.importorskip("ranx")
warnings.filterwarnings("ignore", message=".*unsafe cast.*")

# Two retrievers' scores for one query; documents are numbered as passages are.
#
#   run A (e.g. dense)        run B (e.g. BM25)
#   rank doc score            rank doc score
#   1    1   0.90             1    3   12.0
#   2    2   0.70             2    4    7.0
#   3    3   0.40             3    1    3.0
#   4    5   0.10             4    6    1.0
#
# Doc 1 is 1st and 3rd, doc 3 is 3rd and 1st; doc 2 and doc 4 are each 2nd in one run only; 5 and 6 are last.
RUN_A = {1: 0.90, 2: 0.70, 3: 0.40, 5: 0.10}
RUN_B = {3: 12.0, 4: 7.0, 1: 3.0, 6: 1.0}


def as_ranx(run: dict[int, float]):
    return ranx.Run({"q1": {f"d{d}": float(s) for d, s in run.items()}})


def from_ranx(run) -> dict[int, float]:
    return {int(d[1:]): float(s) for d, s in run["q1"].items()}


def ranking(run: dict[int, float]) -> list[int]:
    return [d for d, _ in ranked(run)]


@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.6, 0.4), (0.9, 0.1), (1.0, 0.0)])
def test_convex_matches_ranx_weighted_sum_of_min_max(weights):
    ours = convex([RUN_A, RUN_B], list(weights))
    theirs = from_ranx(ranx.fuse(runs=[as_ranx(RUN_A), as_ranx(RUN_B)], norm="min-max", method="wsum",
                                 params={"weights": list(weights)}))
    assert ours.keys() == theirs.keys()
    for d in ours:
        assert ours[d] == pytest.approx(theirs[d], abs=1e-9), d


def test_convex_by_hand():
    # A: (s - 0.1) / 0.8; B: (s - 1) / 11. Doc 1: 0.6 * 1 + 0.4 * 2/11; doc 4 (missing from A): 0.4 * 6/11.
    ours = convex([RUN_A, RUN_B], [0.6, 0.4])
    assert ours[1] == pytest.approx(0.6 + 0.4 * 2 / 11)
    assert ours[4] == pytest.approx(0.4 * 6 / 11)
    assert ours[5] == pytest.approx(0.0) and ours[6] == pytest.approx(0.0)
    assert ranking(ours)[:2] == [1, 3]


def test_min_max():
    assert min_max({}) == {}
    assert min_max({7: 2.0, 8: 2.0}) == {7: 1.0, 8: 1.0}  # all equal: all count as best
    assert min_max({1: -1.0, 2: 0.0, 3: 3.0}) == {1: 0.0, 2: pytest.approx(0.25), 3: 1.0}


def test_ties_are_ordered_by_document_number_whatever_the_insertion_order():
    scores = {9: 0.5, 3: 1.0, 7: 1.0, 1: 0.5, 5: 1.0}
    assert ranked(scores) == [(3, 1.0), (5, 1.0), (7, 1.0), (1, 0.5), (9, 0.5)]
    assert ranked(dict(reversed(list(scores.items())))) == ranked(scores)


def test_empty_runs():
    assert convex([{}, {}], [0.5, 0.5]) == {}
    assert ranked({}) == []
