"""all-MiniLM-L6-v2 through ONNX Runtime and tokenizers: the embedder of every build, question and replica,
without torch in the process.

The ONNX file is made here from the bundled weights, never downloaded: once per model and machine, in the
cache folder ($IPT_QA_CACHE, else ~/.cache/ipt-qa, as the word-vector table), by `python -m
qa.index.onnx_export` in a child process (the only one that imports torch). Next to it a `.sha256` file
records its digest; a missing or damaged file (other digest, or one ONNX Runtime cannot read) is made again,
and if that fails one line names the file and the command to run. The index manifest records the digest of
the file a build's vectors came from (qa/index/build.py).

Tokens, pooling and normalisation are sentence-transformers' for this model: the bundled tokenizer truncating
at max_seq_length (256, sentence_bert_config.json) and padding to the longest text of a batch, the mean of the
token embeddings under the attention mask (mask sum clamped at 1e-9), then L2 normalisation (norm clamped at
1e-12).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from qa.errors import ModelError
from qa.index.embed import _offline_env, checked_weights
from qa.ingest.corpus import file_sha256
from qa.settings import MODEL_ID, MODEL_SHA256

# int8 dynamic quantization was tried and not kept (bench/RESULTS.md, "Performance III"): fp32 is shipped.
QUANTIZED = False
EXPORT_VERSION = 1  # bump when qa/index/onnx_export.py makes a different graph
EXPORT_SECONDS = 600  # the export takes some 10 s here; a child that hangs is stopped


def cache_dir() -> Path:
    return Path(os.environ.get("IPT_QA_CACHE") or Path.home() / ".cache" / "ipt-qa")


def _torch_version() -> str:
    try:  # read from the installed package's metadata: importing torch is what serving avoids
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def onnx_path(weights_sha256: str = MODEL_SHA256, int8: bool = QUANTIZED) -> Path:
    """Where this machine keeps the ONNX form of these weights."""
    key = f"{MODEL_ID}\0{weights_sha256}\0{'int8' if int8 else 'fp32'}\0{EXPORT_VERSION}\0{_torch_version()}"
    return cache_dir() / f"minilm-{'int8' if int8 else 'fp32'}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _recorded(path: Path) -> str | None:
    """The file's digest as recorded when it was made, when it still has it; else None."""
    try:
        want = path.with_name(path.name + ".sha256").read_text(encoding="ascii").strip()
        return want if path.is_file() and file_sha256(path) == want else None
    except OSError:
        return None


def _export(path: Path, model_dir: Path, int8: bool, say) -> str:
    say(f"making the ONNX form of the embedding model in {path} (once per machine) ...")
    cmd = [sys.executable, "-m", "qa.index.onnx_export", str(path), "--model-dir", str(model_dir),
           *(["--int8"] if int8 else [])]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=EXPORT_SECONDS, check=False)
        ok = done.returncode == 0 and path.is_file()
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, why = False, str(e)
    if not ok:
        raise ModelError(f"{path}: the ONNX model could not be made ({why}); run `{' '.join(cmd)}` to see why")
    digest = file_sha256(path)
    path.with_name(path.name + ".sha256").write_text(digest + "\n", encoding="ascii")
    return digest


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class OnnxEmbedder:
    """The bundled MiniLM's sentence embeddings with ONNX Runtime (same interface as MiniLMEmbedder)."""

    model_id = MODEL_ID
    dim = 384

    def __init__(self, model_dir: str | os.PathLike | None = None, expected_sha256: str = MODEL_SHA256,
                 int8: bool = QUANTIZED, say=_stderr):
        _offline_env()
        import onnxruntime as ort  # deferred: the fast tests' fake embedder needs neither
        from tokenizers import Tokenizer  # deferred with onnxruntime

        model_dir, digest = checked_weights(model_dir, expected_sha256)
        self.weights_sha256 = digest
        self.quantized = int8
        self.onnx_file = onnx_path(digest, int8)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        for attempt in (1, 2):
            self.onnx_sha256 = _recorded(self.onnx_file) or _export(self.onnx_file, model_dir, int8, say)
            try:
                self.session = ort.InferenceSession(str(self.onnx_file), options, providers=["CPUExecutionProvider"])
                break
            except Exception as e:  # noqa: BLE001 - any failure to read the graph means a damaged file
                self.onnx_file.with_name(self.onnx_file.name + ".sha256").unlink(missing_ok=True)
                if attempt == 2:
                    raise ModelError(f"{self.onnx_file}: ONNX Runtime cannot read it ({e}); delete it and "
                                     "start again") from None
        max_tokens = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))[
            "max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
        self._inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first in batches of similar length, as sentence-transformers does: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = self._batch([texts[i] for i in rows])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
        (tokens,) = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        mask = feed["attention_mask"].astype(np.float32)[:, :, None]
        mean = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        return mean / np.clip(norms, 1e-12, None)
