"""The benchmark package: each section runs its real code on a tiny setup (the tiny corpus, the hash embedder,
the real page served in process), `python -m bench --only` picks sections by number, and the package has
no module shadowing the standard library and no web <-> load-client import cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from app_support import GRADIO_PANDAS_NOISE

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Report  # noqa: E402 - bench/ is found from the project root put on sys.path above

QUESTIONS = ["Who created IPT?", "how long does it last", "what is a role dispute"]


def test_no_bench_module_shadows_the_standard_library():
    # A script run as `python bench/x.py` puts bench/ first on sys.path: a bench/profile.py then replaced the
    # standard library's `profile`, and torch's import of cProfile crashed the script.
    clashes = sorted(p.stem for p in BENCH.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert clashes == []


def test_the_load_clients_do_not_import_the_web_section():
    # bench/web.py and bench/load_client.py imported each other; the clients now live in bench/load.py alone.
    code = "import sys, bench.load; print(sorted(m for m in sys.modules if m.startswith('bench.')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['bench.common', 'bench.load']"



def test_every_name_the_bench_imports_from_qa_exists():
    # The sections import qa lazily, inside functions, so a layout change broke them only when they ran: the
    # replicas section (and query_profile) asked qa.serve.service for DEFAULT_CORPUS after it had moved.
    import ast
    import importlib

    missing = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in (
                    "qa", "app"):
                module = importlib.import_module(node.module)
                is_package = hasattr(module, "__path__")
                missing += [f"{path.name}: {node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                            and not (is_package and importlib.util.find_spec(f"{node.module}.{a.name}"))]
    assert missing == []

@pytest.fixture
def served_tiny(tiny_searcher, tiny_corpus):
    from bench.web import start_app

    demo, url = start_app(tiny_searcher, tiny_corpus)
    try:
        yield url
    finally:
        demo.close()


@pytest.mark.parametrize("via", ["gradio_client", "http", "json"])
@GRADIO_PANDAS_NOISE[0]
@GRADIO_PANDAS_NOISE[1]
def test_load_child_sends_every_request_and_checks_each_answer(served_tiny, via):
    from bench.load import run_child

    out = run_child(served_tiny, 2, 3, via=via, tag="t", timeout=300)
    assert out["errors"] == []
    assert len(out["latencies_ms"]) == 6
    assert out["rps"] > 0


def test_drive_counts_failed_requests_and_goes_on():
    from bench.load import drive

    sent = []

    def send(c, q):
        sent.append(q)
        if q.endswith("1"):
            raise ValueError("refused")

    out = drive(["a", "b"], send, lambda ci, j: f"{ci}{j}", 3)
    assert sorted(sent) == ["00", "01", "02", "10", "11", "12"]
    assert len(out["latencies_ms"]) == 6
    assert out["errors"] == ["ValueError('refused')"] * 2


def test_only_an_answer_record_counts_as_an_answer():
    from bench.load import ask_ok

    assert ask_ok({"passages": [], "abstained": True})
    assert ask_ok('{"passages": [], "abstained": false}')
    assert not ask_ok("Who created IPT?")  # what /echo sends back
    assert not ask_ok({"error": "k must be a whole number"})


def test_latency_section_runs_through_its_stage_breakdown(tiny_searcher, monkeypatch):
    # The stage breakdown called Searcher._answer with one vector after _answer came to take the pair
    # (ranking, judging) from question_vectors: `python -m bench --only 1` crashed after its first figures.
    from bench import latency

    monkeypatch.setattr(latency, "gold_questions", lambda: QUESTIONS * 12)
    embedder = tiny_searcher.embedder
    monkeypatch.setattr(embedder, "model", embedder, raising=False)  # the bare model call is encode itself
    report = Report()
    latency.run(report, tiny_searcher, rounds=1)
    names = [f.name for f in report.figures]
    assert any(n.startswith("stage: candidates()") for n in names), names
    assert any(n.startswith("stage: _answer()") for n in names), names


# --- python -m bench --only ----------------------------------------------------------------------------------


def test_only_picks_sections_by_number_in_topic_order():
    from bench.__main__ import parser

    assert parser().parse_args(["--only", "7,1, 3"]).only == ["1", "3", "7"]
    assert parser().parse_args(["--only", "all"]).only == ["1", "2", "3", "4", "5", "6", "7", "8"]
    # The default run leaves out the replicas (nginx, two more model processes) and builds nothing big.
    default = parser().parse_args([])
    assert default.only == ["1", "2", "3", "4", "5", "7", "8"]
    assert default.scale_corpus == 0


def test_only_refuses_an_unknown_section_in_one_line(capsys):
    from bench.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--only", "5x"])  # the old number of the synthetic scale step
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("argument --only: unknown section(s) 5x; choose from 1, 2, 3, 4, 5, 6, 7, 8 or all")


def test_every_section_is_one_module_that_takes_what_main_passes_it():
    import importlib
    import inspect

    from bench.__main__ import SECTIONS, options, parser

    args = parser().parse_args(["--only", "all"])
    for number, (module, _) in SECTIONS.items():
        mod = importlib.import_module(f"bench.{module}")
        assert number == mod.SECTION, module
        inspect.signature(mod.run).bind(Report(), None, **options(number, args))  # raises TypeError on a mismatch


# --- each section on a tiny setup -----------------------------------------------------------------------------


def test_batching_section_batches_concurrent_callers(tiny_searcher, monkeypatch):
    from bench import batching

    monkeypatch.setattr(batching, "gold_questions", lambda: QUESTIONS * 12)
    embedder = tiny_searcher.embedder
    monkeypatch.setattr(embedder, "model", embedder, raising=False)
    report = Report()
    out = batching.run(report, tiny_searcher, rounds=1, callers=4, per_caller=3, max_batch=4)
    assert [f.name for f in report.figures] == [
        "ask_many(32 questions), per call, question cache off", "ask_many(32 questions), per call",
        "AskBatcher(max_batch=4) throughput, 4 concurrent callers"]
    assert len(out["batched_qps"]) == len(out["alone_qps"]) == 1
    sizes = report.notes[-1][1]
    assert sizes.startswith("questions per model call with the batcher: "), sizes


def test_build_section_times_full_and_incremental_builds(tiny_searcher, tiny_corpus):
    from bench import build

    before = (tiny_corpus / "alpha.txt").read_text(encoding="utf-8")
    report = Report()
    out = build.run(report, tiny_searcher, repeats=2, corpus_dir=tiny_corpus, edited="alpha.txt")
    (fig,) = report.figures
    assert len(fig.values) == len(fig.baseline) == 2
    assert fig.name.startswith("incremental build after editing one source")
    assert f"full build ({out['texts']} texts embedded)" == fig.baseline_name
    assert (tiny_corpus / "alpha.txt").read_text(encoding="utf-8") == before  # edits go to a copy


def test_scale_section_tiles_the_index_and_times_the_query_path(tiny_searcher, monkeypatch):
    from bench import scale

    n = 5 * len(tiny_searcher.index)
    monkeypatch.setattr(scale, "gold_questions", lambda: QUESTIONS)
    report = Report()
    scale.run(report, tiny_searcher, sizes=(n,))
    names = [f.name for f in report.figures]
    assert names[0] == f"ask(q) at {n:,} tiled passages (IndexFlatIP), question cache off"
    assert any(x.startswith("candidates()") for x in names), names
    assert report.notes[-1][1].startswith("corpus step not run")


def test_scale_corpus_step_reuses_the_cached_vectors(tiny_searcher, monkeypatch, tmp_path):
    from bench import scale

    monkeypatch.setenv("IPT_QA_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(scale, "gold_questions", lambda: QUESTIONS)
    first, second = Report(), Report()
    out = scale.corpus_step(first, tiny_searcher, 40, rss_repeats=0)
    assert out["passages"] > 0
    assert any(f.name.startswith(f"full build of {out['passages']:,} synthetic passages") for f in first.figures)
    scale.corpus_step(second, tiny_searcher, 40, rss_repeats=0)
    cache_note = next(t for _, t in second.notes if "vector cache" in t)
    assert " 0 texts embedded by the model" in cache_note, cache_note


@GRADIO_PANDAS_NOISE[0]
@GRADIO_PANDAS_NOISE[1]
def test_web_section_runs_on_the_tiny_index(tiny_searcher):
    from bench import web

    report = Report()
    out = web.run(report, tiny_searcher, n_clients=2, total=4, single=2, rounds=1, questions=QUESTIONS)
    assert out["errors"] == []
    assert out["sent"] == 2 + 2 * 4 + 1 + 2 * 1
    assert len(report.figures) == 6


def test_the_replicas_section_uses_only_what_deploy_replicas_provides():
    # deploy/replicas.py was rewritten around supervisord (issue 30) and its Supervisor class went: the
    # section, opt-in and so rarely run, must not call a name that is gone.
    import ast
    import importlib.util

    spec = importlib.util.spec_from_file_location("deploy_replicas", ROOT / "deploy" / "replicas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    used = {node.attr for node in ast.walk(ast.parse((BENCH / "replicas.py").read_text(encoding="utf-8")))
            if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute))
            and (getattr(node.value, "id", None) == "replicas" or getattr(node.value, "attr", None) == "mod")}
    assert used and not [name for name in used if not hasattr(mod, name)]
