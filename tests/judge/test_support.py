"""Per-word support and name cues (qa/judge/support.py, qa/judge/cues.py)."""

from __future__ import annotations

import numpy as np

from qa.judge.cues import name_absent, names_in
from qa.judge.support import own_words, word_support

TOPIC = frozenset({"ipt", "interperson"})


def test_own_words_drop_stop_words_topic_words_and_repeats():
    assert own_words("Can I do IPT with a video video call?", TOPIC) == ["video", "call"]
    assert own_words("what is ipt", TOPIC) == []


def test_support_is_each_words_best_match_weakest_and_mean():
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    row = {"video": 0, "zoom": 1, "call": 2, "session": 3}
    passage = np.array([0, 3])  # the passages hold "video" and "session"
    low, mean = word_support(["zoom", "video"], passage, vectors, row)
    assert (low, mean) == (0.0, 0.5)
    low, mean = word_support(["call", "unknownword"], passage, vectors, row)
    assert low == 0.0 and abs(mean - 0.3) < 1e-6
    assert word_support([], passage, vectors, row) == (1.0, 1.0)
    assert word_support(["video"], np.array([], dtype=np.int64), vectors, row) == (0.0, 0.0)


def test_names_are_acronyms_and_capitalised_words_not_the_first_word():
    assert names_in("Is IPT covered by Medicare or the NHS?") == ["ipt", "medicare", "nhs"]
    assert names_in("What is DBTs focus") == ["dbt"]
    assert names_in("how long does it take") == []


def test_a_name_the_passages_never_mention_is_a_cue():
    passages = ["IPT was created by Klerman and Weissman.", "CBT and IPT compared."]
    assert name_absent("Does the NHS offer IPT?", passages, TOPIC) == 1.0
    assert name_absent("Did Weissman create it?", passages, TOPIC) == 0.0
    assert name_absent("how does it compare with cbt", passages, TOPIC) == 0.0
