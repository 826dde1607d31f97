"""Each rule in one place: the range of `k` and the list of search modes are defined once, and every surface
(Searcher, `ipt-qa`, the page's /ask, /api/v1/ask, the evaluation) follows that one definition."""

from __future__ import annotations

import pytest

from qa import settings
from qa.retrieve.query import MODES


def test_every_surface_takes_the_range_of_k_from_settings(monkeypatch, tiny_searcher, tiny_corpus, capsys):
    """Before, the range 1-50 was written out in search.py, cli.py, app.py and routes.py: narrowing it in
    one place left the others as they were."""
    import gradio as gr

    import app
    from qa.cli import main
    from qa.retrieve.query import QuestionError
    from qa.serve.gradio_patches import checked_preprocess
    from qa.serve.inputs import whole_k
    from qa.serve.routes import AskBody

    monkeypatch.setattr(settings, "MAX_K", 3)
    assert tiny_searcher.ask("alpha", k=3).question
    with pytest.raises(QuestionError, match="from 1 to 3, not 4"):
        tiny_searcher.ask("alpha", k=4)
    assert main(["ask", "-k", "4", "alpha"]) == 2  # refused before any model is loaded
    assert "from 1 to 3, not 4" in capsys.readouterr().err
    assert AskBody.model_validate_json('{"question": "alpha", "k": 3}').k == 3
    # One rule on every route: 3.0 is 3 on /api/v1/ask as on the page's /ask (the JSON route refused it alone).
    assert AskBody.model_validate_json('{"question": "alpha", "k": 3.0}').k == 3
    with pytest.raises(ValueError, match="from 1 to 3, not 4"):
        AskBody.model_validate_json('{"question": "alpha", "k": 4}')
    assert whole_k(3.0) == 3
    with pytest.raises(QuestionError, match="from 1 to 3, not 4"):
        whole_k(4)
    with pytest.raises(gr.Error, match="from 1 to 3, not 4"):  # the page's own wiring, in Gradio's words
        checked_preprocess(whole_k)(4)
    # The page's `show` asks with the k it was given, under the same rule (it clamped to 10 in silence).
    asked = []
    searcher = type("Recording", (), {"index": tiny_searcher.index,
                                      "ask": lambda self, q, k, sources: asked.append(k) or tiny_searcher.ask(q)})()
    show = next(f.fn for f in app.build_demo(searcher, tiny_corpus).fns.values() if f.name == "show")
    assert "k must be a whole number from 1 to 3, not 4" in show("alpha", 4, ["alpha"])[0] and asked == []
    show("alpha", 3, ["alpha"])
    assert asked == [3]


@pytest.mark.parametrize("k", [0, 51, 2.5, True, "3", None])
def test_k_problem_names_the_value_in_one_line(k):
    problem = settings.k_problem(k)
    assert problem and problem.startswith("k must be a whole number from 1 to 50, not ") and "\n" not in problem


def test_search_modes_are_one_list():
    from qa.cli import parser
    from qa.evaluate import figures, scoring

    ask = next(a for a in parser()._subparsers._group_actions[0].choices["ask"]._actions if a.dest == "mode")
    ev = next(a for a in parser()._subparsers._group_actions[0].choices["eval"]._actions if a.dest == "modes")
    assert tuple(ask.choices) == tuple(ev.choices) == MODES
    # The evaluation reports the same modes, each retriever alone before their fusion.
    assert scoring.MODES == figures.MODES and set(scoring.MODES) == set(MODES) and scoring.MODES[-1] == "hybrid"
