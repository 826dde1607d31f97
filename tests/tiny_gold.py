"""A five-question gold set over the tiny corpus (tests/data/tiny), shared by the run-file and schema tests."""

from __future__ import annotations

from qa.evaluate.gold import GoldAnswer, GoldQuestion

TINY_GOLD = [
    GoldQuestion("a1", "Who created IPT?", "dev", [GoldAnswer("alpha", "Myrna Weissman created")], "named"),
    GoldQuestion("a2", "How long does it last?", "dev", [GoldAnswer("alpha", "12 to 16 weekly sessions")], "named"),
    GoldQuestion("a3", "what are the problem areas", "test", [GoldAnswer("beta", "social isolation")], "named"),
    GoldQuestion("a4", "Is therapy expensive?", "test", [GoldAnswer("beta", "expensive if you pay")], "named"),
    GoldQuestion("x1", "What is the capital of France?", "test", [], "off-topic"),
]
