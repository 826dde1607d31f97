"""The ONNX form of the bundled model (qa/index/onnx_embed.py): made in the cache folder, checked by its
SHA-256, remade when damaged, named in one line when it cannot be made; serving never imports torch; and the
ONNX path gives the torch path's vectors and rankings on the gold questions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError
from qa.index import onnx_embed
from qa.ingest.corpus import file_sha256

ROOT = Path(__file__).resolve().parents[2]


def _flip_middle_byte(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))


def test_the_file_lives_in_the_cache_folder_named_by_model_and_form(tmp_path, monkeypatch):
    monkeypatch.setenv("IPT_QA_CACHE", str(tmp_path))
    fp32, int8 = onnx_embed.onnx_path("a" * 64, int8=False), onnx_embed.onnx_path("a" * 64, int8=True)
    assert fp32.parent == tmp_path and fp32.suffix == ".onnx" and "fp32" in fp32.name
    assert int8 != fp32 and onnx_embed.onnx_path("b" * 64) != fp32


def test_a_file_counts_only_while_it_has_its_recorded_digest(tmp_path):
    path = tmp_path / "m.onnx"
    assert onnx_embed._recorded(path) is None  # missing
    path.write_bytes(b"graph bytes" * 100)
    assert onnx_embed._recorded(path) is None  # no digest recorded
    (tmp_path / "m.onnx.sha256").write_text(file_sha256(path) + "\n")
    assert onnx_embed._recorded(path) == file_sha256(path)
    _flip_middle_byte(path)
    assert onnx_embed._recorded(path) is None  # damaged


def test_an_export_that_fails_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_embed.sys, "executable", shutil.which("false") or "/bin/false")
    said: list[str] = []
    with pytest.raises(ModelError) as err:
        onnx_embed._export(tmp_path / "m.onnx", tmp_path, False, said.append)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "m.onnx") in message and "qa.index.onnx_export" in message
    assert said and "once per machine" in said[0]
    assert not (tmp_path / "m.onnx.sha256").exists()


@pytest.mark.model  # exports the bundled model (some 10 s)
def test_a_damaged_or_missing_file_is_made_again(real_embedder, tmp_path, monkeypatch):
    from qa.index.onnx_embed import OnnxEmbedder

    monkeypatch.setenv("IPT_QA_CACHE", str(tmp_path))
    path = onnx_embed.onnx_path(real_embedder.weights_sha256)
    shutil.copyfile(real_embedder.onnx_file, path)
    path.with_name(path.name + ".sha256").write_text(real_embedder.onnx_sha256)
    _flip_middle_byte(path)
    said: list[str] = []
    again = OnnxEmbedder(say=said.append)
    assert said and again.onnx_file == path and file_sha256(path) == again.onnx_sha256
    texts = ["Who created IPT?", "How long does interpersonal psychotherapy last?"]
    assert np.allclose(again.encode(texts), real_embedder.encode(texts), atol=1e-5)
    path.unlink()
    OnnxEmbedder(say=said.append)
    assert len(said) == 2 and path.is_file()


NO_TORCH = """
import sys
{body}
loaded = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
print("loaded:", loaded)
"""


def _run(body: str, tmp_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", NO_TORCH.format(body=body)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.model
def test_ipt_qa_ask_answers_without_importing_torch(real_index_dir, tmp_path):
    out = _run(f"from qa.cli import main\nassert main(['ask', 'Who created IPT?', '--json', '--index', "
               f"{str(real_index_dir)!r}, '--corpus', {str(ROOT / 'corpus')!r}]) == 0", tmp_path)
    assert '"outcome"' in out and "loaded: []" in out


@pytest.mark.model
def test_the_page_and_its_api_are_served_without_importing_torch(real_index_dir, tmp_path):
    # What `python app.py`/`ipt-qa serve` does before launching: open the searcher, build the page and routes.
    out = _run(f"import app\nfrom qa import open_searcher\n"
               f"s = open_searcher({str(real_index_dir)!r}, {str(ROOT / 'corpus')!r}, rebuild='never')\n"
               f"app.build_demo(s, {str(ROOT / 'corpus')!r})\nassert s.ask('Who created IPT?').passages",
               tmp_path)
    assert "loaded: []" in out


@pytest.mark.model
def test_onnx_and_torch_agree_on_the_gold_questions(real_searcher, real_embedder, torch_embedder):
    """The vectors of the gold questions and of the passages agree to a cosine of 0.999, and each question's
    top five passages are the same for at least 98% of the gold questions (the index being the same)."""
    from qa.evaluate.gold import load_gold
    from qa.search import Searcher

    questions = [g.question for g in load_gold(ROOT / "eval" / "gold.jsonl")]
    index = real_searcher.index
    for texts in (questions, [p.context for p in index.passages]):
        cos = np.sum(real_embedder.encode(texts) * torch_embedder.encode(texts), axis=1)
        assert cos.min() >= 0.999
    with_torch = Searcher(index, torch_embedder, real_searcher.settings)
    same = 0
    for onnx_answer, torch_answer in zip(real_searcher.ask_many(questions), with_torch.ask_many(questions),
                                         strict=True):
        same += [(h.source_id, h.start) for h in onnx_answer.passages] == \
            [(h.source_id, h.start) for h in torch_answer.passages]
    assert same >= 0.98 * len(questions)
